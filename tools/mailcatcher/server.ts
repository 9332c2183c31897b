// A small mail catcher for development and tests. Kratos' courier delivers
// verification and recovery codes here over SMTP; a person reads them at
// http://localhost:<MAIL_HTTP_PORT>/ and a test reads them from /api/messages.
// Messages live in memory and are bounded, so a long dev session cannot grow it.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface CaughtMessage {
  id: string;
  receivedAt: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
}

const MAX_MESSAGES = 500;
const MAX_SIZE = 1024 * 1024;

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) {
    console.error(`mailcatcher: ${name} must be a port number, got "${raw}"`);
    process.exit(2);
  }
  return n;
}

const smtpPort = port("MAIL_SMTP_PORT", 7425);
const httpPort = port("MAIL_HTTP_PORT", 7480);
const host = process.env.MAIL_HOST ?? "127.0.0.1";
const messages: CaughtMessage[] = [];

const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  size: MAX_SIZE,
  logger: false,
  onData(stream, session, callback) {
    simpleParser(stream)
      .then((mail) => {
        const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        messages.push({
          id: randomUUID(),
          receivedAt: new Date().toISOString(),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to,
          subject: mail.subject ?? "",
          text: mail.text ?? "",
          html: typeof mail.html === "string" ? mail.html : "",
        });
        if (messages.length > MAX_MESSAGES) messages.splice(0, messages.length - MAX_MESSAGES);
        console.log(JSON.stringify({ msg: "mail received", to, subject: mail.subject }));
        callback();
      })
      .catch((err: Error) => callback(err));
  },
});

function send(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const payload = type === "application/json" ? JSON.stringify(body) : String(body);
  res.writeHead(status, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-store" });
  res.end(payload);
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

function page(): string {
  const rows = [...messages]
    .reverse()
    .map(
      (m) => `<article><header><strong>${escapeHtml(m.subject)}</strong>
        <span>to ${escapeHtml(m.to.join(", "))} · ${escapeHtml(m.receivedAt)}</span></header>
        <pre>${escapeHtml(m.text)}</pre></article>`,
    )
    .join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gatehouse mail</title>
<meta http-equiv="refresh" content="5">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d2433}
article{border:1px solid #d8dee9;border-radius:8px;padding:1rem;margin:1rem 0}header span{color:#5c6473;margin-left:.5rem;font-size:.9em}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.75rem;border-radius:6px}</style></head>
<body><h1>Mail caught by the local stack</h1><p>${messages.length} message(s). Newest first; the page refreshes every 5 s.</p>
${rows || "<p>No mail yet. Register in the app and the verification code appears here.</p>"}</body></html>`;
}

function route(req: IncomingMessage, url: URL): [number, unknown, string?] {
  if (req.method === "GET" && url.pathname === "/api/health") return [200, { status: "ok" }];
  if (url.pathname === "/api/messages") {
    if (req.method === "GET") {
      const to = url.searchParams.get("to")?.toLowerCase();
      return [200, to ? messages.filter((m) => m.to.includes(to)) : messages];
    }
    if (req.method === "DELETE") {
      messages.length = 0;
      return [200, { deleted: true }];
    }
    return [405, { error: "method_not_allowed", message: "use GET or DELETE" }];
  }
  if (req.method === "GET" && url.pathname === "/") return [200, page(), "text/html"];
  return [404, { error: "not_found", message: `no route ${url.pathname}` }];
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const [status, body, type] = route(req, new URL(req.url ?? "/", "http://mail.local"));
  send(res, status, body, type);
}

const http = createServer(handle);
smtp.listen(smtpPort, host, () => {
  http.listen(httpPort, host, () => {
    console.log(JSON.stringify({ msg: "mailcatcher listening", smtp: smtpPort, http: httpPort }));
  });
});
smtp.on("error", (e) => console.error(JSON.stringify({ msg: "smtp error", error: e.message })));

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    http.close();
    smtp.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  });
}
