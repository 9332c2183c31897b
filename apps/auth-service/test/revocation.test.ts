import { describe, expect, it } from "vitest";
import { stack } from "../../../test/support/kratos.ts";
import { auth, call, expectErrorShape, newUser, token } from "./support.ts";

const admin = (path: string, json: unknown) =>
  call(path, { base: auth().admin, json, headers: { authorization: `Bearer ${auth().adminToken}` } });
const introspect = (t: string) => admin("/admin/introspect", { token: t });
const sessionOf = async (sessionToken: string) => {
  const r = await fetch(`${stack().kratosPublic}/sessions/whoami`, { headers: { "x-session-token": sessionToken } });
  return { status: r.status, id: r.ok ? ((await r.json()) as { id: string }).id : undefined };
};

describe("revocation", () => {
  it("logout revokes the Kratos session: no new token, and issued tokens introspect as inactive", async () => {
    const u = await newUser("logout");
    const t = await token(u);
    expect((await introspect(t)).body).toMatchObject({ active: true, sub: u.identityId });

    const out = await call("/v1/logout", { token: u.sessionToken, method: "POST" });
    expect(out.status).toBe(204);
    expect((await sessionOf(u.sessionToken)).status).toBe(401);
    const again = await call("/v1/token", { token: u.sessionToken, json: {} });
    expect(again.status).toBe(401);
    expectErrorShape(again.body, "unauthenticated");
    expect((await introspect(t)).body).toEqual({ active: false });
  });

  it("an operator revokes every session of an identity", async () => {
    const u = await newUser("revoke-all");
    const t = await token(u);
    const r = await admin("/admin/sessions/revoke", { identity_id: u.identityId });
    expect(r.status).toBe(200);
    expect((r.body.revoked as string[]).length).toBeGreaterThanOrEqual(1);
    expect((await call("/v1/token", { token: u.sessionToken, json: {} })).status).toBe(401);
    expect((await introspect(t)).body.active).toBe(false);
  });

  it("introspection says inactive for forged, expired-looking or foreign tokens", async () => {
    for (const t of ["not.a.jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "a".repeat(100)]) {
      expect((await introspect(t)).body).toEqual({ active: false });
    }
  });

  it("operator endpoints refuse bad input with the error shape", async () => {
    const r = await admin("/admin/sessions/revoke", { session_id: "nope" });
    expect(r.status).toBe(400);
    expectErrorShape(r.body, "bad_request");
    const both = await admin("/admin/sessions/revoke", {
      session_id: crypto.randomUUID(),
      identity_id: crypto.randomUUID(),
    });
    expect(both.status).toBe(400);
  });
});
