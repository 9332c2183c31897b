// Small helpers shared by the repositories: transactions that compose, and input
// checks that fail with DomainError("invalid_input") before a round trip.
import { type Kysely, sql, Transaction } from "kysely";
import type { Database } from "../db/schema.ts";
import { DomainError, withDomainErrors } from "./errors.ts";

/**
 * Runs `fn` in a transaction. If `db` already is one, `fn` joins it, so callers can
 * compose repository calls atomically, e.g. demote one owner and promote another:
 *   await db.transaction().execute(async (trx) => { await changeRole(trx, …); await changeRole(trx, …); });
 * Postgres constraint errors come out as DomainErrors (including those raised at
 * COMMIT by deferred triggers, which is why the mapping wraps the whole transaction).
 */
export async function inTransaction<T>(
  db: Kysely<Database>,
  fn: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  if (db instanceof Transaction) return withDomainErrors(() => fn(db));
  let used: Transaction<Database> | undefined;
  let xid: string | undefined;
  let done: { value: T } | undefined;
  const out = await withDomainErrors(() =>
    db.transaction().execute(async (trx) => {
      used = trx;
      xid = (await sql<{ xid: string }>`select txid_current()::text as xid`.execute(trx)).rows[0]?.xid;
      const value = await fn(trx);
      done = { value };
      return value;
    }),
  ).catch(async (error: unknown) => {
    // The connection failed with everything but COMMIT's answer done (Postgres killed, a
    // network cut): the change may well have committed, and answering "failed" would be
    // a lie a client acts on (it retries, and the team exists twice). Ask Postgres.
    if (done === undefined || xid === undefined || error instanceof DomainError) throw error;
    if ((await commitOutcome(db, xid)) !== "committed") throw error;
    return done.value;
  });
  if (used !== undefined && announcing.has(used)) await afterCommit.get(db)?.();
  return out;
}

/** How long a write whose COMMIT went unanswered waits for Postgres to say what became of it. */
const OUTCOME_DEADLINE_MS = 10_000;

/**
 * txid_status() of a transaction, asked on a fresh connection until Postgres answers
 * "committed" or "aborted" (a crashed server recovers first), or "unknown" past the deadline.
 */
async function commitOutcome(db: Kysely<Database>, xid: string): Promise<"committed" | "aborted" | "unknown"> {
  const until = Date.now() + OUTCOME_DEADLINE_MS;
  while (Date.now() < until) {
    try {
      const { rows } = await sql<{ s: string | null }>`select txid_status(${xid}::bigint) as s`.execute(db);
      const s = rows[0]?.s;
      if (s === "committed" || s === "aborted") return s;
      if (s === null || s === undefined) return "unknown"; // too old to say: never for a transaction just run
    } catch {
      // Still down or recovering: ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return "unknown";
}

// Per database handle (tests run several apps in one process): what to do once a
// change that wrote to the outbox committed — the app delivers it, so the change is
// announced before the caller hears "done" when Redis is up, and later, never lost,
// when it is not. Transactions that wrote nothing to announce skip the extra pass.
const afterCommit = new WeakMap<Kysely<Database>, () => Promise<void>>();
const announcing = new WeakSet<Transaction<Database>>();

/** Marks a transaction as having written to the outbox (audit.ts). */
export function willAnnounce(trx: Transaction<Database>): void {
  announcing.add(trx);
}

/** Runs `hook` after every transaction inTransaction() commits on `db`. The hook must not throw. */
export function onCommit(db: Kysely<Database>, hook: () => Promise<void>): void {
  afterCommit.set(db, hook);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_RE.test(value);
}

export function assertUuid(value: unknown, field: string): string {
  if (!isUuid(value)) throw new DomainError("invalid_input", `${field} must be a UUID`);
  return value.toLowerCase();
}

export function assertOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new DomainError("invalid_input", `${field} must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

/** Trimmed, 1..max characters. */
export function cleanName(value: unknown, field: string, max = 200): string {
  if (typeof value !== "string") throw new DomainError("invalid_input", `${field} must be a string`);
  const name = value.trim();
  if (name.length === 0 || name.length > max) {
    throw new DomainError("invalid_input", `${field} must be 1 to ${max} characters`);
  }
  return name;
}

export function assertDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new DomainError("invalid_input", `${field} must be a valid Date`);
  }
  return value;
}
