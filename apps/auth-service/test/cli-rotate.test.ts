import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startAuthService } from "./in-process.ts";
import { call, newUser } from "./support.ts";

const cli = resolve(import.meta.dirname, "../src/cli.ts");
const run = (args: string[], env: Record<string, string>) =>
  promisify(execFile)(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? "", ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

let svc: Running;
beforeAll(async () => {
  svc = await startAuthService();
});
afterAll(() => svc.stop());

describe("gatehouse-auth rotate-keys (the operator command)", () => {
  it("publishes a next key, then --force promotes it; running instances pick it up", async () => {
    const env = { DATABASE_URL: svc.databaseUrl, SIGNING_KEY_KEK: svc.kek };
    const u = await newUser("cli-rotate");
    const before = decodeProtectedHeader(
      (await call("/v1/token", { base: svc.url, token: u.sessionToken, json: {} })).body.access_token as string,
    ).kid;

    const step1 = await run(["rotate-keys"], env);
    expect(step1.code).toBe(0);
    expect(step1.stdout).toMatch(/published next key/);
    const step2 = await run(["rotate-keys", "--force"], env);
    expect(step2.code).toBe(0);
    expect(step2.stdout).toMatch(new RegExp(`active key is now \\S+; ${before} is retiring`));

    await svc.app.keys.reload(); // what the 30 s refresh (or the Redis notice) does
    const after = decodeProtectedHeader(
      (await call("/v1/token", { base: svc.url, token: u.sessionToken, json: {} })).body.access_token as string,
    ).kid;
    expect(after).not.toBe(before);
  });

  it("names bad configuration and arguments with exit code 2", async () => {
    const bad = await run(["rotate-keys"], { DATABASE_URL: svc.databaseUrl, SIGNING_KEY_KEK: "abc" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/SIGNING_KEY_KEK/);
    const flag = await run(["rotate-keys", "--now"], { DATABASE_URL: svc.databaseUrl, SIGNING_KEY_KEK: svc.kek });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--now/);
    const nodb = await run(["rotate-keys"], { SIGNING_KEY_KEK: svc.kek });
    expect(nodb.code).toBe(2);
    expect(nodb.stderr).toMatch(/DATABASE_URL is not set/);
  });
});
