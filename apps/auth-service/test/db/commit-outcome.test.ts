// A write whose COMMIT goes unanswered (Postgres killed, a network cut) may have
// committed. The caller must then hear the truth, not "failed": chaos-short caught a
// role change answered 503 that Postgres had committed. A TCP proxy in front of the
// real test Postgres drops the connection at the COMMIT, after or before passing it on.
import { connect, createServer, type Server, type Socket } from "node:net";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/index.ts";
import { OPERATOR } from "../../src/domain/authz.ts";
import { DomainError } from "../../src/domain/errors.ts";
import { addMember, changeRole } from "../../src/domain/memberships.ts";
import { ctx, databaseUrl, newOrg, newUser, useDb } from "./helpers.ts";

type Cut = "after-commit-reached-postgres" | "before-commit-reached-postgres" | undefined;

/** A proxy to Postgres that, once armed, cuts the first connection sending COMMIT as a simple query. */
function cuttingProxy(target: URL) {
  let armed: Cut;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    upstream.on("data", (chunk) => client.write(chunk));
    client.on("data", (chunk: Buffer) => {
      // 'Q' (simple query) carrying "commit": what Kysely sends to end a transaction.
      const commit = chunk[0] === 0x51 && /^commit\0/i.test(chunk.subarray(5).toString("latin1"));
      if (commit && armed !== undefined) {
        const cut = armed;
        armed = undefined;
        if (cut === "after-commit-reached-postgres") upstream.write(chunk);
        client.destroy(); // the answer never comes back
        setTimeout(() => upstream.destroy(), 200);
        return;
      }
      upstream.write(chunk);
    });
    client.on("close", () => upstream.end());
    upstream.on("close", () => client.destroy());
  });
  return {
    async start(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      const url = new URL(target);
      url.host = `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
      return url.toString();
    },
    arm(cut: Cut) {
      armed = cut;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("a write whose COMMIT is not answered", () => {
  const ref = useDb();
  let proxy: ReturnType<typeof cuttingProxy>;
  let db: ReturnType<typeof createDb>;
  beforeAll(async () => {
    proxy = cuttingProxy(new URL(databaseUrl()));
    db = createDb(await proxy.start(), { max: 2 });
  });
  afterEach(() => proxy.arm(undefined));
  afterAll(async () => {
    await db.destroy();
    await proxy.stop();
  });

  /** A member of a new organization, the role change to make through the cutting proxy, and their role as stored. */
  async function member() {
    const { orgId, ownerId } = await newOrg(ref.db);
    const identityId = await newUser(ref.db);
    await addMember(ref.db, { orgId, identityId, role: "member" }, ctx(ownerId), OPERATOR);
    const roleOf = async () =>
      (
        await sql<{ role: string }>`select role from memberships
          where organization_id = ${orgId} and identity_id = ${identityId} and deleted_at is null`.execute(ref.db)
      ).rows[0]?.role;
    const promote = () => changeRole(db, { orgId, identityId, role: "admin" }, ctx(ownerId), OPERATOR);
    return { promote, roleOf };
  }

  it("is reported done when Postgres committed it (asked after the connection died)", async () => {
    const m = await member();
    proxy.arm("after-commit-reached-postgres");
    const changed = await m.promote();
    expect(changed.role).toBe("admin");
    expect(await m.roleOf()).toBe("admin");
  });

  it("fails as an outage, not as a domain error, when the COMMIT never reached Postgres, and nothing changed", async () => {
    const m = await member();
    proxy.arm("before-commit-reached-postgres");
    const error = await m.promote().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(DomainError);
    expect(await m.roleOf()).toBe("member");
  });
});
