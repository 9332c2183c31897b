import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { getUser, upsertUserFromKratos } from "../../src/domain/users.ts";
import { auditRows, ctx, domainError, useDb } from "./helpers.ts";

describe("users from Kratos", () => {
  const ref = useDb();

  it("creates the user once and audits the creation with actor and request id", async () => {
    const identityId = randomUUID();
    const c = ctx("kratos-webhook");
    const first = await upsertUserFromKratos(
      ref.db,
      { identityId, email: "ada@example.test", nameFirst: "Ada", nameLast: "Lovelace", signupTier: "pro" },
      c,
    );
    expect(first.created).toBe(true);
    expect(first.user).toMatchObject({
      identityId,
      email: "ada@example.test",
      nameFirst: "Ada",
      nameLast: "Lovelace",
      signupTier: "pro",
      deletedAt: null,
    });
    const again = await upsertUserFromKratos(ref.db, { identityId, email: "ada@example.test" }, c);
    expect(again.created).toBe(false);

    const audit = await auditRows(ref.db, c.requestId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: "kratos-webhook",
      action: "user.created",
      target_type: "user",
      target_id: identityId,
      request_id: c.requestId,
    });
  });

  it("20 concurrent upserts for one identity give one user row and one user.created audit row", async () => {
    const identityId = randomUUID();
    const c = ctx("kratos-webhook");
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        upsertUserFromKratos(ref.db, { identityId, email: `dup${i}@example.test` }, c),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const rows = await ref.db.selectFrom("users").select("email").where("identity_id", "=", identityId).execute();
    expect(rows).toHaveLength(1);
    const created = await ref.db
      .selectFrom("audit_log")
      .select("id")
      .where("action", "=", "user.created")
      .where("target_id", "=", identityId)
      .execute();
    expect(created).toHaveLength(1);
  });

  it("updates email and names, but never replaces a stored signup tier", async () => {
    const identityId = randomUUID();
    await upsertUserFromKratos(
      ref.db,
      { identityId, email: "a@example.test", nameFirst: "A", signupTier: "starter" },
      ctx(),
    );

    // Names omitted: kept. Tier null or different: the stored tier stays.
    await upsertUserFromKratos(ref.db, { identityId, email: "b@example.test", signupTier: null }, ctx());
    await upsertUserFromKratos(ref.db, { identityId, email: "b@example.test", signupTier: "enterprise" }, ctx());
    expect(await getUser(ref.db, identityId)).toMatchObject({
      email: "b@example.test",
      nameFirst: "A",
      signupTier: "starter",
    });

    // An explicit null clears a name.
    await upsertUserFromKratos(ref.db, { identityId, email: "b@example.test", nameFirst: null, nameLast: "Z" }, ctx());
    expect(await getUser(ref.db, identityId)).toMatchObject({ nameFirst: null, nameLast: "Z" });
  });

  it("fills a missing signup tier later", async () => {
    const identityId = randomUUID();
    await upsertUserFromKratos(ref.db, { identityId, email: "t@example.test" }, ctx());
    await upsertUserFromKratos(ref.db, { identityId, email: "t@example.test", signupTier: "pro" }, ctx());
    expect((await getUser(ref.db, identityId))?.signupTier).toBe("pro");
  });

  it("rejects bad input as invalid_input, not a raw Postgres error", async () => {
    await domainError(
      upsertUserFromKratos(ref.db, { identityId: "not-a-uuid", email: "x@example.test" }, ctx()),
      "invalid_input",
    );
    await domainError(
      upsertUserFromKratos(ref.db, { identityId: randomUUID(), email: "nope" }, ctx()),
      "invalid_input",
    );
    await domainError(getUser(ref.db, "42"), "invalid_input");
    expect(await getUser(ref.db, randomUUID())).toBeUndefined();
  });
});
