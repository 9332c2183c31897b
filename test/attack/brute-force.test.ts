// The login lockout holds however a guess is spelled (security issue, item 2).
// Against the test stack's own gateway process and the real Kratos: for each way of
// naming an account that Kratos and a naive counter could read differently, five
// wrong guesses either never reach Kratos (the gateway refuses the ambiguous body)
// or count against the victim, whose right password is then refused (429) — never a
// sixth free guess. And a victim whose counter was filled under the plain spelling
// cannot be signed into under another.
import { gzipSync } from "node:zlib";
import { describe, expect, inject, it } from "vitest";
import { PASSWORD, registerApi, stack, uniqueEmail } from "../support/kratos.ts";

const gateway = () => inject("stack").GATEWAY_INTERNAL_URL as string;
let ipSeq = 0;
/** Each case has its own client address (the stack trusts the loopback proxy's X-Forwarded-For). */
const nextIp = () => `10.12.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;

interface Attempt {
  contentType: string;
  body: string | Uint8Array<ArrayBuffer>;
  extraQuery?: string;
  headers?: Record<string, string>;
}
type Spelling = (victim: string, password: string) => Attempt;

const json = (o: unknown): Attempt => ({ contentType: "application/json", body: JSON.stringify(o) });
const form = (s: string): Attempt => ({ contentType: "application/x-www-form-urlencoded", body: s });
const enc = encodeURIComponent;

/** Ways to name the victim in a login submission. */
const SPELLINGS: Record<string, Spelling> = {
  "a form with the identifier twice (victim first, as Kratos reads it)": (v, p) =>
    form(`method=password&identifier=${enc(v)}&identifier=decoy%40example.org&password=${enc(p)}`),
  "a form with the identifier twice (victim last)": (v, p) =>
    form(`method=password&identifier=decoy%40example.org&identifier=${enc(v)}&password=${enc(p)}`),
  "JSON with the identifier key twice": (v, p) => ({
    contentType: "application/json",
    body: `{"method":"password","identifier":${JSON.stringify(v)},"identifier":"decoy@example.org","password":${JSON.stringify(p)}}`,
  }),
  "password_identifier in JSON": (v, p) => json({ method: "password", password_identifier: v, password: p }),
  "password_identifier in a form": (v, p) => form(`method=password&password_identifier=${enc(v)}&password=${enc(p)}`),
  "identifier and password_identifier naming two accounts": (v, p) =>
    json({ method: "password", identifier: "decoy@example.org", password_identifier: v, password: p }),
  "a form declared with charset=json": (v, p) => ({
    ...form(`method=password&identifier=${enc(v)}&password=${enc(p)}`),
    contentType: "application/x-www-form-urlencoded; charset=json",
  }),
  "two content types in one header": (v, p) => ({
    ...json({ method: "password", identifier: v, password: p }),
    contentType: "text/plain, application/json",
  }),
  "a multipart form": (v, p) => ({
    contentType: "multipart/form-data; boundary=XyZ",
    body: `--XyZ\r\nContent-Disposition: form-data; name="method"\r\n\r\npassword\r\n--XyZ\r\nContent-Disposition: form-data; name="identifier"\r\n\r\n${v}\r\n--XyZ\r\nContent-Disposition: form-data; name="password"\r\n\r\n${p}\r\n--XyZ--\r\n`,
  }),
  "a gzip-encoded body": (v, p) => ({
    contentType: "application/json",
    body: new Uint8Array(gzipSync(JSON.stringify({ method: "password", identifier: v, password: p }))),
    headers: { "content-encoding": "gzip" },
  }),
  "the identifier key in capitals": (v, p) => json({ method: "password", IDENTIFIER: v, password: p }),
  "the identifier key with a long s (ſ)": (v, p) => json({ method: "password", pasſword_identifier: v, password: p }),
  "the identifier in the query string": (v, p) => ({
    ...json({ method: "password", password: p }),
    extraQuery: `&identifier=${enc(v)}`,
  }),
  "padded with U+0085": (v, p) => json({ method: "password", identifier: `\u0085${v}\u0085`, password: p }),
  "padded with no-break and ideographic spaces": (v, p) =>
    json({ method: "password", identifier: `\u00a0\u3000${v}\u2007`, password: p }),
  "padded with zero-width characters": (v, p) =>
    json({ method: "password", identifier: `\u200b${v}\ufeff`, password: p }),
  "padded past 320 characters": (v, p) =>
    json({ method: "password", identifier: `${v}${" ".repeat(400)}`, password: p }),
  "capital İ for i": (v, p) => json({ method: "password", identifier: v.replaceAll("i", "İ"), password: p }),
  "upper case": (v, p) => json({ method: "password", identifier: v.toUpperCase(), password: p }),
  "a fullwidth @": (v, p) => json({ method: "password", identifier: v.replace("@", "\uff20"), password: p }),
};
const plain: Spelling = (v, p) => json({ method: "password", identifier: v, password: p });

async function attempt(a: Attempt, ip: string): Promise<{ status: number; byGateway: boolean }> {
  const flow = (await (
    await fetch(`${gateway()}/self-service/login/api`, { headers: { "x-forwarded-for": ip } })
  ).json()) as {
    id: string;
  };
  const r = await fetch(`${gateway()}/self-service/login?flow=${flow.id}${a.extraQuery ?? ""}`, {
    method: "POST",
    headers: { "content-type": a.contentType, accept: "application/json", "x-forwarded-for": ip, ...a.headers },
    body: a.body,
  });
  const body = (await r.json().catch(() => ({}))) as { ui?: unknown; error?: unknown; request_id?: unknown };
  // Kratos answers a failed API login with the flow (its `ui`); the gateway's own refusals have request_id.
  return { status: r.status, byGateway: body.ui === undefined && typeof body.request_id === "string" };
}

async function victim(): Promise<string> {
  // An "i" in the address, so that the İ spelling has something to replace.
  const email = uniqueEmail("bf-victim-i");
  const r = await registerApi(stack(), { email });
  if (r.status !== 200) throw new Error(`registration failed: ${r.status}`);
  return email;
}

async function guessFiveTimes(spell: Spelling, email: string, ip: string): Promise<boolean[]> {
  const byGateway: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await attempt(spell(email, "wrong-password-000"), ip);
    expect(r.status, "a wrong guess never signs in").not.toBe(200);
    byGateway.push(r.byGateway);
  }
  return byGateway;
}

describe("the login lockout cannot be sidestepped by spelling (real gateway, real Kratos)", () => {
  it.concurrent.each(Object.keys(SPELLINGS))("guesses as %s are refused or counted", async (name) => {
    const spell = SPELLINGS[name] as Spelling;
    const email = await victim();
    const refused = await guessFiveTimes(spell, email, nextIp());
    // The guesses under one spelling are all refused before Kratos, or all reach it.
    expect(new Set(refused).size, `${name}: ${refused}`).toBe(1);
    const right = await attempt(plain(email, PASSWORD), nextIp());
    if (refused[0]) expect(right.status, `${name}: nothing was guessed, nothing locked`).toBe(200);
    else expect(right.status, `${name}: five guesses reached Kratos, the sixth must not`).toBe(429);
  });

  it.concurrent.each([
    "padded with U+0085",
    "padded with zero-width characters",
    "capital İ for i",
    "upper case",
    "padded past 320 characters",
  ])("a victim locked under the plain spelling is not signed in when %s", async (name) => {
    const email = await victim();
    await guessFiveTimes(plain, email, nextIp());
    const r = await attempt((SPELLINGS[name] as Spelling)(email, PASSWORD), nextIp());
    expect([400, 429]).toContain(r.status);
  });
});
