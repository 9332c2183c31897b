// The example API's database going away under a query is "unavailable" (503 +
// Retry-After), never an internal error. `pnpm chaos` found the 500s: after a kill -9,
// Postgres answers every new connection with 57P03 ("the database system is starting
// up") during crash recovery, which the API's own pattern of error messages did not
// know. Here the same family of error is produced deterministically on a real,
// private Postgres: a query held behind a table lock is ended by the server
// (pg_terminate_backend: 57P01, what a shutdown or failover sends to queries in flight).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stack } from "../../../test/support/kratos.ts";
import {
  eventually,
  type PrivatePostgres,
  privatePostgres,
  privateStackConfig,
} from "../../../test/support/private-services.ts";
import { call, newUser, type TestUser } from "../../auth-service/test/support.ts";
import { start } from "../src/main.ts";

let db: PrivatePostgres;
let api: Awaited<ReturnType<typeof start>>;
let owner: TestUser;

beforeAll(async () => {
  db = await privatePostgres(await privateStackConfig("apidb"));
  api = await start({ API_PORT: "0", DATABASE_URL: db.url, AUTH_SERVICE_URL: stack().env.AUTH_SERVICE_URL ?? "" });
  owner = await newUser("apidb-owner");
  const r = await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Db Down Co" } });
  expect(r.status).toBe(201);
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await db?.stop();
});

const projects = () =>
  fetch(`http://127.0.0.1:${api.port}/v1/projects`, { headers: { "x-session-token": owner.sessionToken } });

describe("example API: the database ends a query", () => {
  it("answers 503 + Retry-After in the error shape, and 200 once the database answers again", async () => {
    expect((await projects()).status).toBe(200);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      // Hold the table so the API's query waits in Postgres, then have Postgres end it.
      await admin.query("begin; lock table example_api.projects in access exclusive mode");
      const pending = projects();
      const waiting = await eventually(
        async () =>
          (
            await admin.query<{ pid: number }>(
              "select pid from pg_stat_activity where wait_event_type = 'Lock' and query like '%example_api.projects%' and pid <> pg_backend_pid()",
            )
          ).rows,
        (rows) => rows.length > 0,
        10_000,
      );
      expect(waiting.length).toBeGreaterThan(0);
      await admin.query("select pg_terminate_backend($1)", [waiting[0]?.pid]);
      const r = await pending;
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await r.json()).toMatchObject({ error: "dependency_unavailable", request_id: expect.any(String) });
      await admin.query("rollback");
    } finally {
      await admin.end();
    }
    expect((await projects()).status).toBe(200);
  }, 60_000);
});
