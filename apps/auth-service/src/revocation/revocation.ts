// Revocation: the Kratos session is revoked at Kratos (so no new exchange can
// succeed), cached copies are dropped on every instance, and the session id is
// remembered in Redis for as long as a token minted from it can live, for guards
// that check revocation. Bound for already-issued tokens: their lifetime
// (TOKEN_TTL_SECONDS) unless the verifier checks revocation.
import { revokedKey } from "@gatehouse/contracts";
import type { KratosClient, SessionSummary } from "@gatehouse/kratos";
import type { RedisClient } from "@gatehouse/redis";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.ts";
import { type AuditContext, writeAudit } from "../domain/audit.ts";
import { DependencyUnavailableError } from "../domain/errors.ts";
import type { SessionResolver } from "../exchange/sessions.ts";

export class Revocation {
  readonly #kratos: KratosClient;
  readonly #sessions: SessionResolver;
  readonly #redis: RedisClient;
  readonly #db: Kysely<Database>;
  readonly #rememberMs: number;

  constructor(opts: {
    kratos: KratosClient;
    sessions: SessionResolver;
    redis: RedisClient;
    db: Kysely<Database>;
    tokenTtlSec: number;
    leewaySec: number;
  }) {
    this.#kratos = opts.kratos;
    this.#sessions = opts.sessions;
    this.#redis = opts.redis;
    this.#db = opts.db;
    this.#rememberMs = (opts.tokenTtlSec + opts.leewaySec) * 1000;
  }

  // Announced before Kratos is told: with Redis unreachable (an outage, a Sentinel
  // failover) the caller gets a 503 and retries while the session is still live at Kratos.
  // The other way round, the retry would find no session and the announcement was lost.
  async revokeSession(sid: string, ctx: AuditContext): Promise<{ revoked: string[] }> {
    await this.#sessions.forgetSession(sid, Date.now() + this.#rememberMs);
    await this.#kratos.revokeSession(sid);
    await this.#db
      .transaction()
      .execute((trx) => writeAudit(trx, ctx, { action: "session.revoked", targetType: "session", targetId: sid }));
    return { revoked: [sid] };
  }

  /** The person's own active sessions, for GET /v1/me/sessions. */
  listOwnSessions(identityId: string): Promise<SessionSummary[]> {
    return this.#kratos.listSessionSummaries(identityId);
  }

  /**
   * Revokes sessions of `identityId` only: ids it does not own are left alone and
   * left out of the answer (the caller answers 404 for one such id, never saying
   * whose it is). `except` spares the caller's current session ("sign out the others").
   */
  async revokeOwnSessions(
    identityId: string,
    pick: { only: string } | { except: string },
    ctx: AuditContext,
  ): Promise<{ revoked: string[] }> {
    const own = (await this.#kratos.listIdentitySessions(identityId)).map((sid) => sid.toLowerCase());
    const sids =
      "only" in pick ? own.filter((sid) => sid === pick.only.toLowerCase()) : own.filter((sid) => sid !== pick.except);
    // Same order as revokeSession: announced first, so a Redis outage leaves them live at Kratos for the retry.
    const until = Date.now() + this.#rememberMs;
    for (const sid of sids) await this.#sessions.forgetSession(sid, until);
    for (const sid of sids) await this.#kratos.revokeSession(sid);
    if (sids.length > 0) {
      await this.#db.transaction().execute(async (trx) => {
        for (const sid of sids) {
          await writeAudit(trx, ctx, {
            action: "session.revoked",
            targetType: "session",
            targetId: sid,
            after: { identity_id: identityId },
          });
        }
      });
    }
    return { revoked: sids };
  }

  async revokeIdentity(identityId: string, ctx: AuditContext): Promise<{ revoked: string[] }> {
    const sids = await this.#kratos.listIdentitySessions(identityId);
    for (const sid of sids) await this.#sessions.forgetSession(sid, Date.now() + this.#rememberMs);
    await this.#kratos.revokeIdentitySessions(identityId);
    await this.#db.transaction().execute((trx) =>
      writeAudit(trx, ctx, {
        action: "identity.sessions_revoked",
        targetType: "identity",
        targetId: identityId,
        after: { sessions: sids.length },
      }),
    );
    return { revoked: sids };
  }

  /**
   * Kratos ended an identity's other sessions itself (its revoke_active_sessions hook,
   * after a password change or a recovery): announces every session of it Kratos now
   * holds inactive, so guards refuse their tokens at once. Sessions revoked earlier are
   * announced again, which is harmless.
   */
  async announceRevokedSessions(
    identityId: string,
    reason: "password_changed" | "recovered",
    ctx: AuditContext,
  ): Promise<{ revoked: string[] }> {
    const sids = await this.#kratos.listIdentitySessions(identityId, { state: "inactive" });
    const until = Date.now() + this.#rememberMs;
    for (const sid of sids) await this.#sessions.forgetSession(sid, until);
    await this.#db.transaction().execute(async (trx) => {
      // What the person did, for their security history and subscribers, then its effect.
      await writeAudit(trx, ctx, {
        action: reason === "password_changed" ? "user.password_changed" : "user.recovered",
        targetType: "user",
        targetId: identityId,
      });
      await writeAudit(trx, ctx, {
        action: "identity.other_sessions_revoked",
        targetType: "identity",
        targetId: identityId,
        after: { reason, sessions: sids.length },
      });
    });
    return { revoked: sids };
  }

  /** For introspection: fails closed (throws) when Redis cannot be asked. */
  async isRevoked(sid: string): Promise<boolean> {
    if (this.#redis.status !== "ready") throw new DependencyUnavailableError("redis not ready");
    return (await this.#redis.exists(revokedKey(sid))) === 1;
  }
}
