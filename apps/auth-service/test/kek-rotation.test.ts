import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { encryptPrivateKey, generateSigningKey } from "@gatehouse/tokens";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";
import { createDb, type Database } from "../src/db/index.ts";
import { listAudit } from "../src/domain/audit.ts";
import { OPERATOR } from "../src/domain/authz.ts";
import { insertSigningKey } from "../src/domain/signing-keys.ts";
import { type Running, startAuthService } from "./in-process.ts";
import { call, newUser } from "./support.ts";

const cli = resolve(import.meta.dirname, "../src/cli.ts");
const mainTs = resolve(import.meta.dirname, "../src/main.ts");
const spawn = (file: string, args: string[], env: Record<string, string>) =>
  promisify(execFile)(process.execPath, [file, ...args], { env: { PATH: process.env.PATH ?? "", ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
const run = (args: string[], env: Record<string, string>) => spawn(cli, args, env);
const NO_STACK_TRACE = /\bat .*\.ts:\d+/;

// Two KEKs in the two accepted spellings: the old one hex, the new one base64.
const OLD_KEK = randomBytes(32).toString("hex");
const NEW_KEK = randomBytes(32).toString("base64");

const jwksOf = async (svc: Running) => (await fetch(`${svc.url}/.well-known/jwks.json`)).json();
const verifyWith = (svc: Running, jwt: string) =>
  jwtVerify(jwt, createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`)), {
    issuer: "http://auth.in-process.test",
    audience: "gatehouse",
  });
const introspect = (svc: Running, jwt: string) =>
  call("/admin/introspect", {
    base: svc.admin,
    json: { token: jwt },
    headers: { authorization: `Bearer ${svc.adminToken}` },
  });
const mint = async (svc: Running, sessionToken: string) => {
  const r = await call("/v1/token", { base: svc.url, token: sessionToken, json: {} });
  expect(r.status).toBe(200);
  return r.body.access_token as string;
};
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid as string;

/** Every signing-key row exactly as stored (ciphertexts and timestamps included), and the audit-log length. */
async function snapshot(db: Kysely<Database>) {
  const rows = await sql<{ row: string }>`select row_to_json(k)::text as row from signing_keys k order by kid`.execute(
    db,
  );
  const audit = await sql<{ n: string }>`select count(*) as n from audit_log`.execute(db);
  return { rows: rows.rows.map((r) => r.row), auditRows: audit.rows[0]?.n };
}

describe("rotating the key-encryption key (SIGNING_KEY_KEK_PREVIOUS + reencrypt-keys)", () => {
  let db: Kysely<Database>;
  let databaseUrl: string;
  let first: Running | undefined;
  let during: Running | undefined;
  let after: Running | undefined;
  let sessionToken: string;
  let signedBefore: string;
  let jwksBefore: unknown;
  let activeKid: string;

  beforeAll(async () => {
    // Keys in every state, all under the old KEK: retired, active (signed the token), next.
    first = await startAuthService({ SIGNING_KEY_KEK: OLD_KEK, TOKEN_TTL_SECONDS: "60" });
    databaseUrl = first.databaseUrl;
    db = createDb(databaseUrl, { max: 2 });
    await first.app.keys.rotate({ actor: "test" }, { force: true });
    await first.app.keys.rotate({ actor: "test" }, { now: new Date(Date.now() + 10 * 60_000) });
    const states = await sql<{ state: string }>`select state from signing_keys order by created_at`.execute(db);
    expect(states.rows.map((r) => r.state)).toEqual(["retired", "active", "next"]);
    sessionToken = (await newUser("kek-rotation")).sessionToken;
    signedBefore = await mint(first, sessionToken);
    await first.stop();
    first = undefined;
  });
  afterAll(async () => {
    for (const svc of [first, during, after]) await svc?.stop();
    await db?.destroy();
  });

  it("restarted with a new KEK and the old one as previous, the service keeps signing with the same keys", async () => {
    during = await startAuthService({
      DATABASE_URL: databaseUrl,
      SIGNING_KEY_KEK: NEW_KEK,
      SIGNING_KEY_KEK_PREVIOUS: OLD_KEK,
      TOKEN_TTL_SECONDS: "60",
    });
    // The token signed before the KEK changed still verifies, by JWKS and by introspection.
    await verifyWith(during, signedBefore);
    expect((await introspect(during, signedBefore)).body.active).toBe(true);
    // The active key (still under the old KEK) signs new tokens.
    const signedDuring = await mint(during, sessionToken);
    expect(kidOf(signedDuring)).toBe(kidOf(signedBefore));
    await verifyWith(during, signedDuring);
  });

  it("rotate-keys works mid-rotation: it promotes a key still under the old KEK and writes new ones under the new KEK", async () => {
    const env = { DATABASE_URL: databaseUrl, SIGNING_KEY_KEK: NEW_KEK, SIGNING_KEY_KEK_PREVIOUS: OLD_KEK };
    const promote = await run(["rotate-keys", "--force"], env);
    expect(promote.stderr).toBe("");
    expect(promote.code).toBe(0);
    expect(promote.stdout).toMatch(new RegExp(`active key is now \\S+; ${kidOf(signedBefore)} is retiring`));
    const publish = await run(["rotate-keys"], env);
    expect(publish.code).toBe(0);
    expect(publish.stdout).toMatch(/published next key/);

    if (!during) throw new Error("service not started");
    await during.app.keys.reload(); // what the 30 s refresh (or the Redis notice) does
    const signed = await mint(during, sessionToken);
    activeKid = kidOf(signed);
    expect(activeKid).not.toBe(kidOf(signedBefore));
    await verifyWith(during, signed);
    await verifyWith(during, signedBefore);
    jwksBefore = await jwksOf(during);
  });

  it("reencrypt-keys moves every stored key (retired included) to the new KEK, audits it without key material, and is harmless twice", async () => {
    const env = { DATABASE_URL: databaseUrl, SIGNING_KEY_KEK: NEW_KEK, SIGNING_KEY_KEK_PREVIOUS: OLD_KEK };
    const before = await snapshot(db);
    const oldCiphertexts = (await db.selectFrom("signing_keys").select("private_key_enc").execute()).map(
      (r) => r.private_key_enc,
    );

    const r = await run(["reencrypt-keys"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Four keys: retired, retiring and active were under the old KEK; the next one was made under the new KEK.
    expect(r.stdout).toMatch(/re-encrypted 3 of 4 signing keys under SIGNING_KEY_KEK \(1 already were\)/);
    expect(r.stdout).toMatch(/SIGNING_KEY_KEK_PREVIOUS can be removed/);
    // Webhook subscriptions' secrets too (none in this database; events.test.ts and secret-box.unit.test.ts hold the rest).
    expect(r.stdout).toMatch(/re-sealed 0 webhook subscription secrets under SIGNING_KEY_KEK/);
    const reencrypted = [...r.stdout.matchAll(/^re-encrypted (\S+)$/gm)].map((m) => m[1]);
    expect(reencrypted).toHaveLength(3);

    // One audit row per re-encrypted key, saying which KEK it moved from and to, and nothing secret.
    const audit = (await listAudit(db, { targetType: "signing_key", limit: 100 }, OPERATOR)).filter(
      (a) => a.action === "signing_key.reencrypted",
    );
    expect(audit.map((a) => a.targetId).sort()).toEqual([...reencrypted].sort());
    for (const a of audit) {
      expect(a.actor).toBe("operator");
      expect(a.before).toMatchObject({ kid: a.targetId, kek: "SIGNING_KEY_KEK_PREVIOUS #1" });
      expect(a.after).toMatchObject({ kid: a.targetId, kek: "SIGNING_KEY_KEK" });
    }
    const auditText = JSON.stringify(audit);
    const newCiphertexts = (await db.selectFrom("signing_keys").select("private_key_enc").execute()).map(
      (row) => row.private_key_enc,
    );
    for (const c of [...oldCiphertexts, ...newCiphertexts]) expect(auditText).not.toContain(c);
    for (const secret of [OLD_KEK, NEW_KEK]) expect(auditText).not.toContain(secret);
    expect(auditText).not.toMatch(/"(d|p|q|dp|dq|qi)":/);

    // Running it again finds nothing to do and changes nothing at all.
    const once = await snapshot(db);
    expect(once.rows).not.toEqual(before.rows);
    const again = await run(["reencrypt-keys"], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/re-encrypted 0 of 4 signing keys under SIGNING_KEY_KEK \(4 already were\)/);
    expect(await snapshot(db)).toEqual(once);
  });

  it("after re-encryption, the service with only the new KEK signs with the same key and publishes the same JWKS", async () => {
    await during?.stop();
    during = undefined;
    after = await startAuthService({ DATABASE_URL: databaseUrl, SIGNING_KEY_KEK: NEW_KEK, TOKEN_TTL_SECONDS: "60" });
    expect(await jwksOf(after)).toEqual(jwksBefore);
    const signed = await mint(after, sessionToken);
    expect(kidOf(signed)).toBe(activeKid);
    await verifyWith(after, signed);
    await verifyWith(after, signedBefore);
    expect((await introspect(after, signedBefore)).body.active).toBe(true);
  });

  it("with only the old KEK, the service refuses to start and reencrypt-keys refuses, naming the key, without a stack trace", async () => {
    const stack = inject("stack");
    const start = await spawn(mainTs, [], {
      AUTH_HOST: "127.0.0.1",
      AUTH_PUBLIC_PORT: "0",
      AUTH_ADMIN_PORT: "0",
      DATABASE_URL: databaseUrl,
      REDIS_URL: stack.REDIS_URL ?? "",
      KRATOS_PUBLIC_URL: stack.KRATOS_PUBLIC_URL ?? "",
      KRATOS_ADMIN_URL: stack.KRATOS_ADMIN_URL ?? "",
      TOKEN_ISSUER: "http://auth.in-process.test",
      SIGNING_KEY_KEK: OLD_KEK,
      WEBHOOK_SECRET: "in-process-webhook-secret-00000000000000",
      ADMIN_API_TOKEN: "in-process-admin-token-0000000000000000",
      LOG_LEVEL: "silent",
    });
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(
      new RegExp(`failed to start: signing key ${activeKid} cannot be decrypted: SIGNING_KEY_KEK does not open it`),
    );
    expect(start.stderr).toMatch(/SIGNING_KEY_KEK_PREVIOUS/); // the hint
    expect(start.stderr).not.toMatch(NO_STACK_TRACE);

    const before = await snapshot(db);
    const r = await run(["reencrypt-keys"], { DATABASE_URL: databaseUrl, SIGNING_KEY_KEK: OLD_KEK });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: signing key \S+ cannot be decrypted: .*; no key was re-encrypted$/m);
    expect(r.stderr).not.toMatch(NO_STACK_TRACE);
    expect(await snapshot(db)).toEqual(before);
  });
});

describe("a bad SIGNING_KEY_KEK_PREVIOUS", () => {
  const good: Record<string, string> = {
    DATABASE_URL: "postgres://u@127.0.0.1:5432/gatehouse",
    REDIS_URL: "redis://127.0.0.1:6379",
    KRATOS_PUBLIC_URL: "http://127.0.0.1:4433",
    KRATOS_ADMIN_URL: "http://127.0.0.1:4434",
    TOKEN_ISSUER: "https://auth.example.com",
    SIGNING_KEY_KEK: NEW_KEK,
    WEBHOOK_SECRET: "w".repeat(32),
    ADMIN_API_TOKEN: "a".repeat(32),
  };
  const configError = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error("expected a ConfigError");
  };

  it("is refused at start-up, naming the variable (and the entry in a list) but never its value", async () => {
    expect(configError({ ...good, SIGNING_KEY_KEK_PREVIOUS: "not-a-kek" })).toMatch(/^ {2}SIGNING_KEY_KEK_PREVIOUS: /m);
    const listed = configError({ ...good, SIGNING_KEY_KEK_PREVIOUS: `${OLD_KEK},${"ab".repeat(16)}` });
    expect(listed).toMatch(/SIGNING_KEY_KEK_PREVIOUS: entry 2: /);
    expect(listed).not.toContain(OLD_KEK);
    // Unset or empty (what an empty Secret key or `${VAR:-}` gives) means no previous KEK.
    expect(loadConfig(good).previousKeks).toEqual([]);
    expect(loadConfig({ ...good, SIGNING_KEY_KEK_PREVIOUS: "" }).previousKeks).toEqual([]);
    expect(loadConfig({ ...good, SIGNING_KEY_KEK_PREVIOUS: `${OLD_KEK}, ${NEW_KEK}` }).previousKeks).toHaveLength(2);

    const r = await spawn(mainTs, [], { ...good, SIGNING_KEY_KEK_PREVIOUS: "short" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SIGNING_KEY_KEK_PREVIOUS/);
    expect(r.stderr).not.toMatch(NO_STACK_TRACE);
  });

  it("stops reencrypt-keys and rotate-keys with exit code 2 before touching the database", async () => {
    // The database URL points nowhere: the variable must be refused before any connection.
    const env = { DATABASE_URL: "postgres://u@127.0.0.1:1/none", SIGNING_KEY_KEK: NEW_KEK };
    for (const command of ["reencrypt-keys", "rotate-keys"]) {
      const r = await run([command], { ...env, SIGNING_KEY_KEK_PREVIOUS: "abc" });
      expect(r.code, command).toBe(2);
      expect(r.stderr).toMatch(/^error: SIGNING_KEY_KEK_PREVIOUS: /);
    }
    const noKek = await run(["reencrypt-keys"], { DATABASE_URL: env.DATABASE_URL });
    expect(noKek.code).toBe(2);
    expect(noKek.stderr).toMatch(/SIGNING_KEY_KEK is not set/);
    const extra = await run(["reencrypt-keys", "--all"], env);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/--all/);
  });
});

describe("reencrypt-keys with a key no configured KEK opens", () => {
  let svc: Running | undefined;
  let db: Kysely<Database>;
  let rogueKid: string;

  beforeAll(async () => {
    svc = await startAuthService({ SIGNING_KEY_KEK: OLD_KEK });
    await svc.app.keys.rotate({ actor: "test" }, { force: true });
    db = createDb(svc.databaseUrl, { max: 2 });
    // Written last, so it is reached after the old-KEK keys have been re-encrypted in the transaction.
    const rogue = await generateSigningKey("RS256");
    rogueKid = rogue.kid;
    await insertSigningKey(
      db,
      {
        kid: rogue.kid,
        alg: rogue.alg,
        publicJwk: { ...rogue.publicJwk },
        privateKeyEnc: await encryptPrivateKey(rogue.privateJwk, randomBytes(32), rogue.kid),
        state: "retired",
      },
      { actor: "test" },
    );
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.destroy();
  });

  it("aborts naming that kid and leaves every row byte-for-byte as it was", async () => {
    if (!svc) throw new Error("service not started");
    const before = await snapshot(db);
    const jwks = await jwksOf(svc);
    const r = await run(["reencrypt-keys"], {
      DATABASE_URL: svc.databaseUrl,
      SIGNING_KEY_KEK: NEW_KEK,
      SIGNING_KEY_KEK_PREVIOUS: OLD_KEK,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: signing key ${rogueKid} cannot be decrypted: neither SIGNING_KEY_KEK nor any SIGNING_KEY_KEK_PREVIOUS opens it; no key was re-encrypted$`,
        "m",
      ),
    );
    expect(r.stderr).not.toMatch(NO_STACK_TRACE);
    expect(await snapshot(db)).toEqual(before); // no key rewritten, no audit row

    // The service, still on the old KEK, is unaffected and keeps signing with its key.
    await svc.app.keys.reload();
    expect(await jwksOf(svc)).toEqual(jwks);
    const u = await newUser("kek-rogue");
    await verifyWith(svc, await mint(svc, u.sessionToken));
  });
});
