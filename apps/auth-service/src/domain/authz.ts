// Who may do what in an organization. Every repository function of the organization
// API takes an Authority and asks here, inside its own transaction, with the actor's
// membership row locked: the HTTP layer only says who is asking.
//
// The rules, in one sentence each:
//  - Roles are ranked: owner > admin > member (ROLE_RANK). Members manage nothing.
//  - An owner or admin acts only on members whose role ranks at most their own, and
//    grants (by role change or invitation) at most their own role: so only owners
//    change, remove, invite or make owners.
//  - Anyone may take themselves out of an organization (leave); the last owner
//    cannot (the database's last-owner trigger).
//  - Nobody joins an organization but through their own action: creating it, or
//    accepting an invitation. A member cannot add anyone directly.
//  - An API key never carries a scope its creator's role does not grant, and a member
//    creates keys only for the organization or for themselves.
//  - Owners and admins rename the organization; plan changes, requiring a second factor,
//    deleting it and its webhook subscriptions are the owners'.
// Operators (the admin listener with ADMIN_API_TOKEN, the CLI, internal reads) are
// trusted and pass every check.
import { permissionsFor, type RolePermissionMap } from "@gatehouse/tokens";
import type { Kysely } from "kysely";
import type { Database, OrgRole } from "../db/schema.ts";
import { DomainError } from "./errors.ts";
import { assertUuid } from "./support.ts";

/** Who asks: a signed-in member of the organization, or a trusted operator. */
export type Authority =
  | {
      readonly kind: "member";
      readonly identityId: string;
      /** The role → permission map (configuration) API-key scopes are checked against. */
      readonly permissions: RolePermissionMap;
    }
  | { readonly kind: "operator" };

/** The trusted caller: operator endpoints, the CLI, internal bookkeeping. */
export const OPERATOR: Authority = Object.freeze({ kind: "operator" });

export function asMember(identityId: string, permissions: RolePermissionMap): Authority {
  return { kind: "member", identityId, permissions };
}

/**
 * Higher acts on lower. A Record over OrgRole, so a role added to ORG_ROLES does not
 * compile until it is ranked here.
 */
export const ROLE_RANK: Readonly<Record<OrgRole, number>> = Object.freeze({ owner: 3, admin: 2, member: 1 });
/** The lowest rank that manages the organization (members, invitations, teams, keys, audit). */
const MANAGER_RANK = ROLE_RANK.admin;

export type OrgAction =
  /** List members and teams. */
  | { kind: "organization.read" }
  | { kind: "organization.rename" }
  | { kind: "organization.change_plan" }
  /** Turn "members must use a second factor" on or off. */
  | { kind: "organization.require_mfa" }
  | { kind: "organization.delete" }
  | { kind: "audit.read" }
  /** Put someone in the organization without their consent: operators only. */
  | { kind: "member.add" }
  | { kind: "member.change_role"; target: OrgRole; to: OrgRole; self: boolean }
  | { kind: "member.remove"; target: OrgRole; self: boolean }
  | { kind: "invitation.create"; role: OrgRole }
  | { kind: "invitation.list" }
  | { kind: "invitation.revoke"; role: OrgRole }
  | { kind: "api_key.create"; scopes: readonly string[]; forSelf: boolean; forOther: boolean }
  | { kind: "api_key.list" }
  | { kind: "api_key.revoke" }
  | { kind: "team.write" }
  /** Create, list or delete the organization's webhook subscriptions. */
  | { kind: "webhook.manage" };

export type Decision = { ok: true } | { ok: false; reason: string };

const ALLOW: Decision = { ok: true };
const an = (role: OrgRole) => `${/^[aeiou]/.test(role) ? "an" : "a"} ${role}`;
const deny = (reason: string): Decision => ({ ok: false, reason });

/**
 * The policy, as a pure function of the actor's role: what the table-driven tests
 * exercise through the repositories, and what they compare against.
 */
