// Transport on the global fetch: Web APIs only, so it runs in the Edge runtime.
import { type Transport, TransportError, type TransportRequest, type TransportResponse } from "./types.ts";

export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface FetchTransportOptions {
  /** Defaults to the global fetch. */
  fetch?: FetchFunction;
}

export function fetchTransport(options: FetchTransportOptions = {}): Transport {
  const doFetch: FetchFunction = options.fetch ?? ((input, init) => fetch(input, init));
  let closed = false;

  return {
    async request(req: TransportRequest): Promise<TransportResponse> {
      if (closed) throw new TransportError("closed", "transport is closed");
      // AbortController + setTimeout rather than AbortSignal.timeout: available in
      // every runtime we target, and the timer is cleared as soon as we are done.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), req.timeoutMs);
      try {
        let response: Response;
        try {
          response = await doFetch(req.url, {
            method: req.method,
            headers: req.headers,
            ...(req.body !== undefined ? { body: req.body } : {}),
            // A redirect from the auth-service is never a valid answer; do not follow it.
            redirect: "manual",
            signal: controller.signal,
            cache: "no-store",
          });
        } catch (cause) {
          throw controller.signal.aborted
            ? new TransportError("timeout", `no answer within ${req.timeoutMs} ms`, { cause })
            : new TransportError("network", "request failed", { cause });
        }
        const body = await readLimited(response, req.maxBodyBytes, controller, req.timeoutMs);
        return { status: response.status, headers: response.headers, body };
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      closed = true;
    },
  };
}

async function readLimited(
  response: Response,
  max: number,
  controller: AbortController,
  timeoutMs: number,
): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw new TransportError("too_large", `answer larger than ${max} bytes`);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof TransportError) throw cause;
    throw controller.signal.aborted
      ? new TransportError("timeout", `no complete answer within ${timeoutMs} ms`, { cause })
      : new TransportError("network", "answer was cut off", { cause });
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}
