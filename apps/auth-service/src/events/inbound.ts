// Events in: changes other services own, posted by an operator's credential to
// POST /admin/events. Each has the same effect as doing it through Gatehouse's own
// API (and so the same audit rows and outbound events), once per event id: the id,
// a hash of the body and the result are kept in inbound_events, and a second delivery
// of the id answers the first result without touching anything.
//
// The effects commit on their own (each through its usual path) while a transaction
// holding the id's advisory lock waits to record the id. If an effect fails, nothing
// is recorded and the sender's retry runs them again, which is safe: each effect is
// idempotent (an already-deactivated user, an unchanged plan, revoking sessions that
// are gone). A concurrent duplicate waits on the lock, then sees the first's result.
import { createHash } from "node:crypto";
import type { KratosClient } from "@gatehouse/kratos";
import { type Kysely, sql } from "kysely";
import type { Database, JsonObject, Plan } from "../db/schema.ts";
import type { AuditContext } from "../domain/audit.ts";
import { OPERATOR } from "../domain/authz.ts";
import { DomainError } from "../domain/errors.ts";
import { changePlan, getOrganization } from "../domain/organizations.ts";
import { setDeactivated } from "../domain/users.ts";
import type { Revocation } from "../revocation/revocation.ts";

export type InboundEvent =
  | { id: string; type: "user.deactivated" | "user.reactivated"; data: { identity_id: string } }
  | { id: string; type: "customer.upgraded" | "customer.downgraded"; data: { organization_id: string; plan: Plan } };

export interface InboundDeps {
  db: Kysely<Database>;
  kratos: KratosClient;
  revocation: Revocation;
}

export async function receiveInbound(
  deps: InboundDeps,
  event: InboundEvent,
  requestId: string,
): Promise<{ duplicate: boolean; result: JsonObject }> {
  const bodySha = createHash("sha256")
    .update(JSON.stringify({ type: event.type, data: event.data }))
    .digest("hex");
  return deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('gatehouse.inbound'), hashtext(${event.id}))`.execute(trx);
    const seen = await trx
      .selectFrom("inbound_events")
      .select(["body_sha256", "result"])
      .where("id", "=", event.id)
      .executeTakeFirst();
    if (seen) {
      if (seen.body_sha256 !== bodySha)
        throw new DomainError("conflict", "this event id was already received with another type or data");
      return { duplicate: true, result: seen.result };
    }
    const result = await apply(deps, event, { actor: `inbound:${event.id}`, requestId });
    await trx
      .insertInto("inbound_events")
      .values({ id: event.id, type: event.type, body_sha256: bodySha, result: JSON.stringify(result) })
      .execute();
    return { duplicate: false, result };
  });
}

async function apply(deps: InboundDeps, event: InboundEvent, ctx: AuditContext): Promise<JsonObject> {
  switch (event.type) {
    case "user.deactivated":
    case "user.reactivated": {
      const identityId = event.data.identity_id;
      const identity = await deps.kratos.getIdentity(identityId);
      if (!identity) throw new DomainError("not_found", "data.identity_id: no such identity");
      const deactivate = event.type === "user.deactivated";
      // Marked first: from the commit on, no new token; then the sessions, as an operator's revocation does.
      const { changed } = await setDeactivated(deps.db, { identityId, email: identity.traits.email }, deactivate, ctx);
      if (!deactivate) return { identity_id: identityId, deactivated: false, changed };
      const { revoked } = await deps.revocation.revokeIdentity(identityId, ctx);
      return { identity_id: identityId, deactivated: true, changed, sessions_revoked: revoked.length };
    }
    case "customer.upgraded":
    case "customer.downgraded": {
      // The plan named is applied whatever the type says: the type is the sender's reading of it.
      const orgId = event.data.organization_id;
      const before = await getOrganization(deps.db, orgId);
      if (!before) throw new DomainError("not_found", "data.organization_id: no such organization");
      const after = await changePlan(deps.db, orgId, event.data.plan, ctx, OPERATOR);
      return {
        organization_id: orgId,
        plan: after.plan,
        previous_plan: before.plan,
        changed: before.plan !== after.plan,
      };
    }
  }
}
