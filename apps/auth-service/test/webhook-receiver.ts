// A real webhook receiver for the event tests: an HTTP server that verifies every
// request with the published `standardwebhooks` library (as a subscriber would) and
// answers as told: 204, 500, or never (to be killed mid-delivery).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  id: string;
  timestamp: string;
  body: string;
  event: { id: string; type: string; sequence: string; organization_id: string | null; [k: string]: unknown };
}

export interface Receiver {
  url: string;
  port: number;
  /** Verified deliveries, in arrival order (a request that failed verification is not here). */
  received: Received[];
  /** Requests whose signature did not verify. */
  rejected: number;
  mode: "ok" | "fail" | "hang";
  /** How long it takes to answer, ms (a slow receiver keeps deliveries in flight). */
  delayMs: number;
  secret: string;
  kill(): Promise<void>;
}

const read = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};

export async function startReceiver(port = 0, mode: Receiver["mode"] = "ok"): Promise<Receiver> {
  const r: Receiver = {
    url: "",
    port: 0,
    received: [],
    rejected: 0,
    mode,
    delayMs: 0,
    secret: "",
    kill: async () => {},
  };
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    // Not told its secret yet (a subscription's own "created" event can beat the test to it): not ready.
    if (r.secret === "") {
      res.writeHead(503).end();
      return;
    }
    try {
      const event = new Webhook(r.secret).verify(body, req.headers as Record<string, string>) as Received["event"];
      r.received.push({
        id: String(req.headers["webhook-id"]),
        timestamp: String(req.headers["webhook-timestamp"]),
        body,
        event,
      });
    } catch {
      r.rejected += 1;
      res.writeHead(400).end();
      return;
    }
    if (r.mode === "hang") return; // never answers: the sender times out or dies first
    if (r.delayMs > 0) await new Promise((done) => setTimeout(done, r.delayMs));
    res.writeHead(r.mode === "ok" ? 204 : 500).end();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  r.kill = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return r;
}
