import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { Migrator, NO_MIGRATIONS } from "kysely/migration";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, migrateToLatest, migrationNames } from "../../src/db/index.ts";
import { migrations } from "../../src/db/migrations/index.ts";
import { databaseUrl, useDb } from "./helpers.ts";

const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));
const TABLES = [
  "api_keys",
  "audit_log",
  "invitations",
  "memberships",
  "organizations",
  "outbox",
  "signing_keys",
  "team_memberships",
  "teams",
  "users",
  "webhook_deliveries",
  "webhook_subscriptions",
];

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const STACK_TRACE = /^\s+at /m;

describe("migrations on the shared test database", () => {
  const ref = useDb();

  it("brings the database to the latest migration, and running again applies nothing", async () => {
    await migrateToLatest(ref.db);
    expect(await migrateToLatest(ref.db)).toEqual({ applied: [] });
    const executed = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(ref.db);
    expect(executed.rows.map((r) => r.name)).toEqual(migrationNames());
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = 'public' and table_name = any(${TABLES})
    `.execute(ref.db);
    expect(tables.rows.map((r) => r.table_name).sort()).toEqual(TABLES);
  });
});

// A scratch database shows what the shared one cannot: a first migration, run by
// several processes at once, a down migration, and the CLI against an empty database.
describe("migrations on a fresh database", () => {
  const name = `gh_migrate_${randomBytes(6).toString("hex")}`;
  let scratchUrl = "";
  const ref = useDb();

  beforeAll(async () => {
    await sql.raw(`create database ${name}`).execute(ref.db);
    const url = new URL(databaseUrl());
    url.pathname = `/${name}`;
    scratchUrl = url.toString();
  });
  afterAll(async () => {
    await sql.raw(`drop database if exists ${name} with (force)`).execute(ref.db);
  });

  it("four concurrent migrators: exactly one applies each migration, none fails", async () => {
    const dbs = Array.from({ length: 4 }, () => createDb(scratchUrl, { max: 2 }));
    try {
      const results = await Promise.all(dbs.map((db) => migrateToLatest(db)));
      const applied = results.flatMap((r) => r.applied).sort();
      expect(applied).toEqual(migrationNames());
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
  });

  it("migrates down to nothing and up again", async () => {
    const db = createDb(scratchUrl, { max: 1 });
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
      const down = await migrator.migrateTo(NO_MIGRATIONS);
      expect(down.error).toBeUndefined();
      const left = await sql<{ n: number }>`
        select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name = any(${TABLES})
      `.execute(db);
      expect(left.rows[0]?.n).toBe(0);
      expect(await migrateToLatest(db)).toEqual({ applied: migrationNames() });
    } finally {
      await db.destroy();
    }
  });

  it("0002 marks how existing memberships came about and who created existing API keys", async () => {
    await sql.raw(`drop database ${name} with (force)`).execute(ref.db);
    await sql.raw(`create database ${name}`).execute(ref.db);
    const db = createDb(scratchUrl, { max: 1 });
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
      expect((await migrator.migrateTo("0001_initial")).error).toBeUndefined();
      const [creator, victim, joiner] = [randomUUID(), randomUUID(), randomUUID()];
      const org = randomUUID();
      // As 0001-era code wrote them: onboarding (organization and owner in one transaction),
      // an admin adding someone, and someone whose own request added them.
      await sql`insert into users (identity_id, email) values (${creator}, 'c@x.test'), (${victim}, 'v@x.test'), (${joiner}, 'j@x.test')`.execute(
        db,
      );
      await db.transaction().execute(async (trx) => {
        await sql`insert into organizations (id, name, plan) values (${org}, 'Old', 'pro')`.execute(trx);
        await sql`insert into memberships (organization_id, identity_id, role) values (${org}, ${creator}, 'owner')`.execute(
          trx,
        );
      });
      const added = await sql<{ id: string }>`
        insert into memberships (organization_id, identity_id, role) values (${org}, ${victim}, 'admin') returning id`.execute(
        db,
      );
      const self = await sql<{ id: string }>`
        insert into memberships (organization_id, identity_id, role) values (${org}, ${joiner}, 'member') returning id`.execute(
        db,
      );
      const key = await sql<{ id: string }>`
        insert into api_keys (organization_id, name, prefix, hash, scopes)
        values (${org}, 'old', 'sk_old', ${"a".repeat(64)}, '{org:delete}') returning id`.execute(db);
      const opKey = await sql<{ id: string }>`
        insert into api_keys (organization_id, name, prefix, hash, scopes)
        values (${org}, 'op', 'sk_op', ${"b".repeat(64)}, '{}') returning id`.execute(db);
      await sql`insert into audit_log (actor, action, target_type, target_id, organization_id) values
        (${creator}, 'membership.added', 'membership', ${added.rows[0]?.id}, ${org}),
        (${joiner}, 'membership.added', 'membership', ${self.rows[0]?.id}, ${org}),
        (${victim}, 'api_key.created', 'api_key', ${key.rows[0]?.id}, ${org}),
        ('operator', 'api_key.created', 'api_key', ${opKey.rows[0]?.id}, ${org})`.execute(db);

      expect(await migrateToLatest(db)).toEqual({
        applied: [
          "0002_invitations",
          "0003_outbox",
          "0004_events",
          "0005_inbound",
          "0006_event_stream",
          "0007_webhook_secret_kid",
          "0008_require_mfa",
        ],
      });
      const ms = await sql<{ identity_id: string; joined_via: string }>`
        select identity_id, joined_via from memberships where organization_id = ${org}`.execute(db);
      expect(Object.fromEntries(ms.rows.map((r) => [r.identity_id, r.joined_via]))).toEqual({
        [creator]: "onboarding",
        [victim]: "direct",
        [joiner]: "onboarding",
      });
      const keys = await sql<{ name: string; created_by: string | null }>`
        select name, created_by from api_keys where organization_id = ${org} order by name`.execute(db);
      expect(keys.rows).toEqual([
        { name: "old", created_by: victim },
        { name: "op", created_by: null },
      ]);
      const defaults = await sql<{ n: number }>`
        select count(*)::int as n from users where default_organization_id is not null`.execute(db);
      expect(defaults.rows[0]?.n).toBe(0);
    } finally {
      await db.destroy();
    }
  });

  it("the CLI prints what it applied, then that the database is up to date", async () => {
    await sql.raw(`drop database ${name} with (force)`).execute(ref.db);
    await sql.raw(`create database ${name}`).execute(ref.db);
    const first = await runCli(["migrate"], { DATABASE_URL: scratchUrl });
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(first.stdout.trim().split("\n")).toEqual(migrationNames().map((n) => `applied ${n}`));
    const second = await runCli(["migrate"], { DATABASE_URL: scratchUrl });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
  });
});

describe("the CLI's errors", () => {
  it("names DATABASE_URL when it is missing, exits 2, no stack trace", async () => {
    const r = await runCli(["migrate"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DATABASE_URL is not set/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  it("refuses a malformed or non-Postgres DATABASE_URL without echoing it", async () => {
    for (const bad of ["not a url", "mysql://u:hunter2@host/db", "postgres://"]) {
      const r = await runCli(["migrate"], { DATABASE_URL: bad });
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/DATABASE_URL/);
      expect(r.stderr).not.toMatch(/hunter2/);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
  });

  it("fails fast (exit 1, one line) when the database is unreachable", async () => {
    const t0 = performance.now();
    const r = await runCli(["migrate"], { DATABASE_URL: "postgres://u:secret@127.0.0.1:1/gatehouse" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot migrate: .*ECONNREFUSED/);
    expect(r.stderr).not.toMatch(/secret/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(performance.now() - t0).toBeLessThan(15_000);
  });

  it("answers an unknown command with the usage and exit 2", async () => {
    const r = await runCli(["frobnicate"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command: frobnicate/);
    expect(r.stderr).toMatch(/usage: gatehouse-auth/);
  });
});
