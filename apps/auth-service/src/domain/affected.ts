// Which tokens an audited change makes stale, decided once, from the change itself:
// identities whose claims it touched (their cached exchanges are redone) and
// credentials it revoked (their tokens are refused). writeAudit() puts the answer in
// the outbox in the change's own transaction, so no route handler can forget it and
// a Redis outage delays it instead of failing a committed write.

import { apiKeySessionId } from "@gatehouse/contracts";
import type { Transaction } from "kysely";
import type { Database, JsonObject, OutboxPayload } from "../db/schema.ts";
import type { AuditEvent } from "./audit.ts";

export type Affected = Omit<OutboxPayload, "action">;

const NONE: Affected = { identities: [], revoked: [] };

const identityIn = (o: JsonObject | null | undefined): string | undefined =>
  typeof o?.identityId === "string" ? o.identityId : undefined;

async function liveMembers(trx: Transaction<Database>, orgId: string): Promise<string[]> {
  const rows = await trx
    .selectFrom("memberships")
    .select("identity_id")
    .where("organization_id", "=", orgId)
    .where("deleted_at", "is", null)
    .execute();
  return rows.map((r) => r.identity_id);
}

async function teamMembers(trx: Transaction<Database>, teamId: string): Promise<string[]> {
  const rows = await trx.selectFrom("team_memberships").select("identity_id").where("team_id", "=", teamId).execute();
  return rows.map((r) => r.identity_id);
}

/** Every audited change must say what it affects (checked at compile time; throws for anything else). */
export async function affectedBy(trx: Transaction<Database>, event: AuditEvent): Promise<Affected> {
  const one = (id: string | undefined | null): Affected => (id ? { identities: [id], revoked: [] } : NONE);
  switch (event.action) {
    case "membership.added":
    case "membership.role_changed":
    case "membership.removed":
    case "invitation.accepted":
    case "team.member_added":
    case "team.member_role_changed":
    case "team.member_removed":
      return one(identityIn(event.after) ?? identityIn(event.before));
    case "user.default_organization_changed":
    case "user.deleted":
    // Cached principals and tokens of the person (and of API keys they own or created) are redone, and refused.
    case "user.deactivated":
    case "user.reactivated":
      return one(event.targetId);
    case "organization.plan_changed":
    case "organization.mfa_requirement_changed":
    case "organization.deleted":
      // The plan, the MFA requirement (or the organization itself) is in every member's token.
      return { identities: event.organizationId ? await liveMembers(trx, event.organizationId) : [], revoked: [] };
    case "team.deleted":
      return { identities: event.targetId ? await teamMembers(trx, event.targetId) : [], revoked: [] };
    case "api_key.revoked": {
      const sid = apiKeySessionId(event.targetId ?? "");
      return { identities: [sid], revoked: [sid] };
    }
    // Changes that no token carries.
    case "organization.created":
    case "organization.renamed":
    case "invitation.created":
    case "invitation.revoked":
    case "team.created":
    case "team.renamed":
    case "api_key.created":
    case "user.created":
    case "user.authenticated":
    // Their sessions' revocation is announced beside them (identity.other_sessions_revoked).
    case "user.password_changed":
    case "user.recovered":
    // Lockouts live in the gateway's counters, not in any token.
    case "user.account_locked":
    case "user.account_unlocked":
    // A token's aal/amr come from its session, which a settings change does not alter.
    case "user.mfa_enabled":
    case "user.mfa_disabled":
    case "signing_key.created":
    case "signing_key.state_changed":
    case "signing_key.reencrypted":
    // Session revocations announce themselves (revocation/revocation.ts).
    case "session.revoked":
    case "identity.sessions_revoked":
    case "identity.other_sessions_revoked":
    // Webhook bookkeeping (domain/webhooks.ts).
    case "webhook_subscription.created":
    case "webhook_subscription.deleted":
    case "webhook_delivery.replayed":
      return NONE;
    default: {
      // The catalogue (@gatehouse/contracts) types `action`: a new event type does not compile until ruled on here.
      const unknown: never = event.action;
      throw new Error(`affectedBy: no rule for the audit action "${String(unknown)}"`);
    }
  }
}
