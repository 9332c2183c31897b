// The one place Gatehouse talks to Kratos. whoami runs on every uncached request,
// so it goes over a keep-alive undici Pool (global fetch costs ~3x the CPU per
// call); the admin calls are rare and share the same machinery.
//
// Endpoints and shapes are those of the Kratos v1.3.1 OpenAPI spec
// (toSession, disableSession, deleteIdentitySessions, getIdentity,
// listIdentitySessions, isReady) and were checked against a running v1.3.1.
import type { IncomingHttpHeaders } from "node:http";
import { Pool } from "undici";
import {
  DEFAULT_SESSION_COOKIE,
  isValidCookieValue,
  isValidToken,
  type KratosCredential,
  looksLikeKratosSession,
} from "./credentials.ts";
import { KratosError, networkErrorCode, parseRetryAfter, STALE_SOCKET_CODES } from "./errors.ts";
import {
  type KratosIdentity,
  type KratosSession,
  mapIdentity,
  mapSession,
  mapSessionSummary,
  type SessionSummary,
} from "./session.ts";

export interface KratosClientOptions {
  /** Kratos public API base URL, e.g. http://127.0.0.1:4433 (a path prefix is kept). */
  publicUrl: string;
  /** Kratos admin API base URL, e.g. http://127.0.0.1:4434. Never expose it publicly. */
  adminUrl: string;
  /** Name of Kratos' session cookie (session.cookie.name). Default "ory_kratos_session". */
  cookieName?: string;
  /** Deadline for one call, connect to last body byte. Default 3000 ms. */
  timeoutMs?: number;
  /** Keep-alive connections per Kratos origin. Default 32. */
  connections?: number;
  /**
   * How long a readiness answer is trusted when deciding whether to believe a whoami
   * 401 (see whoami). Default 1000 ms.
   */
  readinessCacheMs?: number;
}

export interface ListSessionsOptions {
  /**
   * "active" (default): the sessions still signed in, the ones worth revoking;
   * "inactive": the ones already revoked (e.g. by Kratos' revoke_active_sessions hook); "any".
   */
  state?: "active" | "inactive" | "any";
  /** Sessions per admin request, 1..1000. Default 1000. */
  pageSize?: number;
}

