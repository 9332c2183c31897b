import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, call, newUser } from "../../auth-service/test/support.ts";
import { echoUpstream, routesFile, startGateway } from "./harness.ts";

let up: Awaited<ReturnType<typeof echoUpstream>>;
let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  up = await echoUpstream();
  gw = await startGateway(
    routesFile(`
routes:
  - name: ws
    match: { path: /ws/** }
    upstream: ${up.url}
    websocket: true
    auth: { accept: [session, jwt] }
  - name: plain
    match: { path: /plain/** }
    upstream: ${up.url}
    auth: { accept: [session] }
`),
    { WEBSOCKET_RECHECK_SECONDS: "1", SESSION_CACHE_TTL_SECONDS: "1" },
  );
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

function open(
  path: string,
  sessionToken?: string,
): Promise<{ ws: WebSocket; closed: Promise<number> } | { error: true }> {
  return new Promise((resolve) => {
    // Node's WebSocket (undici) takes handshake headers in its options; a browser would send the cookie.
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`, {
      headers: sessionToken ? { "x-session-token": sessionToken } : {},
    } as unknown as string[]);
    const closed = new Promise<number>((r) => ws.addEventListener("close", (e) => r(e.code)));
    ws.addEventListener("open", () => resolve({ ws, closed }));
    ws.addEventListener("error", () => resolve({ error: true }));
  });
}

describe("websockets through the gateway", () => {
  it("an upgrade without a session is refused and never reaches the upstream", async () => {
    const before = up.seen.length;
    const r = await open("/ws/chat");
    expect("error" in r).toBe(true);
    expect(up.seen.length).toBe(before);
  });

  it("a signed-in upgrade is proxied with identity; revoking the session closes the socket within the re-check interval", async () => {
    const u = await newUser("ws");
    const r = await open("/ws/chat", u.sessionToken);
    if ("error" in r) throw new Error("upgrade failed");
    const seen = up.seen.find((s) => s.method === "UPGRADE" && s.url === "/ws/chat");
    expect(seen?.headers["x-user-id"]).toBe(u.identityId);
    expect(seen?.headers["x-session-token"]).toBeUndefined();
    // Revoke through the auth-service: the next re-check sees 401 and closes.
    const revoked = await call("/admin/sessions/revoke", {
      base: auth().admin,
      json: { identity_id: u.identityId },
      headers: { authorization: `Bearer ${auth().adminToken}` },
    });
    expect(revoked.status).toBe(200);
    const code = await Promise.race([r.closed, new Promise<number>((res) => setTimeout(() => res(-1), 10_000))]);
    expect(code).not.toBe(-1);
  });

  it("an upgrade on a route without websocket: true is refused", async () => {
    const u = await newUser("ws-plain");
    const r = await open("/plain/x", u.sessionToken);
    expect("error" in r).toBe(true);
  });
});
