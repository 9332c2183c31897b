import { type Kysely, sql, type Transaction } from "kysely";
import {
  type Database,
  type JsonObject,
  SIGNING_ALGS,
  SIGNING_KEY_STATES,
  type SigningKeyAlg,
  type SigningKeyRow,
  type SigningKeyState,
} from "../db/schema.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { assertDate, assertOneOf, inTransaction } from "./support.ts";

/** A stored signing key. `privateKeyEnc` is ciphertext; decrypting it is the caller's job. */
export interface SigningKeyRecord {
  kid: string;
  alg: SigningKeyAlg;
  publicJwk: JsonObject;
  privateKeyEnc: string;
  state: SigningKeyState;
  notBefore: Date;
  activatedAt: Date | null;
  retiringAt: Date | null;
  retiredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

function toRecord(row: SigningKeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    privateKeyEnc: row.private_key_enc,
    state: row.state,
    notBefore: row.not_before,
    activatedAt: row.activated_at,
    retiringAt: row.retiring_at,
    retiredAt: row.retired_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NewSigningKey {
  kid: string;
  alg: SigningKeyAlg;
  /** Public members only; the database refuses d, p, q, k… */
  publicJwk: JsonObject;
  privateKeyEnc: string;
  state: SigningKeyState;
  /** When the key may start signing; default now. */
  notBefore?: Date;
}

const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"];

function checkNewKey(input: NewSigningKey): NewSigningKey {
  if (typeof input.kid !== "string" || input.kid.length === 0 || input.kid.length > 200) {
    throw new DomainError("invalid_input", "kid must be 1 to 200 characters");
  }
  const alg = assertOneOf(input.alg, SIGNING_ALGS, "alg");
  const state = assertOneOf(input.state, SIGNING_KEY_STATES, "state");
  const jwk = input.publicJwk;
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) {
    throw new DomainError("invalid_input", "publicJwk must be a JSON object");
  }
  if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) {
    throw new DomainError("invalid_input", "publicJwk carries private key material");
  }
  if (typeof input.privateKeyEnc !== "string" || input.privateKeyEnc.length === 0) {
    throw new DomainError("invalid_input", "privateKeyEnc must be a non-empty string");
  }
  const out: NewSigningKey = { kid: input.kid, alg, publicJwk: jwk, privateKeyEnc: input.privateKeyEnc, state };
  if (input.notBefore !== undefined) out.notBefore = assertDate(input.notBefore, "notBefore");
  return out;
}

