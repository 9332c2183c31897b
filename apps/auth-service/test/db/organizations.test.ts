import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Plan } from "../../src/db/schema.ts";
import { OPERATOR } from "../../src/domain/authz.ts";
import { listMembers, listMembershipsForUser } from "../../src/domain/memberships.ts";
import { changePlan, getOrganization, onboard, softDeleteOrganization } from "../../src/domain/organizations.ts";
import { inTransaction } from "../../src/domain/support.ts";
import { auditRows, ctx, domainError, newOrg, newUser, useDb } from "./helpers.ts";

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
