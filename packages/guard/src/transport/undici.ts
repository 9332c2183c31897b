// Transport on a keep-alive undici Pool per origin: the session path calls the
// auth-service on every uncached request, and a pooled client costs far less CPU per
// call than the global fetch. Node only; the Next.js entry never imports this file.
import { networkErrorCode, STALE_SOCKET_CODES } from "@gatehouse/kratos";
import { Pool } from "undici";
import { type Transport, TransportError, type TransportRequest, type TransportResponse } from "./types.ts";

export interface UndiciTransportOptions {
  /** Keep-alive connections per origin. Default 32. */
  connections?: number;
  /** Idle keep-alive sockets are closed after this long. Default 10 000 ms. */
  keepAliveTimeoutMs?: number;
}

export function undiciTransport(options: UndiciTransportOptions = {}): Transport {
  const connections = options.connections ?? 32;
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? 10_000;
  if (!Number.isSafeInteger(connections) || connections < 1) {
    throw new TypeError("undiciTransport: connections must be a positive integer");
  }
  const pools = new Map<string, Pool>();
  let closed = false;

  function poolFor(origin: string, timeoutMs: number): Pool {
    let pool = pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections,
        keepAliveTimeout,
        connect: { timeout: timeoutMs },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      pools.set(origin, pool);
    }
    return pool;
  }

  async function once(req: TransportRequest, url: URL, signal: AbortSignal): Promise<TransportResponse> {
    const pool = poolFor(url.origin, req.timeoutMs);
    const res = await pool.request({
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers: req.headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > req.maxBodyBytes) {
        res.body.destroy();
        throw new TransportError("too_large", `answer larger than ${req.maxBodyBytes} bytes`);
      }
      chunks.push(buf);
    }
    const headers = res.headers;
    return {
      status: res.statusCode,
      headers: {
        get(name: string): string | null {
          const v = headers[name.toLowerCase()];
          if (v === undefined) return null;
          return Array.isArray(v) ? v.join(", ") : v;
        },
      },
      body: Buffer.concat(chunks).toString("utf8"),
    };
  }

  return {
    async request(req: TransportRequest): Promise<TransportResponse> {
      if (closed) throw new TransportError("closed", "transport is closed");
      const url = new URL(req.url);
      // One deadline for the whole call, retries included.
      const signal = AbortSignal.timeout(req.timeoutMs);
      for (let attempt = 0; ; attempt++) {
        try {
          return await once(req, url, signal);
        } catch (err) {
          if (err instanceof TransportError) throw err;
          if (signal.aborted)
            throw new TransportError("timeout", `no answer within ${req.timeoutMs} ms`, { cause: err });
          const code = networkErrorCode(err);
          if (
            code === "UND_ERR_HEADERS_TIMEOUT" ||
            code === "UND_ERR_BODY_TIMEOUT" ||
            code === "UND_ERR_CONNECT_TIMEOUT"
          ) {
            throw new TransportError("timeout", `no answer within ${req.timeoutMs} ms`, { cause: err });
          }
          // A stale keep-alive socket: the exchange is idempotent for the caller, so retry once.
          if (attempt === 0 && STALE_SOCKET_CODES.has(code)) continue;
          throw new TransportError("network", `request failed (${code})`, { cause: err });
        }
      }
    },
    async close() {
      closed = true;
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((p) => p.close().catch(() => p.destroy())));
    },
  };
}
