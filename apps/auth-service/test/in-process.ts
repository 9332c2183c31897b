// Starts an auth-service in this test process, with its own fresh database on the
// stack's Postgres and its own ports, for tests that rotate keys, change config or
// break dependencies without disturbing the shared test stack.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { inject } from "vitest";
import { start } from "../src/main.ts";

export interface Running {
  url: string;
  admin: string;
  adminToken: string;
  databaseUrl: string;
  kek: string;
  stop(): Promise<void>;
  app: Awaited<ReturnType<typeof start>>["app"];
}

export async function freshDatabase(): Promise<string> {
  const base = inject("stack").DATABASE_URL ?? "";
  const name = `gh_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function startAuthService(
  overrides: Record<string, string> = {},
  opts: { logLines?: string[] } = {},
): Promise<Running> {
  const env = inject("stack");
  const databaseUrl = overrides.DATABASE_URL ?? (await freshDatabase());
  const adminToken = "in-process-admin-token-0000000000000000";
  const kek = overrides.SIGNING_KEY_KEK ?? randomBytes(32).toString("hex");
  const s = await start(
    {
      AUTH_HOST: "127.0.0.1",
      AUTH_PUBLIC_PORT: "0",
      AUTH_ADMIN_PORT: "0",
      DATABASE_URL: databaseUrl,
      REDIS_URL: env.REDIS_URL,
      KRATOS_PUBLIC_URL: env.KRATOS_PUBLIC_URL,
      KRATOS_ADMIN_URL: env.KRATOS_ADMIN_URL,
      TOKEN_ISSUER: "http://auth.in-process.test",
      SIGNING_KEY_KEK: kek,
      WEBHOOK_SECRET: "in-process-webhook-secret-00000000000000",
      ADMIN_API_TOKEN: adminToken,
      MIGRATE_ON_START: "true",
      LOG_LEVEL: "silent",
      ...overrides,
    },
    opts.logLines ? { logDestination: { write: (line: string) => void opts.logLines?.push(line) } } : {},
  );
  const port = (srv: typeof s.publicServer) => (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port(s.publicServer)}`,
    admin: `http://127.0.0.1:${port(s.adminServer)}`,
    adminToken,
    databaseUrl,
    kek,
    app: s.app,
    stop: () => s.stop("test"),
  };
}
