import { Kysely, PostgresDialect } from "kysely";
import { Migrator } from "kysely/migration";
import pg from "pg";
import { migrations } from "./migrations/index.ts";
import type { Database } from "./schema.ts";

export type { Database } from "./schema.ts";
export * from "./schema.ts";

export interface CreateDbOptions {
  /** Pool size; default 10. */
  max?: number;
  /**
   * Told of every connection that breaks (Postgres killed, restarted, a network cut).
   * The error is handled either way; this is for logging. Messages hold no credentials.
   */
  onConnectionError?: (err: Error) => void;
}

/**
 * A Kysely instance over a pg Pool. Call `db.destroy()` to close the pool.
 * Connecting gives up after 3 s, so a database outage surfaces as an error (the
 * HTTP layer answers 503) instead of requests queueing forever.
 *
 * A pg Client emits 'error' when its connection breaks, and an 'error' event without
 * a listener kills the process. The pool listens only while a client is idle in it;
 * a client checked out (a query in flight, a transaction between statements, the
 * migrator's lock) has no listener of its own, so killing Postgres under load crashed
 * the service. Every client gets a listener for its whole life, the moment the pool
 * connects it. Its query (if any) still fails with the error, and the pool discards a
 * client that is no longer queryable when it is released, so nothing reuses it.
 */
export function createDb(url: string, opts: CreateDbOptions = {}): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  const report = opts.onConnectionError ?? (() => {});
  pool.on("connect", (client) => {
    client.on("error", report);
  });
  // An idle client's error reaches both its own listener (above: reported there) and
  // the pool's, which drops the client; the pool's must exist or the process dies.
  pool.on("error", () => {});
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

export class MigrationError extends Error {
  override name = "MigrationError";
  /** The migration that failed, when Kysely could tell. Nothing was applied: pending migrations share one transaction. */
  readonly failed: string | undefined;
  constructor(message: string, failed: string | undefined, cause: unknown) {
    super(message, { cause });
    this.failed = failed;
  }
}

/**
 * Applies every pending migration. Safe to run from several processes at once: Kysely's
 * Migrator holds a Postgres advisory lock while it reads the state and migrates, so
 * latecomers find nothing left to do. All pending migrations run in one transaction.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<{ applied: string[] }> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations }) },
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === "Error")?.migrationName;
    const reason = describeError(error);
    throw new MigrationError(
      failed ? `migration ${failed} failed: ${reason}` : `cannot migrate: ${reason}`,
      failed,
      error,
    );
  }
  return { applied: results.filter((r) => r.status === "Success").map((r) => r.migrationName) };
}

// Node reports a refused "localhost" connection as an AggregateError with an empty message.
function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return [...new Set(error.errors.map(describeError))].join("; ");
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Names of the migrations known to this build, in order. */
export function migrationNames(): string[] {
  return Object.keys(migrations).sort();
}
