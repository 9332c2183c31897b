import { createHash, randomUUID } from "node:crypto";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import {
  createApiKey,
  findApiKeyByRaw,
  listApiKeys,
  revokeApiKey,
  touchApiKeyLastUsed,
} from "../../src/domain/api-keys.ts";
import { OPERATOR } from "../../src/domain/authz.ts";
import { addMember, removeMember } from "../../src/domain/memberships.ts";
import { softDeleteOrganization } from "../../src/domain/organizations.ts";
import { auditRows, ctx, domainError, newOrg, newUser, useDb } from "./helpers.ts";

describe("API keys", () => {
  const ref = useDb();

  it("returns the raw key once and stores only its hash and display prefix", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const c = ctx(ownerId);
    const { rawKey, apiKey } = await createApiKey(
      ref.db,
      { orgId, identityId: ownerId, name: "CI", scopes: ["deploy", "read:logs"] },
      c,
      OPERATOR,
    );
    expect(rawKey).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({
      organizationId: orgId,
      identityId: ownerId,
      name: "CI",
      prefix: rawKey.slice(0, 12),
    });
    expect(apiKey.scopes).toEqual(["deploy", "read:logs"]);
    expect(apiKey).not.toHaveProperty("hash");

    // Every column of the row, and the whole audit log, as text: the raw key is nowhere.
    const row = await sql<{ row: string; hash: string }>`
      select row_to_json(k)::text as row, k.hash from api_keys k where id = ${apiKey.id}
    `.execute(ref.db);
    expect(row.rows[0]?.row).not.toContain(rawKey);
    expect(row.rows[0]?.hash).toBe(createHash("sha256").update(rawKey).digest("hex"));
    const leaks = await sql<{ n: number }>`
      select count(*)::int as n from audit_log a
       where strpos(row_to_json(a)::text, ${rawKey}) > 0 or strpos(row_to_json(a)::text, ${row.rows[0]?.hash ?? "?"}) > 0
    `.execute(ref.db);
    expect(leaks.rows[0]?.n).toBe(0);

    const audit = await auditRows(ref.db, c.requestId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: "api_key.created", target_id: apiKey.id, actor: ownerId });
    expect(audit[0]?.after).toMatchObject({ name: "CI", prefix: apiKey.prefix });
  });

  it("finds a live key by its raw value, and not a revoked, expired or unknown one", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const live = await createApiKey(ref.db, { orgId, name: "live", scopes: [] }, ctx(), OPERATOR);
    expect((await findApiKeyByRaw(ref.db, live.rawKey))?.id).toBe(live.apiKey.id);

    const revoked = await createApiKey(ref.db, { orgId, name: "revoked", scopes: [] }, ctx(), OPERATOR);
    const c = ctx(ownerId);
    const after = await revokeApiKey(ref.db, { orgId, id: revoked.apiKey.id }, c, OPERATOR);
    expect(after.revokedAt).toBeInstanceOf(Date);
    expect(await findApiKeyByRaw(ref.db, revoked.rawKey)).toBeUndefined();
    // Revoking again changes nothing and writes no second audit row.
    await revokeApiKey(ref.db, { orgId, id: revoked.apiKey.id }, c, OPERATOR);
    expect((await auditRows(ref.db, c.requestId)).map((a) => a.action)).toEqual(["api_key.revoked"]);

    const soon = await createApiKey(
      ref.db,
      { orgId, name: "expiring", scopes: [], expiresAt: new Date(Date.now() + 3_600_000) },
      ctx(),
      OPERATOR,
    );
    expect(await findApiKeyByRaw(ref.db, soon.rawKey)).toBeDefined();
    await ref.db
      .updateTable("api_keys")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("id", "=", soon.apiKey.id)
      .execute();
    expect(await findApiKeyByRaw(ref.db, soon.rawKey)).toBeUndefined();

    expect(await findApiKeyByRaw(ref.db, `sk_${"A".repeat(43)}`)).toBeUndefined();
    expect(await findApiKeyByRaw(ref.db, "sk_short")).toBeUndefined();
    expect(await findApiKeyByRaw(ref.db, live.rawKey.slice(0, -1))).toBeUndefined();
  });

  it("a key stops working when its organization is deleted or its owner leaves", async () => {
    const { orgId } = await newOrg(ref.db);
    const userId = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: userId, role: "admin" }, ctx(), OPERATOR);
    const owned = await createApiKey(ref.db, { orgId, identityId: userId, name: "mine", scopes: [] }, ctx(), OPERATOR);
    const orgKey = await createApiKey(ref.db, { orgId, name: "shared", scopes: [] }, ctx(), OPERATOR);
    expect(await findApiKeyByRaw(ref.db, owned.rawKey)).toBeDefined();
    await removeMember(ref.db, { orgId, identityId: userId }, ctx(), OPERATOR);
    expect(await findApiKeyByRaw(ref.db, owned.rawKey)).toBeUndefined();
    expect(await findApiKeyByRaw(ref.db, orgKey.rawKey)).toBeDefined();
    await softDeleteOrganization(ref.db, orgId, ctx(), OPERATOR);
    expect(await findApiKeyByRaw(ref.db, orgKey.rawKey)).toBeUndefined();
  });

  it("lists an organization's keys without hashes, and records last use", async () => {
    const { orgId } = await newOrg(ref.db);
    const a = await createApiKey(ref.db, { orgId, name: "a", scopes: ["x"] }, ctx(), OPERATOR);
    const b = await createApiKey(ref.db, { orgId, name: "b", scopes: [] }, ctx(), OPERATOR);
    const keys = await listApiKeys(ref.db, orgId, OPERATOR);
    expect(keys.map((k) => k.id).sort()).toEqual([a.apiKey.id, b.apiKey.id].sort());
    for (const k of keys) expect(Object.keys(k)).not.toContain("hash");
    expect(a.apiKey.lastUsedAt).toBeNull();
    await touchApiKeyLastUsed(ref.db, a.apiKey.id);
    expect((await findApiKeyByRaw(ref.db, a.rawKey))?.lastUsedAt).toBeInstanceOf(Date);
  });

  it("validates input and scopes keys to their organization", async () => {
    const { orgId } = await newOrg(ref.db);
    const other = await newOrg(ref.db);
    const outsider = await newUser(ref.db);
    await domainError(createApiKey(ref.db, { orgId, name: "", scopes: [] }, ctx(), OPERATOR), "invalid_input");
    await domainError(
      createApiKey(ref.db, { orgId, name: "k", scopes: ["has space"] }, ctx(), OPERATOR),
      "invalid_input",
    );
    await domainError(
      createApiKey(ref.db, { orgId, name: "k", scopes: [], expiresAt: new Date(Date.now() - 1000) }, ctx(), OPERATOR),
      "invalid_input",
    );
    await domainError(
      createApiKey(ref.db, { orgId, identityId: outsider, name: "k", scopes: [] }, ctx(), OPERATOR),
      "invalid_input",
    );
    await domainError(
      createApiKey(ref.db, { orgId: randomUUID(), name: "k", scopes: [] }, ctx(), OPERATOR),
      "not_found",
    );
    const key = await createApiKey(ref.db, { orgId, name: "k", scopes: [] }, ctx(), OPERATOR);
    await domainError(revokeApiKey(ref.db, { orgId: other.orgId, id: key.apiKey.id }, ctx(), OPERATOR), "not_found");
    await domainError(revokeApiKey(ref.db, { orgId, id: "nope" }, ctx(), OPERATOR), "invalid_input");
    await domainError(touchApiKeyLastUsed(ref.db, "nope"), "invalid_input");
  });
});
