// The README's runnable examples, run as the README says (plain `node`), against
// the test stack: they must start and answer as described.
import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { newUser, stackEnv } from "./support.ts";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const children: ChildProcess[] = [];

async function start(file: string, env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [file], { cwd: pkg, env: { ...process.env, ...env, PORT: "0" } });
  children.push(child);
  let output = "";
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start: ${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolvePromise(url);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${file} exited with ${code}: ${output}`)));
  });
}

/** A browser's page load, by node:http: fetch would add Sec-Fetch-Mode: cors, which is not one. */
function navigate(url: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((done, fail) => {
    const headers = { accept: "text/html", "sec-fetch-mode": "navigate" };
    request(url, { headers }, (res) => {
      res.resume();
      done({ status: res.statusCode ?? 0, location: res.headers.location });
    })
      .on("error", fail)
      .end();
  });
}

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGTERM");
});

describe("README examples", () => {
  it("examples/express-app.ts", async () => {
    const s = stackEnv();
    const url = await start("examples/express-app.ts", {
      AUTH_SERVICE_URL: s.authUrl,
      KRATOS_BROWSER_URL: s.kratosBrowser,
      APP_HOST: "127.0.0.1",
    });
    const user = await newUser("example");
    const me = await fetch(`${url}/me`, { headers: { "x-session-token": user.sessionToken } });
    expect(me.status).toBe(200);
    const body = await me.json();
    expect(body).toMatchObject({ subject: user.identityId, email: user.email });
    expect(body).not.toHaveProperty("token"); // the JWT stays on the server (README "Express")
    // Signed out in a browser: to the login, with this app as the way back.
    const page = await navigate(`${url}/me`);
    expect(page.status).toBe(303);
    const to = new URL(page.location ?? "");
    expect(`${to.origin}${to.pathname}`).toBe(`${s.kratosBrowser}/self-service/login/browser`);
    expect(to.searchParams.get("return_to")).toBe(`${url}/me`);
    expect((await fetch(`${url}/admin`, { headers: { "x-session-token": user.sessionToken } })).status).toBe(403);
    expect(await (await fetch(`${url}/`)).json()).toEqual({ hello: "stranger" });
  });

  it("examples/gateway.ts", async () => {
    const url = await start("examples/gateway.ts", { AUTH_SERVICE_URL: stackEnv().authUrl });
    const user = await newUser("example-gw");
    const r = await fetch(`${url}/api/echo`, {
      headers: { "x-session-token": user.sessionToken, "x-user-id": "admin" },
    });
    expect(r.status).toBe(200);
    const seen = (await r.json()) as { path: string; headers: Record<string, string> };
    expect(seen.path).toBe("/echo");
    expect(seen.headers["x-user-id"]).toBe(user.identityId);
    expect(seen.headers.authorization).toMatch(/^Bearer ey/);
    expect(seen.headers["x-session-token"]).toBeUndefined();
    expect((await fetch(`${url}/api/echo`)).status).toBe(401);
  });
});
