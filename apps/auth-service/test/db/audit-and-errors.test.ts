import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/index.ts";
import { listAudit, writeAudit } from "../../src/domain/audit.ts";
import { OPERATOR } from "../../src/domain/authz.ts";
import { DomainError, mapPgError } from "../../src/domain/errors.ts";
import { addMember, changeRole } from "../../src/domain/memberships.ts";
import { changePlan, getOrganization } from "../../src/domain/organizations.ts";
import { getUser } from "../../src/domain/users.ts";
import { ctx, domainError, newOrg, newUser, useDb } from "./helpers.ts";

describe("audit log", () => {
  const ref = useDb();

  it("lists an organization's audit rows newest first, with limit and keyset paging", async () => {
    const { orgId, ownerId } = await newOrg(ref.db);
    const userId = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId: userId, role: "member" }, ctx(ownerId), OPERATOR);
    await changeRole(ref.db, { orgId, identityId: userId, role: "admin" }, ctx(ownerId), OPERATOR);
    await changePlan(ref.db, orgId, "enterprise", ctx(ownerId), OPERATOR);

    const all = await listAudit(ref.db, { organizationId: orgId, limit: 100 }, OPERATOR);
    expect(all.map((a) => a.action)).toEqual([
      "organization.plan_changed",
      "membership.role_changed",
      "membership.added",
      "membership.added",
      "organization.created",
    ]);
    expect(all.every((a) => a.organizationId === orgId && typeof a.actor === "string")).toBe(true);
    const page = await listAudit(ref.db, { organizationId: orgId, limit: 2 }, OPERATOR);
    expect(page.map((a) => a.id)).toEqual(all.slice(0, 2).map((a) => a.id));
    const rest = await listAudit(ref.db, { organizationId: orgId, limit: 100, beforeId: page[1]?.id ?? "1" }, OPERATOR);
    expect(rest.map((a) => a.id)).toEqual(all.slice(2).map((a) => a.id));
    await domainError(listAudit(ref.db, { limit: 0 }, OPERATOR), "invalid_input");
    await domainError(listAudit(ref.db, { organizationId: "x", limit: 5 }, OPERATOR), "invalid_input");
  });

  it("drops secret-looking fields and raw API keys from before/after", async () => {
    const c = ctx("operator");
    const raw = `sk_${"x".repeat(43)}`;
    const targetId = randomUUID();
    await ref.db.transaction().execute((trx) =>
      writeAudit(trx, c, {
        action: "api_key.created", // a real action: every audited change has an invalidation rule (affected.ts)
        targetType: "test",
        targetId,
        after: { name: "k", hash: "abc", privateKeyEnc: "v1.a.b", nested: { password: "p", note: raw } },
      }),
    );
    const [row] = await listAudit(ref.db, { targetType: "test", targetId, limit: 1 }, OPERATOR);
    expect(row?.after).toEqual({
      name: "k",
      hash: "[redacted]",
      privateKeyEnc: "[redacted]",
      nested: { password: "[redacted]", note: "[redacted]" },
    });
    expect(row?.requestId).toBe(c.requestId);
    // Its event, written in the same transaction, carries the same redacted copy.
    const event = await sql<{ payload: { type: string; data: { after: unknown }; request_id: string } }>`
      select payload from outbox where topic = 'event' and payload->'subject'->>'id' = ${targetId}`.execute(ref.db);
    expect(event.rows).toHaveLength(1);
    expect(event.rows[0]?.payload).toMatchObject({ type: "api_key.created", request_id: c.requestId });
    expect(event.rows[0]?.payload.data.after).toEqual(row?.after);
  });

  it("requires an actor, and rows cannot be edited afterwards", async () => {
    const { orgId } = await newOrg(ref.db);
    await domainError(changePlan(ref.db, orgId, "starter", { actor: "" }, OPERATOR), "invalid_input");
    expect((await getOrganization(ref.db, orgId))?.plan).toBe("pro");
    const error = await sql`update audit_log set actor = 'someone-else' where organization_id = ${orgId}`
      .execute(ref.db)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toMatch(/append-only/);
  });
});

describe("errors", () => {
  const ref = useDb();

  it("maps a bad uuid that reaches Postgres to invalid_input, and leaves other errors alone", async () => {
    const pgError = await sql`select ${"not-a-uuid"}::uuid`.execute(ref.db).then(
      () => undefined,
      (e: unknown) => e,
    );
    const mapped = mapPgError(pgError);
    expect(mapped).toBeInstanceOf(DomainError);
    expect(mapped).toMatchObject({ code: "invalid_input" });
    const plain = new Error("boom");
    expect(mapPgError(plain)).toBe(plain);
  });

  it("a refused connection is an error of its own, not a DomainError", async () => {
    const db = createDb("postgres://postgres@127.0.0.1:1/gatehouse", { max: 1 });
    try {
      const error = await getUser(db, randomUUID()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(DomainError);
    } finally {
      await db.destroy();
    }
  });

  describe("a database that accepts connections but never answers", () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let port = 0;
    beforeAll(async () => {
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      port = typeof address === "object" && address ? address.port : 0;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it("fails within a few seconds instead of hanging", async () => {
      const db = createDb(`postgres://postgres@127.0.0.1:${port}/gatehouse`, { max: 1 });
      const t0 = performance.now();
      try {
        const error = await getUser(db, randomUUID()).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(Error);
        expect(error).not.toBeInstanceOf(DomainError);
        expect(performance.now() - t0).toBeLessThan(8_000);
      } finally {
        await db.destroy();
      }
    });
  });
});
