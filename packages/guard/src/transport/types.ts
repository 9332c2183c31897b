// How the guard talks HTTP to the auth-service. Injectable so the core stays free of
// Node-only modules: Node entries plug in an undici Pool, the Next.js (Edge) entry
// plugs in fetch.

export interface TransportRequest {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Deadline for the whole exchange, connect to last body byte. */
  timeoutMs: number;
  /** Larger answers are abandoned (TransportError "too_large"). */
  maxBodyBytes: number;
}

export interface TransportResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: string;
}

export interface Transport {
  /** Resolves with any HTTP answer (also 4xx/5xx); rejects with TransportError when there is none. */
  request(request: TransportRequest): Promise<TransportResponse>;
  /** Releases connections. Later requests reject. */
  close(): Promise<void>;
}

export type TransportErrorKind = "timeout" | "network" | "too_large" | "closed";

/** No usable HTTP answer. The guard reports every kind as 503, never as 401. */
export class TransportError extends Error {
  override readonly name = "TransportError";
  readonly kind: TransportErrorKind;

  constructor(kind: TransportErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
  }
}
