// A real nginx (Debian package) with auth_request pointed at the gateway's
// forward-auth endpoint protects a location in front of an upstream echo server.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portFree } from "../../../tools/stack/supervisor.ts";
import { newUser } from "../../auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "./harness.ts";

let up: Awaited<ReturnType<typeof echoUpstream>>;
let gw: Awaited<ReturnType<typeof startGateway>>;
let nginx: ChildProcess;
let port = 0;

beforeAll(async () => {
  up = await echoUpstream();
  gw = await startGateway(
    routesFile(`
routes:
  - name: app
    match: { path: /** }
    upstream: ${up.url}
    auth: { accept: [session, jwt] }
    forward: { jwt: false }
`),
  );
  // Below the ephemeral range (32768+), which outgoing connections draw from.
  for (let p = 26_000 + (process.pid % 500); p < 27_400; p++) {
    if (await portFree(p)) {
      port = p;
      break;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "nginx-"));
  writeFileSync(
    join(dir, "nginx.conf"),
    `daemon off;
master_process off;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = /_gatehouse {
      internal;
      proxy_pass http://127.0.0.1:${gw.port}/decisions;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-Host $host;
    }
    location / {
      auth_request /_gatehouse;
      auth_request_set $gh_user $upstream_http_x_user_id;
      auth_request_set $gh_email $upstream_http_x_user_email;
      proxy_set_header X-User-Id $gh_user;
      proxy_set_header X-User-Email $gh_email;
      proxy_set_header X-Session-Token "";
      proxy_pass ${up.url};
    }
  }
}
`,
  );
  nginx = spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf")], { stdio: "ignore" });
  for (let i = 0; i < 100 && (await portFree(port)); i++) await new Promise((r) => setTimeout(r, 50));
});
afterAll(async () => {
  nginx?.kill("SIGTERM");
  await gw?.stop();
  await up?.close();
});

describe("nginx auth_request → gateway /decisions", () => {
  it("lets a signed-in user through with the identity set by nginx, and refuses everyone else", async () => {
    const u = await newUser("nginx");
    const ok = await fetch(`http://127.0.0.1:${port}/projects/1`, {
      headers: { "x-session-token": u.sessionToken, "x-user-id": "spoofed" },
    });
    expect(ok.status).toBe(200);
    const seen = up.seen.find((s) => s.url === "/projects/1");
    expect(seen?.headers["x-user-id"]).toBe(u.identityId);
    expect(seen?.headers["x-user-email"]).toBe(u.email);

    const before = up.seen.length;
    const anon = await fetch(`http://127.0.0.1:${port}/projects/2`, { headers: { "x-user-id": "spoofed" } });
    expect(anon.status).toBe(401);
    const bad = await fetch(`http://127.0.0.1:${port}/projects/3`, {
      headers: { "x-session-token": "ory_st_garbage" },
    });
    expect(bad.status).toBe(401);
    expect(up.seen.length).toBe(before);
  });
});
