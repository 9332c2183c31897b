import { type Kysely, sql } from "kysely";
import type { Database, OrgRole, Plan, TeamRole } from "../db/schema.ts";
import { withDomainErrors } from "./errors.ts";
import { assertUuid } from "./support.ts";

export interface PrincipalUser {
  identityId: string;
  email: string;
  nameFirst: string | null;
  nameLast: string | null;
  signupTier: Plan | null;
  /** Another service deactivated them (inbound user.deactivated): nothing is minted for them. */
  deactivated: boolean;
}

export interface PrincipalMembership {
  organizationId: string;
  plan: Plan;
  role: OrgRole;
}

export interface ActiveMembership extends PrincipalMembership {
  teams: { id: string; role: TeamRole }[];
  /** The organization requires a second factor of its members. */
  requireMfa: boolean;
}

export interface PrincipalData {
  /** undefined when there is no user row, or the user is soft-deleted. */
  user: PrincipalUser | undefined;
  /** Live memberships in live organizations, oldest first. */
  memberships: PrincipalMembership[];
  /**
   * The organization the token is for: `orgId` if the user is a live member of it;
   * else (no orgId given) the user's default organization, one they joined themselves:
   * users.default_organization_id (the one they last created, accepted an invitation
   * to, or chose) if they are still in it, otherwise the oldest membership they created
   * or accepted. A membership someone else created ("direct") is never the default
   * unless the user chose it. Absent when `orgId` is not one of the user's
   * organizations (answer 403) or there is no such default.
   */
  active?: ActiveMembership;
}

interface PrincipalQueryRow {
  user: PrincipalUser | null;
  memberships: PrincipalMembership[];
  active: ActiveMembership | null;
}

/**
 * Everything the token exchange needs about an identity, in one round trip: one
 * statement whose CTEs pick the user, the memberships, the active one and its teams.
 * A deleted user yields no memberships (fail closed).
 */
export async function loadPrincipalData(
  db: Kysely<Database>,
  identityId: string,
  orgId?: string,
): Promise<PrincipalData> {
  const id = assertUuid(identityId, "identityId");
  const wanted = orgId === undefined ? null : assertUuid(orgId, "orgId");
  return withDomainErrors(async () => {
    const { rows } = await sql<PrincipalQueryRow>`
      with u as (
        select identity_id, email, name_first, name_last, signup_tier, default_organization_id,
               deactivated_at is not null as deactivated
          from users
         where identity_id = ${id} and deleted_at is null
      ), ms as (
        select m.id, m.created_at, m.organization_id, o.plan, o.require_mfa, m.role,
               m.organization_id is not distinct from (select default_organization_id from u) as chosen,
               m.joined_via <> 'direct' as own
          from memberships m
          join organizations o on o.id = m.organization_id and o.deleted_at is null
         where m.identity_id = ${id} and m.deleted_at is null
           and exists (select 1 from u)
      ), active as (
        select * from ms
         where case when ${wanted}::uuid is null then ms.chosen or ms.own
                    else ms.organization_id = ${wanted}::uuid end
         order by ms.chosen desc, ms.created_at, ms.id
         limit 1
      )
      select
        (select json_build_object(
                  'identityId', u.identity_id, 'email', u.email, 'nameFirst', u.name_first,
                  'nameLast', u.name_last, 'signupTier', u.signup_tier, 'deactivated', u.deactivated)
           from u) as "user",
        coalesce(
          (select json_agg(json_build_object('organizationId', ms.organization_id, 'plan', ms.plan, 'role', ms.role)
                           order by ms.created_at, ms.id)
             from ms),
          '[]'::json) as memberships,
        (select json_build_object(
                  'organizationId', a.organization_id, 'plan', a.plan, 'role', a.role,
                  'requireMfa', a.require_mfa,
                  'teams', coalesce(
                    (select json_agg(json_build_object('id', t.id, 'role', tm.role) order by t.id)
                       from team_memberships tm
                       join teams t on t.id = tm.team_id and t.deleted_at is null
                      where tm.identity_id = ${id} and t.organization_id = a.organization_id),
                    '[]'::json))
           from active a) as active
    `.execute(db);
    const row = rows[0];
    const data: PrincipalData = { user: row?.user ?? undefined, memberships: row?.memberships ?? [] };
    if (row?.active) data.active = row.active;
    return data;
  });
}
