import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import type { Plan } from "../../src/db/schema.ts";
import { OPERATOR } from "../../src/domain/authz.ts";
import { listMembers, listMembershipsForUser } from "../../src/domain/memberships.ts";
import {
  changePlan,
  getOrganization,
  onboard,
  softDeleteOrganization,
  updateOrganization,
} from "../../src/domain/organizations.ts";
import { loadPrincipalData } from "../../src/domain/principal.ts";
import { inTransaction } from "../../src/domain/support.ts";
import { auditRows, ctx, domainError, member, newOrg, newUser, useDb } from "./helpers.ts";

describe("organizations", () => {
  const ref = useDb();

  it("onboarding creates the organization with the user as owner, and audits both", async () => {
    const identityId = await newUser(ref.db);
    const c = ctx(identityId);
    const out = await onboard(ref.db, { identityId, name: "  Acme  ", plan: "starter" }, c);
    expect(out.created).toBe(true);
    expect(out.organization).toMatchObject({ name: "Acme", plan: "starter", deletedAt: null });
    expect(await listMembers(ref.db, out.organization.id, OPERATOR)).toEqual([
      expect.objectContaining({ identityId, role: "owner" }),
    ]);
    const audit = await auditRows(ref.db, c.requestId);
    expect(audit.map((a) => [a.action, a.actor, a.organization_id])).toEqual([
      ["organization.created", identityId, out.organization.id],
      ["membership.added", identityId, out.organization.id],
    ]);
  });

  it("onboarding twice returns the same organization", async () => {
    const identityId = await newUser(ref.db);
    const first = await onboard(ref.db, { identityId, name: "One", plan: "pro" }, ctx());
    const c = ctx();
    const second = await onboard(ref.db, { identityId, name: "Two", plan: "enterprise" }, c);
    expect(second).toEqual({ created: false, organization: first.organization });
    expect(await auditRows(ref.db, c.requestId)).toEqual([]);
  });

  it("concurrent onboarding double-submits create one organization", async () => {
    const identityId = await newUser(ref.db);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => onboard(ref.db, { identityId, name: "Race", plan: "pro" }, ctx())),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.organization.id)).size).toBe(1);
    expect(await listMembershipsForUser(ref.db, identityId)).toHaveLength(1);
  });

  it("onboarding an unknown user is not_found; bad input is invalid_input", async () => {
    await domainError(onboard(ref.db, { identityId: randomUUID(), name: "X", plan: "pro" }, ctx()), "not_found");
    const identityId = await newUser(ref.db);
    await domainError(onboard(ref.db, { identityId, name: " ", plan: "pro" }, ctx()), "invalid_input");
    await domainError(onboard(ref.db, { identityId, name: "x".repeat(201), plan: "pro" }, ctx()), "invalid_input");
    await domainError(onboard(ref.db, { identityId, name: "X", plan: "gold" as Plan }, ctx()), "invalid_input");
    await domainError(onboard(ref.db, { identityId: "nope", name: "X", plan: "pro" }, ctx()), "invalid_input");
  });

  it("the database refuses an organization created without an owner", async () => {
    const err = await domainError(
      inTransaction(ref.db, async (trx) => {
        await trx.insertInto("organizations").values({ name: "Ownerless", plan: "pro" }).execute();
      }),
      "last_owner",
    );
    expect(err.message).toMatch(/at least one owner/);
  });

  it("changes the plan and audits before/after", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const c = ctx(ownerId);
    const org = await changePlan(ref.db, orgId, "enterprise", c, OPERATOR);
    expect(org.plan).toBe("enterprise");
    expect((await getOrganization(ref.db, orgId))?.plan).toBe("enterprise");
    const audit = await auditRows(ref.db, c.requestId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: "organization.plan_changed",
      actor: ownerId,
      before: { plan: "pro" },
      after: { plan: "enterprise" },
    });
    await domainError(changePlan(ref.db, orgId, "platinum" as Plan, ctx(), OPERATOR), "invalid_input");
    await domainError(changePlan(ref.db, randomUUID(), "pro", ctx(), OPERATOR), "not_found");
    await domainError(changePlan(ref.db, "123", "pro", ctx(), OPERATOR), "invalid_input");
  });

  it("requires a second factor only on the enterprise plan, audited with its event in the same transaction", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    // Not on pro (the pricing page sells it with Enterprise): nothing written.
    const refused = ctx(ownerId);
    const err = await domainError(
      updateOrganization(ref.db, orgId, { requireMfa: true }, refused, member(ownerId)),
      "conflict",
    );
    expect(err.message).toMatch(/enterprise plan/);
    expect(await auditRows(ref.db, refused.requestId)).toEqual([]);
    // Plan and requirement in one request: both change, two audit rows, two events.
    const c = ctx(ownerId);
    const org = await updateOrganization(ref.db, orgId, { plan: "enterprise", requireMfa: true }, c, member(ownerId));
    expect(org).toMatchObject({ plan: "enterprise", requireMfa: true });
    const audit = await auditRows(ref.db, c.requestId);
    expect(audit.map((a) => [a.action, a.before, a.after])).toEqual([
      ["organization.plan_changed", { plan: "pro" }, { plan: "enterprise" }],
      ["organization.mfa_requirement_changed", { require_mfa: false }, { require_mfa: true }],
    ]);
    const events = await sql<{ type: string; data: unknown }>`
      select payload->>'type' as type, payload->'data' as data from outbox
       where topic = 'event' and payload->>'request_id' = ${c.requestId} order by id`.execute(ref.db);
    expect(events.rows).toEqual([
      { type: "organization.plan_changed", data: { before: { plan: "pro" }, after: { plan: "enterprise" } } },
      {
        type: "organization.mfa_requirement_changed",
        data: { before: { require_mfa: false }, after: { require_mfa: true } },
      },
    ]);
    // The token exchange sees it for every member.
    expect((await loadPrincipalData(ref.db, ownerId, orgId)).active?.requireMfa).toBe(true);
    // Setting it again changes nothing and writes nothing.
    const same = ctx(ownerId);
    await updateOrganization(ref.db, orgId, { requireMfa: true }, same, member(ownerId));
    expect(await auditRows(ref.db, same.requestId)).toEqual([]);
    // Leaving enterprise with it on is refused; turning it off in the same request works.
    await domainError(changePlan(ref.db, orgId, "pro", ctx(), OPERATOR), "conflict");
    // The database refuses it too, whatever writes the row.
    await expect(
      ref.db.updateTable("organizations").set({ plan: "starter" }).where("id", "=", orgId).execute(),
    ).rejects.toThrow(/organizations_require_mfa_plan/);
    const down = await updateOrganization(ref.db, orgId, { plan: "pro", requireMfa: false }, ctx(), member(ownerId));
    expect(down).toMatchObject({ plan: "pro", requireMfa: false });
    expect((await loadPrincipalData(ref.db, ownerId, orgId)).active?.requireMfa).toBe(false);
  });

  it("a soft-deleted organization disappears from reads, and onboarding then makes a new one", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const c = ctx(ownerId);
    await softDeleteOrganization(ref.db, orgId, c, OPERATOR);
    expect(await getOrganization(ref.db, orgId)).toBeUndefined();
    expect((await getOrganization(ref.db, orgId, { includeDeleted: true }))?.deletedAt).toBeInstanceOf(Date);
    expect(await listMembershipsForUser(ref.db, ownerId)).toEqual([]);
    expect((await auditRows(ref.db, c.requestId)).map((a) => a.action)).toEqual(["organization.deleted"]);
    await domainError(softDeleteOrganization(ref.db, orgId, ctx(), OPERATOR), "not_found");
    const again = await onboard(ref.db, { identityId: ownerId, name: "Phoenix", plan: "pro" }, ctx());
    expect(again.created).toBe(true);
    expect(again.organization.id).not.toBe(orgId);
  });
});
