import { describe, expect, it } from "vitest";
import { registerApi, stack, uniqueEmail } from "../support/kratos.ts";

describe("Kratos API flow (native apps)", () => {
  it("registers with email + password, issues a session token, and whoami returns the traits", async () => {
    const s = stack();
    const email = uniqueEmail("api");
    const reg = await registerApi(s, { email, name: { first: "Ada", last: "Lovelace" } });
    expect(reg.status).toBe(200);
    const token = reg.body.session_token;
    expect(token).toMatch(/^ory_st_/);

    const who = await fetch(`${s.kratosPublic}/sessions/whoami`, { headers: { "x-session-token": token ?? "" } });
    expect(who.status).toBe(200);
    const session = (await who.json()) as {
      active: boolean;
      authenticator_assurance_level: string;
      identity: { id: string; traits: { email: string; name: { first: string; last: string } } };
    };
    expect(session.active).toBe(true);
    expect(session.authenticator_assurance_level).toBe("aal1");
    expect(session.identity.id).toBe(reg.body.identity?.id);
    expect(session.identity.traits).toEqual({ email, name: { first: "Ada", last: "Lovelace" } });
  });

  it("refuses whoami for a made-up session token", async () => {
    const s = stack();
    const who = await fetch(`${s.kratosPublic}/sessions/whoami`, {
      headers: { "x-session-token": "ory_st_notarealtokenatall000000000" },
    });
    expect(who.status).toBe(401);
  });

  it("refuses a second registration with the same email", async () => {
    const s = stack();
    const email = uniqueEmail("dup");
    expect((await registerApi(s, { email })).status).toBe(200);
    const again = await registerApi(s, { email: email.toUpperCase() });
    expect(again.status).toBe(400);
    expect(JSON.stringify(again.body)).toMatch(/exists already/i);
  });
});
