// One HTTP call of the chaos load: keep-alive connections (as browsers and services
// keep them), a bound on every wait, and an answer that is never an exception: a
// refused or reset connection, or a timeout, is an outcome like a status.
import { Agent, request } from "undici";

/** Undici's pool per origin; 40 clients at most in flight, so 64 is never the bottleneck. */
const agent = new Agent({ connections: 64, keepAliveTimeout: 4_000, connect: { timeout: 5_000 } });

export interface Answer {
  /** The status, or 0 when there was none (see `error`). */
  status: number;
  /** "ECONNREFUSED", "ECONNRESET", "timeout", …: why there is no status. */
  error?: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  startedAt: number;
  ms: number;
}

const TIMEOUT_MS = 10_000;

export async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; json?: unknown } = {},
): Promise<Answer> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers["content-type"] = "application/json";
  }
  try {
    const r = await request(url, {
      method: (init.method ?? (body === undefined ? "GET" : "POST")) as "GET",
      headers,
      body: body ?? null,
      dispatcher: agent,
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
    const text = await r.body.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { text: text.slice(0, 200) };
    }
    return { status: r.statusCode, headers: r.headers, body: parsed, startedAt, ms: performance.now() - t0 };
  } catch (e) {
    const err = e as { code?: string; cause?: { code?: string }; message?: string };
    const code = err.cause?.code ?? err.code ?? err.message ?? "error";
    return {
      status: 0,
      error: /TIMEOUT/i.test(code) ? "timeout" : code.replace(/^UND_ERR_/, ""),
      headers: {},
      body: {},
      startedAt,
      ms: performance.now() - t0,
    };
  }
}

/** The Set-Cookie values of an answer. */
export function setCookies(a: Answer): string[] {
  const v = a.headers["set-cookie"];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export async function closeClients(): Promise<void> {
  await agent.close();
}