// One lock for every change to signing-key states, across all auth-service instances.
async function lockSigningKeys(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('gatehouse.signing_keys'), 0)`.execute(trx);
}

async function insertLocked(
  trx: Transaction<Database>,
  input: NewSigningKey,
  ctx: AuditContext,
): Promise<SigningKeyRecord> {
  const key = checkNewKey(input);
  const stamp = sql<Date>`now()`;
  const row = await trx
    .insertInto("signing_keys")
    .values({
      kid: key.kid,
      alg: key.alg,
      public_jwk: JSON.stringify(key.publicJwk),
      private_key_enc: key.privateKeyEnc,
      state: key.state,
      ...(key.notBefore ? { not_before: key.notBefore } : {}),
      activated_at: key.state === "active" ? stamp : null,
      retiring_at: key.state === "retiring" ? stamp : null,
      retired_at: key.state === "retired" ? stamp : null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  // kid and state only: never key material.
  await writeAudit(trx, ctx, {
    action: "signing_key.created",
    targetType: "signing_key",
    targetId: row.kid,
    after: { kid: row.kid, alg: row.alg, state: row.state, notBefore: row.not_before.toISOString() },
  });
  return toRecord(row);
}

/**
 * Stores a new key (typically state "next"). Inserting an "active" key while another is
 * active fails with conflict; use transitionSigningKeys to rotate.
 */
export async function insertSigningKey(
  db: Kysely<Database>,
  input: NewSigningKey,
  ctx: AuditContext,
): Promise<SigningKeyRecord> {
  assertAuditContext(ctx);
  checkNewKey(input);
  return inTransaction(db, async (trx) => {
    await lockSigningKeys(trx);
    return insertLocked(trx, input, ctx);
  });
}

/** Keys in the given states (default all), oldest first. */
export async function listSigningKeys(
  db: Kysely<Database>,
  states?: readonly SigningKeyState[],
): Promise<SigningKeyRecord[]> {
  const wanted = states?.map((s) => assertOneOf(s, SIGNING_KEY_STATES, "state"));
  if (wanted !== undefined && wanted.length === 0) return [];
  return withDomainErrors(async () => {
    let query = db.selectFrom("signing_keys").selectAll().orderBy("created_at").orderBy("kid");
    if (wanted !== undefined) query = query.where("state", "in", wanted);
    return (await query.execute()).map(toRecord);
  });
}

/** The operations a transition function gets, next to the transaction itself. */
export interface SigningKeyTransition {
  /** Keys in state next, active or retiring, oldest first, read after the lock was taken. */
  readonly keys: readonly SigningKeyRecord[];
  /** The database clock when the lock was taken: compare not_before etc. with this, not a local clock. */
  readonly now: Date;
  insert(input: NewSigningKey): Promise<SigningKeyRecord>;
  /**
   * Moves a key forward: next → active → retiring → retired (skipping is allowed, going
   * back is not) and stamps activated_at / retiring_at / retired_at with `at` (default:
   * the database's now()). Low level: it does not look at not_before, and making a key
   * active while another is active fails with conflict, so demote the old one first
   * (or use `activate`).
   */
  setState(kid: string, state: SigningKeyState, at?: Date): Promise<SigningKeyRecord>;
  /**
   * Makes a "next" key active and the current active key (if any) retiring. Refuses a
   * key whose not_before is still ahead of `now`, unless `force` (emergency rotation).
   */
  activate(kid: string, opts?: { at?: Date; force?: boolean }): Promise<SigningKeyRecord>;
}

const STATE_ORDER: Record<SigningKeyState, number> = { next: 0, active: 1, retiring: 2, retired: 3 };

/**
 * Runs a key-rotation step in one transaction holding a cluster-wide advisory lock, so
 * several instances rotating at once run one after the other and each sees the keys as
 * the previous one left them; the partial unique index backs this up with "at most one
 * active key" whatever happens. `fn` gets the transaction (repository calls such as
 * listSigningKeys/insertSigningKey join it) and the operations above. Audit rows record
 * kid and states, never key material. An exception from `fn` rolls everything back.
 */
export async function transitionSigningKeys<T>(
  db: Kysely<Database>,
  fn: (trx: Transaction<Database>, ops: SigningKeyTransition) => Promise<T>,
  ctx: AuditContext,
): Promise<T> {
  assertAuditContext(ctx);
  return inTransaction(db, async (trx) => {
    await lockSigningKeys(trx);
    const clock = await sql<{ now: Date }>`select statement_timestamp() as now`.execute(trx);
    const now = clock.rows[0]?.now ?? new Date();
    const rows = await trx
      .selectFrom("signing_keys")
      .selectAll()
      .where("state", "in", ["next", "active", "retiring"])
      .orderBy("created_at")
      .orderBy("kid")
      .execute();

    const setState = async (kid: string, state: SigningKeyState, at?: Date): Promise<SigningKeyRecord> => {
      const target = assertOneOf(state, SIGNING_KEY_STATES, "state");
      const stamp = at === undefined ? sql<Date>`now()` : assertDate(at, "at");
      const current = await trx
        .selectFrom("signing_keys")
        .selectAll()
        .where("kid", "=", kid)
        .forUpdate()
        .executeTakeFirst();
      if (!current) throw new DomainError("not_found", `signing key ${kid} not found`);
      if (current.state === target) return toRecord(current);
      if (STATE_ORDER[target] < STATE_ORDER[current.state]) {
        throw new DomainError("invalid_input", `signing key ${kid} cannot go from ${current.state} back to ${target}`);
      }
      const row = await trx
        .updateTable("signing_keys")
        .set({
          state: target,
          ...(target === "active" ? { activated_at: stamp } : {}),
          ...(target === "retiring" ? { retiring_at: stamp } : {}),
          ...(target === "retired" ? { retired_at: stamp } : {}),
        })
        .where("kid", "=", kid)
        .returningAll()
        .executeTakeFirstOrThrow();
      await writeAudit(trx, ctx, {
        action: "signing_key.state_changed",
        targetType: "signing_key",
        targetId: kid,
        before: { kid, state: current.state },
        after: { kid, state: target },
      });
      return toRecord(row);
    };

    const activate = async (kid: string, opts: { at?: Date; force?: boolean } = {}): Promise<SigningKeyRecord> => {
      const target = await trx
        .selectFrom("signing_keys")
        .select(["state", "not_before"])
        .where("kid", "=", kid)
        .executeTakeFirst();
      if (!target) throw new DomainError("not_found", `signing key ${kid} not found`);
      if (target.state === "active") return setState(kid, "active");
      if (target.state !== "next") {
        throw new DomainError("invalid_input", `only a "next" key can become active; ${kid} is ${target.state}`);
      }
      // Checked before demoting anything, so a refusal never leaves us without an active key.
      if (!opts.force && target.not_before.getTime() > (opts.at ?? now).getTime()) {
        throw new DomainError(
          "invalid_input",
          `signing key ${kid} may not sign before ${target.not_before.toISOString()}`,
        );
      }
      const active = await trx
        .selectFrom("signing_keys")
        .select("kid")
        .where("state", "=", "active")
        .executeTakeFirst();
      // Demote first: the unique index allows one active row at every moment.
      if (active) await setState(active.kid, "retiring", opts.at);
      return setState(kid, "active", opts.at);
    };

    return fn(trx, {
      keys: rows.map(toRecord),
      now,
      insert: (input) => insertLocked(trx, input, ctx),
      setState,
      activate,
    });
  });
}

/** What a re-encryption callback returns for a key whose ciphertext should change. */
export interface ReencryptedKey {
  privateKeyEnc: string;
  /** Non-secret names of the key-encryption keys before and after, for the audit log. */
  fromKek: string;
  toKek: string;
}

/**
 * Replaces stored ciphertexts (key-encryption-key rotation) in one transaction holding
 * the signing-key lock, so no rotation interleaves. `fn` sees every stored key, in every
 * state (retired included), oldest first, locked, and returns its new ciphertext, or
 * undefined to leave it as it is. An exception from `fn` rolls back every key already
 * rewritten. One audit row per rewritten key, naming kid and KEKs, never key material.
 */
export async function reencryptSigningKeys(
  db: Kysely<Database>,
  fn: (key: SigningKeyRecord) => Promise<ReencryptedKey | undefined>,
  ctx: AuditContext,
): Promise<{ reencrypted: string[]; total: number }> {
  assertAuditContext(ctx);
  return inTransaction(db, async (trx) => {
    await lockSigningKeys(trx);
    const rows = await trx
      .selectFrom("signing_keys")
      .selectAll()
      .orderBy("created_at")
      .orderBy("kid")
      .forUpdate()
      .execute();
    const reencrypted: string[] = [];
    for (const row of rows) {
      const next = await fn(toRecord(row));
      if (next === undefined) continue;
      if (typeof next.privateKeyEnc !== "string" || next.privateKeyEnc.length === 0) {
        throw new DomainError("invalid_input", "privateKeyEnc must be a non-empty string");
      }
      await trx
        .updateTable("signing_keys")
        .set({ private_key_enc: next.privateKeyEnc })
        .where("kid", "=", row.kid)
        .execute();
      await writeAudit(trx, ctx, {
        action: "signing_key.reencrypted",
        targetType: "signing_key",
        targetId: row.kid,
        before: { kid: row.kid, state: row.state, kek: next.fromKek },
        after: { kid: row.kid, state: row.state, kek: next.toKek },
      });
      reencrypted.push(row.kid);
    }
    return { reencrypted, total: rows.length };
  });
}
