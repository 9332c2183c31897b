import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { beforeEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/db/schema.ts";
import {
  insertSigningKey,
  listSigningKeys,
  type NewSigningKey,
  transitionSigningKeys,
} from "../../src/domain/signing-keys.ts";
import { inTransaction } from "../../src/domain/support.ts";
import { auditRows, ctx, domainError, useScratchDb } from "./helpers.ts";

function newKey(state: NewSigningKey["state"], extra: Partial<NewSigningKey> = {}): NewSigningKey {
  const kid = `kid-${randomBytes(8).toString("hex")}`;
  const publicJwk: JsonObject = {
    kty: "OKP",
    crv: "Ed25519",
    x: randomBytes(32).toString("base64url"),
    kid,
    alg: "EdDSA",
  };
  return {
    kid,
    alg: "EdDSA",
    publicJwk,
    privateKeyEnc: `v1.${randomBytes(12).toString("base64url")}.secret`,
    state,
    ...extra,
  };
}

// One active key per database is global state, so these tests get a database of
// their own (an auth-service under test may be signing with the shared one).
describe("signing keys", () => {
  const ref = useScratchDb();

  beforeEach(async () => {
    await ref.db.deleteFrom("signing_keys").execute();
  });

  async function activeKids(): Promise<string[]> {
    return (await listSigningKeys(ref.db, ["active"])).map((k) => k.kid);
  }

  it("stores a key and audits kid and state, never the private key", async () => {
    const c = ctx("system");
    const input = newKey("next");
    const stored = await insertSigningKey(ref.db, input, c);
    expect(stored).toMatchObject({
      kid: input.kid,
      state: "next",
      publicJwk: input.publicJwk,
      privateKeyEnc: input.privateKeyEnc,
    });
    expect(stored.activatedAt).toBeNull();
    const audit = await auditRows(ref.db, c.requestId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: "signing_key.created",
      target_id: input.kid,
      after: { kid: input.kid, state: "next" },
    });
    expect(JSON.stringify(audit)).not.toContain(input.privateKeyEnc);
    expect((await listSigningKeys(ref.db, ["next"])).map((k) => k.kid)).toEqual([input.kid]);
    await domainError(insertSigningKey(ref.db, input, ctx()), "conflict");
  });

  it("refuses a public JWK that carries private material, in the repository and in the database", async () => {
    const bad = newKey("next", {});
    bad.publicJwk = { ...bad.publicJwk, d: "private!" };
    await domainError(insertSigningKey(ref.db, bad, ctx()), "invalid_input");
    await domainError(
      inTransaction(ref.db, async (trx) => {
        await trx
          .insertInto("signing_keys")
          .values({
            kid: bad.kid,
            alg: "EdDSA",
            public_jwk: JSON.stringify(bad.publicJwk),
            private_key_enc: "x",
            state: "next",
          })
          .execute();
      }),
      "invalid_input",
    );
  });

  it("rotates: the new key becomes active and the old one retiring, with audit rows", async () => {
    const old = await insertSigningKey(ref.db, newKey("active"), ctx());
    const next = await insertSigningKey(ref.db, newKey("next"), ctx());
    const c = ctx("system");
    await transitionSigningKeys(
      ref.db,
      async (_trx, ops) => {
        expect(ops.keys.map((k) => k.kid)).toEqual([old.kid, next.kid]);
        await ops.activate(next.kid);
      },
      c,
    );
    const keys = await listSigningKeys(ref.db);
    expect(keys.map((k) => [k.kid, k.state])).toEqual([
      [old.kid, "retiring"],
      [next.kid, "active"],
    ]);
    expect(keys[0]?.retiringAt).toBeInstanceOf(Date);
    expect(keys[1]?.activatedAt).toBeInstanceOf(Date);
    const audit = await auditRows(ref.db, c.requestId);
    expect(audit.map((a) => [a.target_id, a.before, a.after])).toEqual([
      [old.kid, { kid: old.kid, state: "active" }, { kid: old.kid, state: "retiring" }],
      [next.kid, { kid: next.kid, state: "next" }, { kid: next.kid, state: "active" }],
    ]);
  });

  it("two instances rotating at once still leave exactly one active key", async () => {
    await insertSigningKey(ref.db, newKey("active"), ctx());
    // Each "instance" promotes the oldest next key it sees, adding one if there is none.
    const rotate = () =>
      transitionSigningKeys(
        ref.db,
        async (_trx, ops) => {
          const next = ops.keys.find((k) => k.state === "next") ?? (await ops.insert(newKey("next")));
          await ops.activate(next.kid);
          return next.kid;
        },
        ctx("system"),
      );
    const promoted = await Promise.all([rotate(), rotate(), rotate()]);
    expect(new Set(promoted).size).toBe(3);
    expect(await activeKids()).toHaveLength(1);
    expect((await listSigningKeys(ref.db, ["retiring"])).length).toBe(3);
  });

  it("the database allows one active key even without the lock", async () => {
    await insertSigningKey(ref.db, newKey("active"), ctx());
    const other = await insertSigningKey(ref.db, newKey("next"), ctx());
    await domainError(
      inTransaction(ref.db, async (trx) => {
        await sql`update signing_keys set state = 'active' where kid = ${other.kid}`.execute(trx);
      }),
      "conflict",
    );
    await domainError(
      transitionSigningKeys(ref.db, (_trx, ops) => ops.setState(other.kid, "active"), ctx()),
      "conflict",
    );
    await domainError(insertSigningKey(ref.db, newKey("active"), ctx()), "conflict");
    expect(await activeKids()).toHaveLength(1);
  });

  it("never moves a key backwards, and honours not_before unless forced", async () => {
    const active = await insertSigningKey(ref.db, newKey("active"), ctx());
    const future = await insertSigningKey(
      ref.db,
      newKey("next", { notBefore: new Date(Date.now() + 3_600_000) }),
      ctx(),
    );
    await domainError(
      transitionSigningKeys(ref.db, (_trx, ops) => ops.setState(active.kid, "next"), ctx()),
      "invalid_input",
    );
    await domainError(
      transitionSigningKeys(ref.db, (_trx, ops) => ops.activate(future.kid), ctx()),
      "invalid_input",
    );
    expect(await activeKids()).toEqual([active.kid]);
    await transitionSigningKeys(ref.db, (_trx, ops) => ops.activate(future.kid, { force: true }), ctx());
    expect(await activeKids()).toEqual([future.kid]);
  });

  it("a transition that throws changes nothing", async () => {
    const active = await insertSigningKey(ref.db, newKey("active"), ctx());
    const c = ctx();
    await expect(
      transitionSigningKeys(
        ref.db,
        async (_trx, ops) => {
          await ops.setState(active.kid, "retired");
          throw new Error("changed my mind");
        },
        c,
      ),
    ).rejects.toThrow("changed my mind");
    expect(await activeKids()).toEqual([active.kid]);
    expect(await auditRows(ref.db, c.requestId)).toEqual([]);
  });

  it("repository calls made with the transition's transaction join it", async () => {
    const at = new Date("2030-01-01T00:00:00Z");
    await transitionSigningKeys(
      ref.db,
      async (trx, ops) => {
        if ((await listSigningKeys(trx, ["active"])).length > 0) return;
        const key = await insertSigningKey(trx, newKey("next"), ctx());
        await ops.setState(key.kid, "active", at);
      },
      ctx(),
    );
    const [key] = await listSigningKeys(ref.db, ["active"]);
    expect(key?.activatedAt?.toISOString()).toBe(at.toISOString());
  });
});
