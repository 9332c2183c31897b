// Who may do what in an organization, for every pair of roles, through the repositories
// against the real Postgres. The expectations are written out here, independently of
// src/domain/authz.ts, so a change of policy has to change this table too; and the
// table must name every role in ORG_ROLES, so a new role cannot slip in unranked.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEFAULT_PERMISSIONS } from "../../src/config.ts";
import { ORG_ROLES, type OrgRole } from "../../src/db/schema.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "../../src/domain/api-keys.ts";
import { listAudit } from "../../src/domain/audit.ts";
import { type Authority, OPERATOR } from "../../src/domain/authz.ts";
import { createInvitation, listInvitations, revokeInvitation } from "../../src/domain/invitations.ts";
import { addMember, changeRole, listMembers, removeMember } from "../../src/domain/memberships.ts";
import { changePlan, softDeleteOrganization, updateOrganization } from "../../src/domain/organizations.ts";
import { createTeam, listTeams } from "../../src/domain/teams.ts";
import { createSubscription, deleteSubscription, listSubscriptions } from "../../src/domain/webhooks.ts";
import { SecretBox } from "../../src/events/secret-box.ts";
import { auditRows, ctx, domainError, member, newOrg, newUser, useDb } from "./helpers.ts";

const box = new SecretBox(new Uint8Array(32).fill(7));

type MemberAction = `role:${OrgRole}` | "remove";

/** actor's role → target's role → what the actor may do to the target (another person). */
const ON_OTHERS: Record<OrgRole, Record<OrgRole, MemberAction[]>> = {
  owner: {
    owner: ["role:owner", "role:admin", "role:member", "remove"],
    admin: ["role:owner", "role:admin", "role:member", "remove"],
    member: ["role:owner", "role:admin", "role:member", "remove"],
  },
  admin: {
    owner: [],
    admin: ["role:admin", "role:member", "remove"],
    member: ["role:admin", "role:member", "remove"],
  },
  member: { owner: [], admin: [], member: [] },
};

/** actor's role → what they may do to themselves (leaving is always allowed). */
const ON_SELF: Record<OrgRole, MemberAction[]> = {
  owner: ["role:owner", "role:admin", "role:member", "remove"],
  admin: ["role:admin", "role:member", "remove"],
  member: ["remove"],
};

/** actor's role → roles they may invite, and revoke invitations of. */
const INVITE: Record<OrgRole, OrgRole[]> = {
  owner: ["owner", "admin", "member"],
  admin: ["admin", "member"],
  member: [],
};

/** actor's role → the organization-wide actions they may take. */
// "delete" last: it ends the organization.
const ORG_ACTIONS = [
  "read",
  "audit",
  "plan",
  "require_mfa",
  "invitations",
  "api_keys",
  "teams",
  "webhooks",
  "add_directly",
  "delete",
] as const;
type OrgAction = (typeof ORG_ACTIONS)[number];
const MAY_ORG: Record<OrgRole, OrgAction[]> = {
  owner: ["read", "audit", "plan", "require_mfa", "invitations", "api_keys", "teams", "webhooks", "delete"],
  admin: ["read", "audit", "invitations", "api_keys", "teams"],
  member: ["read"],
};

/** actor's role → API-key scopes they may put on a key (with the default permission map). */
const ALL_SCOPES = [...new Set(Object.values(DEFAULT_PERMISSIONS).flat())].sort();
const KEY_SCOPES: Record<OrgRole, string[]> = {
  owner: [
    "api_keys:write",
    "billing:write",
    "members:read",
    "members:write",
    "org:delete",
    "org:read",
    "org:write",
    "teams:read",
    "teams:write",
  ],
  admin: ["api_keys:write", "members:read", "members:write", "org:read", "org:write", "teams:read", "teams:write"],
  member: [],
};

const MEMBER_ACTIONS: MemberAction[] = [...ORG_ROLES.map((r) => `role:${r}` as const), "remove"];

describe("authorization tables", () => {
  it("name every role of ORG_ROLES", () => {
    for (const table of [ON_OTHERS, ON_SELF, INVITE, MAY_ORG, KEY_SCOPES]) {
      expect(Object.keys(table).sort()).toEqual([...ORG_ROLES].sort());
    }
    for (const role of ORG_ROLES) expect(Object.keys(ON_OTHERS[role]).sort()).toEqual([...ORG_ROLES].sort());
    expect(KEY_SCOPES.owner).toEqual(ALL_SCOPES);
  });
});

