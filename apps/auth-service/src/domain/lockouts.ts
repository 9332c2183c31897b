// Sign-in lockouts as events. The gateway locks an account in its Redis counters and
// reports the lock here (POST /admin/lockouts: it has no database and cannot tell
// whether the identifier is an account); an operator lifts it (POST
// /admin/users/:id/unlock) by deleting the gateway's keys, named once in
// @gatehouse/contracts. Neither reveals to the client whether the account exists: the
// gateway's 429 never waits on the report, and an unknown identifier is dropped here.
import { BRUTE_FORCE_SCOPES, type BruteForceScope, identifierKey, bruteForceKeys as K } from "@gatehouse/contracts";
import type { KratosClient } from "@gatehouse/kratos";
import type { RedisClient } from "@gatehouse/redis";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.ts";
import { type AuditContext, writeAudit } from "./audit.ts";
import { DomainError } from "./errors.ts";

/** Every scope the gateway counts an account in: an unlock lifts them all. */
const SCOPES: readonly BruteForceScope[] = BRUTE_FORCE_SCOPES;

/** Records a lock the gateway reported: user.account_locked when the identifier is an account. */
export async function recordLock(
  deps: { db: Kysely<Database>; kratos: KratosClient },
  lock: { scope: BruteForceScope; identifier: string; lockedUntil: Date },
  ctx: AuditContext,
): Promise<{ recorded: boolean }> {
  // Kratos' own spelling of a login identifier (strings.ToLower(strings.TrimSpace(x))).
  const identityId = await deps.kratos.findIdentityId(lock.identifier.trim().toLowerCase());
  if (identityId === undefined) return { recorded: false };
  await deps.db.transaction().execute((trx) =>
    writeAudit(trx, ctx, {
      action: "user.account_locked",
      targetType: "user",
      targetId: identityId,
      after: { scope: lock.scope, locked_until: lock.lockedUntil.toISOString() },
    }),
  );
  return { recorded: true };
}

/** Lifts every lockout and failure count of the identity's email at the gateway; audited. */
export async function unlockAccount(
  deps: { db: Kysely<Database>; kratos: KratosClient; redis: RedisClient },
  identityId: string,
  ctx: AuditContext,
): Promise<{ cleared: number }> {
  const identity = await deps.kratos.getIdentity(identityId);
  if (!identity) throw new DomainError("not_found", "no such user");
  const id = await identifierKey(identity.traits.email);
  const keys = SCOPES.flatMap((scope) => [K.accountLock(scope, id), K.accountFailures(scope, id)]);
  // One DEL per key: in a Redis Cluster the keys live in different slots.
  const cleared = (await Promise.all(keys.map((k) => deps.redis.del(k)))).reduce((a, b) => a + b, 0);
  await deps.db.transaction().execute((trx) =>
    writeAudit(trx, ctx, {
      action: "user.account_unlocked",
      targetType: "user",
      targetId: identityId,
      after: { cleared },
    }),
  );
  return { cleared };
}