export interface KratosClient {
  /**
   * Verifies a session cookie or token with Kratos. Rejects with a KratosError.
   *
   * Kratos answers whoami with 401 for every session while its own database is down.
   * A 401 for a credential shaped like a session Kratos issued (looksLikeKratosSession)
   * is believed only when Kratos' readiness check (which pings its database) passes;
   * otherwise it is 'unavailable', never 'unauthenticated'. The readiness answer is
   * cached for readinessCacheMs and one probe serves every caller meanwhile, so a burst
   * of 401s costs at most one extra call a second.
   */
  whoami(cred: KratosCredential): Promise<KratosSession>;
  /** Revokes one session. An unknown session counts as already revoked. */
  revokeSession(sessionId: string): Promise<void>;
  /** Revokes (deletes) every session of an identity. No sessions / unknown identity is fine. */
  revokeIdentitySessions(identityId: string): Promise<void>;
  /** The identity, or undefined when Kratos does not know it. */
  getIdentity(identityId: string): Promise<KratosIdentity | undefined>;
  /** The id of the identity holding this login identifier (e.g. an email), or undefined. */
  findIdentityId(identifier: string): Promise<string | undefined>;
  /** Ids of the identity's sessions (all pages). Unknown identity → []. */
  listIdentitySessions(identityId: string, options?: ListSessionsOptions): Promise<string[]>;
  /** The identity's active sessions as a person may see them (devices, times, aal). Unknown identity → []. */
  listSessionSummaries(identityId: string): Promise<SessionSummary[]>;
  /** True when Kratos' admin /health/ready answers 200 (database reachable). Never rejects. */
  ready(): Promise<boolean>;
  /** Closes the connection pools; later calls reject with 'unavailable'. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_CONNECTIONS = 32;
const READY_TIMEOUT_MS = 1000;
const DEFAULT_READINESS_CACHE_MS = 1000;
// Kratos idles keep-alive connections out after minutes; 10 s stays well below,
// so we rarely send on a socket the server is closing.
const KEEP_ALIVE_MS = 10_000;
const MAX_SESSION_BODY = 256 * 1024;
const MAX_LIST_BODY = 32 * 1024 * 1024;
const MAX_LIST_PAGES = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 6265 cookie-name = RFC 9110 token.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface Endpoint {
  pool: Pool;
  /** Path of the base URL without trailing slash ("" or e.g. "/kratos"). */
  prefix: string;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

interface CallOptions {
  op: string;
  method: "GET" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  maxBody: number;
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function positiveInt(v: number | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`createKratosClient: ${what} must be a positive integer`);
  return v;
}

async function readBody(body: AsyncIterable<Buffer> & { destroy(): void }, max: number, op: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new KratosError("unavailable", `Kratos ${op}: response larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string, op: string, status: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new KratosError("unavailable", `Kratos ${op} answered ${status} with a body that is not JSON`, { status });
  }
}

/** Maps a non-success answer. Only ids and status codes go into messages. */
function statusError(op: string, reply: Reply, userCredential: boolean): KratosError {
  const { status } = reply;
  let errorId: string | undefined;
  let redirect: string | undefined;
  try {
    const body = JSON.parse(reply.text) as unknown;
    if (typeof body === "object" && body !== null) {
      const b = body as {
        error?: { id?: unknown; details?: { redirect_browser_to?: unknown } };
        redirect_browser_to?: unknown;
      };
      if (typeof b.error?.id === "string" && /^[a-z0-9_]{1,64}$/.test(b.error.id)) errorId = b.error.id;
      const r = b.redirect_browser_to ?? b.error?.details?.redirect_browser_to;
      if (typeof r === "string" && r !== "") redirect = r;
    }
  } catch {
    // Error bodies from a proxy in front of Kratos are often HTML; the status is enough.
  }
  const retryAfterSec = parseRetryAfter(header(reply.headers, "retry-after"));
  const base = {
    status,
    ...(errorId !== undefined ? { kratosErrorId: errorId } : {}),
    ...(retryAfterSec !== undefined ? { retryAfterSec } : {}),
  };
  const what = `Kratos ${op} answered ${status}${errorId ? ` (${errorId})` : ""}`;

  if (status === 429) return new KratosError("rate_limited", what, base);
  if (status >= 500) return new KratosError("unavailable", what, base);
  if (userCredential && status === 401) return new KratosError("unauthenticated", what, base);
  if (userCredential && status === 403 && errorId === "session_aal2_required") {
    return new KratosError("aal2_required", what, {
      ...base,
      ...(redirect !== undefined ? { redirectBrowserTo: redirect } : {}),
    });
  }
  // Admin 401/403 would mean a proxy demanding credentials: our misconfiguration,
  // not the user's session, so it must not read as 'unauthenticated'.
  if (status >= 400) return new KratosError("bad_request", what, base);
  // 1xx/3xx/unexpected 2xx: no usable answer.
  return new KratosError("unavailable", what, base);
}

function requireUuid(id: string, what: string): string {
  if (typeof id !== "string" || !UUID.test(id)) throw new KratosError("bad_request", `${what} must be a UUID`);
  return id.toLowerCase();
}

export function createKratosClient(options: KratosClientOptions): KratosClient {
  const timeoutMs = positiveInt(options.timeoutMs, DEFAULT_TIMEOUT_MS, "timeoutMs");
  const connections = positiveInt(options.connections, DEFAULT_CONNECTIONS, "connections");
  const cookieName = options.cookieName ?? DEFAULT_SESSION_COOKIE;
  const readinessCacheMs = options.readinessCacheMs ?? DEFAULT_READINESS_CACHE_MS;
  if (!Number.isFinite(readinessCacheMs) || readinessCacheMs < 0)
    throw new TypeError("createKratosClient: readinessCacheMs must be a number >= 0");
  if (!COOKIE_NAME.test(cookieName)) throw new TypeError("createKratosClient: cookieName is not a valid cookie name");

  // One pool per origin, shared when public and admin are served from the same origin.
  const pools = new Map<string, Pool>();
  function endpoint(raw: string, what: string): Endpoint {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new TypeError(`createKratosClient: ${what} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`createKratosClient: ${what} must be http(s)`);
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new TypeError(`createKratosClient: ${what} must not carry credentials, a query or a fragment`);
    }
    let pool = pools.get(url.origin);
    if (!pool) {
      pool = new Pool(url.origin, {
        connections,
        pipelining: 1,
        keepAliveTimeout: KEEP_ALIVE_MS,
        connect: { timeout: timeoutMs },
        // Backstops for the per-call AbortSignal deadline.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      pools.set(url.origin, pool);
    }
    return { pool, prefix: url.pathname.replace(/\/+$/, "") };
  }
  const pub = endpoint(options.publicUrl, "publicUrl");
  const admin = endpoint(options.adminUrl, "adminUrl");

  async function call(ep: Endpoint, o: CallOptions): Promise<Reply> {
    // One deadline for the whole call, including a retry and reading the body.
    const signal = AbortSignal.timeout(o.timeoutMs);
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await ep.pool.request({
          method: o.method,
          path: ep.prefix + o.path,
          headers: { accept: "application/json", ...o.headers },
          signal,
          headersTimeout: o.timeoutMs,
          bodyTimeout: o.timeoutMs,
        });
        // Always consume the body (even of 204 / errors): an unread body pins the connection.
        // A declared length within the limit (Go's net/http declares it for any answer
        // under 4 KB, e.g. whoami) is read in one go: cheaper than iterating chunks.
        const declared = Number(res.headers["content-length"]);
        const text =
          res.headers["content-length"] !== undefined && declared <= o.maxBody
            ? await res.body.text()
            : await readBody(res.body, o.maxBody, o.op);
        return { status: res.statusCode, headers: res.headers, text };
      } catch (err) {
        if (err instanceof KratosError) throw err;
        const code = networkErrorCode(err);
        if (signal.aborted || /^UND_ERR_\w*TIMEOUT$/.test(code)) {
          throw new KratosError("unavailable", `Kratos ${o.op} timed out after ${o.timeoutMs} ms`, { cause: err });
        }
        // Every call here is idempotent (GET, DELETE): one retry on a stale keep-alive socket is safe.
        if (attempt === 0 && STALE_SOCKET_CODES.has(code)) continue;
        throw new KratosError("unavailable", `Kratos ${o.op} failed: ${code}`, { cause: err });
      }
    }
  }

  async function whoami(cred: KratosCredential): Promise<KratosSession> {
    let headers: Record<string, string>;
    // Re-checked here because callers may build credentials by hand; a value that
    // cannot be a Kratos credential is answered without asking Kratos.
    if (cred.kind === "cookie" && isValidCookieValue(cred.value)) {
      // Only the Kratos cookie, never the rest of the browser's cookies.
      headers = { cookie: `${cookieName}=${cred.value}` };
    } else if (cred.kind === "token" && isValidToken(cred.value)) {
      headers = { "x-session-token": cred.value };
    } else {
      throw new KratosError("unauthenticated", "the credential is not a well-formed Kratos session cookie or token");
    }
    const reply = await call(pub, {
      op: "whoami",
      method: "GET",
      path: "/sessions/whoami",
      headers,
      timeoutMs,
      maxBody: MAX_SESSION_BODY,
    });
    if (reply.status === 401 && looksLikeKratosSession(cred) && !(await readiness())) {
      throw new KratosError("unavailable", "Kratos answered whoami 401 while it reports itself not ready", {
        status: 401,
      });
    }
    if (reply.status !== 200) throw statusError("whoami", reply, true);
    return mapSession(parseJson(reply.text, "whoami", reply.status));
  }

  async function probeReady(): Promise<boolean> {
    try {
      const reply = await call(admin, {
        op: "ready",
        method: "GET",
        // The spec lists /health/ready, but Kratos v1.3.1's admin port answers that
        // with a 307 to /admin/health/ready; ask there directly.
        path: "/admin/health/ready",
        timeoutMs: Math.min(timeoutMs, READY_TIMEOUT_MS),
        maxBody: 64 * 1024,
      });
      return reply.status === 200;
    } catch {
      return false;
    }
  }

  // The last readiness answer and when it was asked for; one probe in flight at a time.
  let known: { ready: boolean; at: number } | undefined;
  let probing: Promise<boolean> | undefined;
  function readiness(): Promise<boolean> {
    if (known !== undefined && performance.now() - known.at < readinessCacheMs) return Promise.resolve(known.ready);
    if (probing === undefined) {
      const at = performance.now();
      probing = probeReady()
        .then((ready) => {
          known = { ready, at };
          return ready;
        })
        .finally(() => {
          probing = undefined;
        });
    }
    return probing;
  }

  async function revoke(op: string, path: string): Promise<void> {
    const reply = await call(admin, { op, method: "DELETE", path, timeoutMs, maxBody: MAX_SESSION_BODY });
    // 404: nothing (left) to revoke. Kratos v1.3.1 answers 404 for an unknown
    // session id and for an identity without sessions (a revoked session id gets 204 again).
    if ((reply.status >= 200 && reply.status < 300) || reply.status === 404) return;
    throw statusError(op, reply, false);
  }

  /** The admin list's items (all pages), by id; each checked to carry an id, the rest left to the caller. */
  async function listSessions(identityId: string, listOptions: ListSessionsOptions): Promise<Map<string, unknown>> {
    const id = requireUuid(identityId, "identityId");
    const state = listOptions.state ?? "active";
    const pageSize = listOptions.pageSize ?? 1000;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw new KratosError("bad_request", "pageSize must be an integer from 1 to 1000");
    }
    // Kratos v1.3.1's page links are off by one (page=1 repeats page 0, and
    // following rel="next" skips the last page), so walk page=0,1,2,… with
    // per_page until a short page, de-duplicating. This is also correct for a
    // Kratos whose pagination is fixed.
    const byId = new Map<string, unknown>();
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const query = `per_page=${pageSize}&page=${page}${state === "any" ? "" : `&active=${state === "active"}`}`;
      const reply = await call(admin, {
        op: "listIdentitySessions",
        method: "GET",
        path: `/admin/identities/${id}/sessions?${query}`,
        timeoutMs,
        maxBody: MAX_LIST_BODY,
      });
      if (reply.status === 404) return byId;
      if (reply.status !== 200) throw statusError("listIdentitySessions", reply, false);
      const items = parseJson(reply.text, "listIdentitySessions", reply.status);
      if (!Array.isArray(items)) throw new KratosError("unavailable", "Kratos listIdentitySessions: not an array");
      for (const item of items as unknown[]) {
        const sid = typeof item === "object" && item !== null ? (item as { id?: unknown }).id : undefined;
        if (typeof sid !== "string" || sid === "") {
          throw new KratosError("unavailable", "Kratos listIdentitySessions: a session without id");
        }
        byId.set(sid, item);
      }
      const total = Number(header(reply.headers, "x-total-count"));
      if (items.length < pageSize || (Number.isSafeInteger(total) && byId.size >= total)) return byId;
    }
    // Returning a partial list would leave sessions off a blocklist without anyone noticing.
    throw new KratosError("unavailable", `Kratos listIdentitySessions: more than ${MAX_LIST_PAGES} pages`);
  }

  return {
    whoami,

    async revokeSession(sessionId) {
      const id = requireUuid(sessionId, "sessionId");
      await revoke("revokeSession", `/admin/sessions/${id}`);
    },

    async revokeIdentitySessions(identityId) {
      const id = requireUuid(identityId, "identityId");
      await revoke("revokeIdentitySessions", `/admin/identities/${id}/sessions`);
    },

    async getIdentity(identityId) {
      const id = requireUuid(identityId, "identityId");
      const reply = await call(admin, {
        op: "getIdentity",
        method: "GET",
        path: `/admin/identities/${id}`,
        timeoutMs,
        maxBody: MAX_SESSION_BODY,
      });
      if (reply.status === 404) return undefined;
      if (reply.status !== 200) throw statusError("getIdentity", reply, false);
      return mapIdentity(parseJson(reply.text, "getIdentity", reply.status));
    },

    async listIdentitySessions(identityId, listOptions = {}) {
      return [...(await listSessions(identityId, listOptions)).keys()];
    },

    async findIdentityId(identifier) {
      if (typeof identifier !== "string" || identifier.length === 0 || identifier.length > 1024) {
        throw new KratosError("bad_request", "identifier must be 1 to 1024 characters");
      }
      const reply = await call(admin, {
        op: "findIdentityId",
        method: "GET",
        path: `/admin/identities?credentials_identifier=${encodeURIComponent(identifier)}&page_size=1`,
        timeoutMs,
        maxBody: MAX_SESSION_BODY,
      });
      if (reply.status !== 200) throw statusError("findIdentityId", reply, false);
      const items = parseJson(reply.text, "findIdentityId", reply.status);
      if (!Array.isArray(items)) throw new KratosError("unavailable", "Kratos findIdentityId: not an array");
      return items.length === 0 ? undefined : mapIdentity(items[0]).id;
    },

    async listSessionSummaries(identityId) {
      return [...(await listSessions(identityId, { state: "active" })).values()].map(mapSessionSummary);
    },

    async ready() {
      const at = performance.now();
      const ready = await probeReady();
      known = { ready, at };
      return ready;
    },

    close: (() => {
      let closing: Promise<void> | undefined;
      return () => {
        closing ??= Promise.all([...pools.values()].map((p) => p.close())).then(() => undefined);
        return closing;
      };
    })(),
  };
}