describe("authorization in the domain layer, actor role × target role × action (real Postgres)", () => {
  const ref = useDb();

  /** An organization (its creator stays an owner throughout) with an actor and a target of the given roles. */
  async function scene(actorRole: OrgRole, targetRole: OrgRole) {
    const { orgId, ownerId } = await newOrg(ref.db);
    const actor = await newUser(ref.db, `actor-${actorRole}`);
    const target = await newUser(ref.db, `target-${targetRole}`);
    await addMember(ref.db, { orgId, identityId: actor, role: actorRole }, ctx(), OPERATOR);
    await addMember(ref.db, { orgId, identityId: target, role: targetRole }, ctx(), OPERATOR);
    return { orgId, ownerId, actor, target };
  }

  async function roleOf(orgId: string, identityId: string): Promise<OrgRole | undefined> {
    return (await listMembers(ref.db, orgId, OPERATOR)).find((m) => m.identityId === identityId)?.role;
  }

  async function attempt(orgId: string, by: Authority, target: string, action: MemberAction, c = ctx()) {
    return action === "remove"
      ? removeMember(ref.db, { orgId, identityId: target }, c, by)
      : changeRole(ref.db, { orgId, identityId: target, role: action.slice(5) as OrgRole }, c, by);
  }

  for (const actorRole of ORG_ROLES) {
    for (const targetRole of ORG_ROLES) {
      for (const action of MEMBER_ACTIONS) {
        const allowed = ON_OTHERS[actorRole][targetRole].includes(action);
        it(`${actorRole} → ${targetRole}: ${action} is ${allowed ? "allowed" : "forbidden"}`, async () => {
          const s = await scene(actorRole, targetRole);
          const c = ctx(s.actor);
          const run = attempt(s.orgId, member(s.actor), s.target, action, c);
          if (allowed) {
            await run;
            expect(await roleOf(s.orgId, s.target)).toBe(action === "remove" ? undefined : action.slice(5));
          } else {
            const err = await domainError(run, "forbidden");
            expect(err.message.length).toBeGreaterThan(10);
            expect(await roleOf(s.orgId, s.target)).toBe(targetRole);
            expect(await auditRows(ref.db, c.requestId)).toEqual([]);
          }
          // The actor's own role never changes by acting on someone else.
          expect(await roleOf(s.orgId, s.actor)).toBe(actorRole);
        });
      }
    }

    for (const action of MEMBER_ACTIONS) {
      const allowed = ON_SELF[actorRole].includes(action);
      it(`${actorRole} → themselves: ${action} is ${allowed ? "allowed" : "forbidden"}`, async () => {
        const s = await scene(actorRole, "member");
        const run = attempt(s.orgId, member(s.actor), s.actor, action);
        if (allowed) {
          await run;
          expect(await roleOf(s.orgId, s.actor)).toBe(action === "remove" ? undefined : action.slice(5));
        } else {
          await domainError(run, "forbidden");
          expect(await roleOf(s.orgId, s.actor)).toBe(actorRole);
        }
      });
    }

    for (const invited of ORG_ROLES) {
      const allowed = INVITE[actorRole].includes(invited);
      it(`${actorRole} invites ${invited}, and revokes an invitation of ${invited}: ${allowed ? "allowed" : "forbidden"}`, async () => {
        const s = await scene(actorRole, "member");
        const by = member(s.actor);
        const email = `invitee-${randomUUID().slice(0, 8)}@example.test`;
        const other = await createInvitation(ref.db, { orgId: s.orgId, email, role: invited }, ctx(), OPERATOR);
        const create = () => createInvitation(ref.db, { orgId: s.orgId, email, role: invited }, ctx(s.actor), by);
        const revoke = () => revokeInvitation(ref.db, { orgId: s.orgId, id: other.invitation.id }, ctx(s.actor), by);
        if (allowed) {
          expect((await create()).invitation).toMatchObject({ role: invited, status: "pending" });
          expect((await revoke()).status).toBe("revoked");
        } else {
          await domainError(create(), "forbidden");
          await domainError(revoke(), "forbidden");
          const left = await listInvitations(ref.db, s.orgId, OPERATOR);
          expect(left.map((i) => i.id)).toEqual([other.invitation.id]);
        }
      });
    }

    for (const scope of ALL_SCOPES) {
      const allowed = KEY_SCOPES[actorRole].includes(scope);
      it(`${actorRole} creates an API key with ${scope}: ${allowed ? "allowed" : "forbidden"}`, async () => {
        const s = await scene(actorRole, "member");
        const run = createApiKey(ref.db, { orgId: s.orgId, name: "k", scopes: [scope] }, ctx(s.actor), member(s.actor));
        if (allowed) {
          expect((await run).apiKey).toMatchObject({ scopes: [scope], createdBy: s.actor, identityId: null });
        } else {
          const err = await domainError(run, "forbidden");
          if (actorRole !== "member") expect(err.message).toContain(scope);
          expect(await listApiKeys(ref.db, s.orgId, OPERATOR)).toEqual([]);
        }
      });
    }

    it(`${actorRole}: organization-wide actions ${MAY_ORG[actorRole].join(", ")}; nothing else`, async () => {
      const s = await scene(actorRole, "member");
      const by = member(s.actor);
      const tries: Record<OrgAction, () => Promise<unknown>> = {
        read: async () => {
          await listMembers(ref.db, s.orgId, by);
          await listTeams(ref.db, s.orgId, by);
        },
        audit: () => listAudit(ref.db, { organizationId: s.orgId, limit: 10 }, by),
        plan: () => changePlan(ref.db, s.orgId, "enterprise", ctx(s.actor), by),
        // On then off, on the enterprise plan (an operator's change, so only this is tried).
        require_mfa: async () => {
          await changePlan(ref.db, s.orgId, "enterprise", ctx(), OPERATOR);
          for (const requireMfa of [true, false]) {
            const org = await updateOrganization(ref.db, s.orgId, { requireMfa }, ctx(s.actor), by);
            expect(org.requireMfa).toBe(requireMfa);
          }
        },
        invitations: () => listInvitations(ref.db, s.orgId, by),
        api_keys: async () => {
          const k = await createApiKey(ref.db, { orgId: s.orgId, name: "k", scopes: [] }, ctx(), OPERATOR);
          await listApiKeys(ref.db, s.orgId, by);
          await revokeApiKey(ref.db, { orgId: s.orgId, id: k.apiKey.id }, ctx(s.actor), by);
        },
        teams: () => createTeam(ref.db, { orgId: s.orgId, name: `T ${randomUUID().slice(0, 6)}` }, ctx(s.actor), by),
        webhooks: async () => {
          const input = { organizationId: s.orgId, url: "https://hooks.example.test/", eventTypes: ["*"] };
          const made = await createSubscription(ref.db, input, ctx(s.actor), by, box);
          await listSubscriptions(ref.db, s.orgId, by);
          await deleteSubscription(ref.db, { organizationId: s.orgId, id: made.subscription.id }, ctx(s.actor), by);
        },
        add_directly: async () => {
          const someone = await newUser(ref.db);
          await addMember(ref.db, { orgId: s.orgId, identityId: someone, role: "member" }, ctx(s.actor), by);
        },
        // Last: it ends the organization.
        delete: () => softDeleteOrganization(ref.db, s.orgId, ctx(s.actor), by),
      };
      for (const action of ORG_ACTIONS) {
        if (MAY_ORG[actorRole].includes(action)) await tries[action]();
        else await domainError(tries[action](), "forbidden");
      }
    });
  }

  it("an owner cannot point a webhook at a loopback, private or link-local address; an operator can", async () => {
    const s = await scene("owner", "member");
    const by = member(s.actor);
    for (const url of [
      "http://127.0.0.1:7411/admin/keys/rotate",
      "http://localhost/",
      "http://api.localhost/",
      "http://10.1.2.3/",
      "http://172.20.0.1/",
      "http://192.168.1.1/",
      "http://169.254.169.254/latest/meta-data/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://2130706433/",
      "http://0.0.0.0/",
    ]) {
      const err = await domainError(
        createSubscription(ref.db, { organizationId: s.orgId, url, eventTypes: ["*"] }, ctx(s.actor), by, box),
        "invalid_input",
      );
      expect(err.message, url).toMatch(/public address/);
    }
    const internal = { organizationId: s.orgId, url: "http://127.0.0.1:9/", eventTypes: ["*"] };
    await createSubscription(ref.db, { ...internal, allowInternalUrls: true }, ctx(s.actor), by, box);
    await createSubscription(ref.db, internal, ctx(), OPERATOR, box);
    const pub = { organizationId: s.orgId, url: "https://hooks.example.test/x", eventTypes: ["*"] };
    await createSubscription(ref.db, pub, ctx(s.actor), by, box);
  });

  it("nobody but an operator adds a member directly; strangers may do nothing in the organization", async () => {
    const s = await scene("owner", "member");
    const stranger = await newUser(ref.db, "stranger");
    const by = member(stranger);
    await domainError(listMembers(ref.db, s.orgId, by), "forbidden");
    await domainError(
      changeRole(ref.db, { orgId: s.orgId, identityId: s.target, role: "admin" }, ctx(), by),
      "forbidden",
    );
    await domainError(removeMember(ref.db, { orgId: s.orgId, identityId: s.target }, ctx(), by), "forbidden");
    await domainError(
      createInvitation(ref.db, { orgId: s.orgId, email: "x@example.test", role: "member" }, ctx(), by),
      "forbidden",
    );
    await domainError(createApiKey(ref.db, { orgId: s.orgId, name: "k", scopes: [] }, ctx(), by), "forbidden");
    await domainError(listAudit(ref.db, { limit: 10 }, by), "forbidden");
    const hook = { url: "https://hooks.example.test/", eventTypes: ["*"] };
    await domainError(createSubscription(ref.db, { ...hook, organizationId: s.orgId }, ctx(), by, box), "forbidden");
    // Every organization's events are the operators' alone.
    await domainError(createSubscription(ref.db, hook, ctx(), member(s.actor), box), "forbidden");
    await domainError(listSubscriptions(ref.db, undefined, member(s.actor)), "forbidden");
    // A member of another organization gets nothing here either.
    const other = await newOrg(ref.db);
    await domainError(listMembers(ref.db, s.orgId, member(other.ownerId)), "forbidden");
    // An operator may.
    const someone = await newUser(ref.db);
    await addMember(ref.db, { orgId: s.orgId, identityId: someone, role: "member" }, ctx(), OPERATOR);
  });

  it("a member creates user-owned keys only for themselves", async () => {
    const s = await scene("owner", "member");
    const own = await createApiKey(
      ref.db,
      { orgId: s.orgId, identityId: s.actor, name: "mine", scopes: ["org:read"] },
      ctx(s.actor),
      member(s.actor),
    );
    expect(own.apiKey).toMatchObject({ identityId: s.actor, createdBy: s.actor });
    await domainError(
      createApiKey(
        ref.db,
        { orgId: s.orgId, identityId: s.target, name: "theirs", scopes: [] },
        ctx(),
        member(s.actor),
      ),
      "forbidden",
    );
  });

  it("the actor's role is read in the same transaction: a demoted admin cannot act any more", async () => {
    const s = await scene("admin", "member");
    await changeRole(ref.db, { orgId: s.orgId, identityId: s.actor, role: "member" }, ctx(), OPERATOR);
    await domainError(
      changeRole(ref.db, { orgId: s.orgId, identityId: s.target, role: "admin" }, ctx(), member(s.actor)),
      "forbidden",
    );
    await removeMember(ref.db, { orgId: s.orgId, identityId: s.actor }, ctx(), OPERATOR);
    await domainError(
      removeMember(ref.db, { orgId: s.orgId, identityId: s.target }, ctx(), member(s.actor)),
      "forbidden",
    );
  });

  it("two admins demoting each other at once both succeed or one waits: no deadlock, no error", async () => {
    const { orgId } = await newOrg(ref.db);
    const a = await newUser(ref.db);
    const b = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: a, role: "admin" }, ctx(), OPERATOR);
    await addMember(ref.db, { orgId, identityId: b, role: "admin" }, ctx(), OPERATOR);
    const results = await Promise.allSettled([
      changeRole(ref.db, { orgId, identityId: b, role: "member" }, ctx(), member(a)),
      changeRole(ref.db, { orgId, identityId: a, role: "member" }, ctx(), member(b)),
    ]);
    // The second to get the locks finds itself demoted already: forbidden, not a deadlock.
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect(rejected?.status === "rejected" && rejected.reason).toMatchObject({ code: "forbidden" });
  });
});
