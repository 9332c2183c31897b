// Whether an error means a dependency (Postgres, Redis, a peer over TCP) is down or
// restarting rather than that the request was wrong: the services answer those with
// 503 + Retry-After, never with a 500. One classifier for every service, so a code
// one of them learns (Postgres' "starting up" after a crash, say) is known to all.

/** Postgres SQLSTATEs of an unusable server: connection exceptions (08xxx), shutdown and crash recovery (57P01–57P03), too many connections (53300). */
const PG_UNAVAILABLE = /^(08...|57P0[1-3]|53300)$/;
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "EAI_AGAIN",
]);

/** Connection-level failures of Postgres or Redis: the dependency is down, not the request bad. */
export function isDependencyFailure(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && (SOCKET_CODES.has(code) || PG_UNAVAILABLE.test(code))) return true;
  // ioredis' give-up, and an error a service raises itself for a dependency it knows is unusable.
  if (e.name === "MaxRetriesPerRequestError" || e.name === "DependencyUnavailableError") return true;
  // pg: a client whose connection broke ("… is not queryable", also what a transaction's
  // ROLLBACK meets after its connection died mid-way); ioredis: a closed connection.
  return /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|is not queryable|Connection is closed|Stream isn't writeable/i.test(
    e.message,
  );
}