export function decide(actor: OrgRole, action: OrgAction, permissions: RolePermissionMap): Decision {
  const rank = ROLE_RANK[actor];
  const manager = rank >= MANAGER_RANK;
  switch (action.kind) {
    case "organization.read":
      return ALLOW;
    case "organization.change_plan":
    case "organization.delete":
      return actor === "owner"
        ? ALLOW
        : deny(
            `only owners may ${action.kind === "organization.delete" ? "delete the organization" : "change the plan"}`,
          );
    case "webhook.manage":
      return actor === "owner" ? ALLOW : deny("only owners may manage the organization's webhooks");
    case "organization.require_mfa":
      return actor === "owner" ? ALLOW : deny("only owners may change whether members need a second factor");
    case "organization.rename":
    case "audit.read":
    case "invitation.list":
    case "api_key.list":
    case "api_key.revoke":
    case "team.write":
      return manager ? ALLOW : deny("only owners and admins may do this");
    case "member.add":
      return deny("members join by invitation; nobody is added without accepting one");
    case "member.remove":
      if (action.self) return ALLOW; // leaving; the last owner is stopped by the database
      if (!manager) return deny("only owners and admins may remove members");
      return ROLE_RANK[action.target] <= rank ? ALLOW : deny(`only owners may remove ${an(action.target)}`);
    case "member.change_role":
      if (!manager) return deny("only owners and admins may change roles");
      if (ROLE_RANK[action.target] > rank) return deny(`only owners may change the role of ${an(action.target)}`);
      if (ROLE_RANK[action.to] > rank) return deny(`only owners may make someone ${an(action.to)}`);
      return ALLOW;
    case "invitation.create":
    case "invitation.revoke":
      if (!manager) return deny("only owners and admins may manage invitations");
      return ROLE_RANK[action.role] <= rank
        ? ALLOW
        : deny(
            `only owners may ${action.kind === "invitation.create" ? "invite" : "revoke the invitation of"} ${an(action.role)}`,
          );
    case "api_key.create": {
      if (!manager) return deny("only owners and admins may create API keys");
      if (action.forOther) return deny("a member creates API keys only for the organization or for themselves");
      const mine = new Set(permissionsFor(actor, permissions));
      const beyond = action.scopes.filter((s) => !mine.has(s));
      if (beyond.length > 0) {
        return deny(`an API key cannot carry scopes your role (${actor}) does not have: ${beyond.join(", ")}`);
      }
      return ALLOW;
    }
  }
}

/**
 * Authorizes `by` for `action` in `orgId` within the caller's transaction. For a member,
 * their live membership row (in a live organization) is locked FOR SHARE, so a
 * concurrent demotion of the actor waits until this transaction is done. Returns the
 * actor's role (undefined for operators). Throws DomainError("forbidden").
 */
export async function authorize(
  trx: Kysely<Database>,
  by: Authority,
  orgId: string,
  action: OrgAction | ((actorRole: OrgRole) => OrgAction),
): Promise<OrgRole | undefined> {
  if (by.kind === "operator") return undefined;
  const role = await actorRole(trx, by, orgId, "share");
  check(by, role, typeof action === "function" ? action(role) : action);
  return role;
}

/** Throws DomainError("forbidden") unless `decide` allows it. */
export function check(by: Authority, role: OrgRole | undefined, action: OrgAction): void {
  if (by.kind === "operator") return;
  if (role === undefined) throw new DomainError("forbidden", "you are not a member of this organization");
  const d = decide(role, action, by.permissions);
  if (!d.ok) throw new DomainError("forbidden", d.reason);
}

/** The member's live role in a live organization, the row locked; forbidden if none. */
export async function actorRole(
  trx: Kysely<Database>,
  by: Authority & { kind: "member" },
  orgId: string,
  lock: "share" | "update",
): Promise<OrgRole> {
  const identityId = assertUuid(by.identityId, "identityId");
  const q = trx
    .selectFrom("memberships as m")
    .innerJoin("organizations as o", "o.id", "m.organization_id")
    .select("m.role")
    .where("m.organization_id", "=", orgId)
    .where("m.identity_id", "=", identityId)
    .where("m.deleted_at", "is", null)
    .where("o.deleted_at", "is", null);
  const row = await (lock === "share" ? q.forShare("m") : q.forUpdate("m")).executeTakeFirst();
  if (!row) throw new DomainError("forbidden", "you are not a member of this organization");
  return row.role;
}
