import { describe, expect, it } from "vitest";
import { type Flow, nodeMessages, registerApi, stack, uniqueEmail } from "../support/kratos.ts";

// Kratos validates against kratos-config/identity.schema.json and answers 400 with
// a flow whose nodes carry the messages a frontend renders next to each field.
describe("Kratos answers bad registration input with validation messages", () => {
  it("an invalid email", async () => {
    const r = await registerApi(stack(), { email: "not-an-email" });
    expect(r.status).toBe(400);
    const msgs = nodeMessages(r.body as unknown as Flow, "traits.email");
    expect(msgs.map((m) => m.text).join(" ")).toMatch(/not valid "email"/);
  });

  it("a password shorter than the configured minimum (10)", async () => {
    const r = await registerApi(stack(), { email: uniqueEmail("short") }, { password: "Sh0rt!x" });
    expect(r.status).toBe(400);
    const msgs = nodeMessages(r.body as unknown as Flow, "password");
    expect(msgs.map((m) => m.text).join(" ")).toMatch(/at least 10 characters/);
  });

  it("a missing required trait (last name)", async () => {
    const s = stack();
    const flow = (await (await fetch(`${s.kratosPublic}/self-service/registration/api`)).json()) as Flow;
    const r = await fetch(flow.ui.action.replace(s.kratosBrowser, s.kratosPublic), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        method: "password",
        password: "correct-horse-battery-staple-42",
        traits: { email: uniqueEmail("noname"), name: { first: "Only" } },
      }),
    });
    expect(r.status).toBe(400);
    const body = (await r.json()) as Flow;
    const all = body.ui.nodes.flatMap((n) => n.messages.map((m) => m.text)).join(" ");
    expect(all).toMatch(/last/);
  });

  it("a trait the schema does not define", async () => {
    const r = await registerApi(stack(), { email: uniqueEmail("extra"), ...({ role: "admin" } as object) });
    expect(r.status).toBe(400);
  });
});
