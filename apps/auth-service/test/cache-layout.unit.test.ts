// The session cache keeps sessions in a compact form (src/cache/compact-session.ts).
// These tests pin that the round trip through it is lossless for every field of
// KratosSession (callers read id, identity.id, traits.email/name, emailVerified,
// aal, amr, expiresAt), that what it hands out cannot alter the cache, and that
// the resolver serves the same session from memory as from Kratos.
import { credentialKey, type KratosClient, type KratosSession, mapSession } from "@gatehouse/kratos";
import { digestHex } from "@gatehouse/kratos/credentials";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InvalidationBus } from "../src/cache/bus.ts";
import { CompactSession, Interner } from "../src/cache/compact-session.ts";
import { credentialDigest, SessionResolver } from "../src/exchange/sessions.ts";
import { Metrics } from "../src/ops/metrics.ts";

const NOW = Date.parse("2025-06-01T10:00:00.000Z");

function whoami(over: {
  id?: string;
  aal?: string;
  methods?: string[];
  traits?: Record<string, unknown>;
  verified?: boolean;
  expires?: string;
  authenticated?: string;
  schema?: string;
}): unknown {
  const email = (over.traits?.email as string | undefined) ?? "ada.lovelace@example.com";
  return {
    id: over.id ?? "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
    active: true,
    expires_at: over.expires ?? "2025-06-02T09:59:58.123456Z",
    authenticated_at: over.authenticated ?? "2025-06-01T09:59:58.987654Z",
    authenticator_assurance_level: over.aal ?? "aal1",
    authentication_methods: (over.methods ?? ["password"]).map((method) => ({
      method,
      aal: "aal1",
      completed_at: "2025-06-01T09:59:58.9Z",
    })),
    issued_at: "2025-06-01T09:59:58.987654Z",
    identity: {
      id: "0b6c2a3e-1f2d-4c5b-9a8e-7d6c5b4a3f21",
      schema_id: over.schema ?? "person",
      state: "active",
      traits: over.traits ?? { email, name: { first: "Ada", last: "Lovelace" } },
      verifiable_addresses: [{ id: "a1", value: email, verified: over.verified ?? true, via: "email" }],
    },
  };
}

const variants: [string, unknown][] = [
  ["password, verified, full name", whoami({})],
  ["password+totp at aal2", whoami({ aal: "aal2", methods: ["password", "totp"] })],
  ["methods in their order, repeated", whoami({ aal: "aal2", methods: ["totp", "password", "totp"] })],
  ["no methods", whoami({ methods: [] })],
  ["oidc, unverified", whoami({ methods: ["oidc"], verified: false })],
  ["no name", whoami({ traits: { email: "no.name@example.com" } })],
  ["empty name object", whoami({ traits: { email: "e@example.com", name: {} } })],
  ["first name only", whoami({ traits: { email: "f@example.com", name: { first: "Grace" } } })],
  ["last name only", whoami({ traits: { email: "l@example.com", name: { last: "Hopper" } } })],
  ["empty-string names", whoami({ traits: { email: "x@example.com", name: { first: "", last: "" } } })],
  ["non-ASCII names", whoami({ traits: { email: "jo@example.com", name: { first: "Jörg", last: "Ødegård 李" } } })],
  ["aal3, other schema", whoami({ aal: "aal3", methods: ["webauthn"], schema: "customer" })],
  [
    "millisecond timestamps, long-lived session",
    whoami({ expires: "2026-01-01T00:00:00.001Z", authenticated: "2025-05-01T23:59:59.999Z" }),
  ],
];

describe("CompactSession: the session cache's entry layout", () => {
  it.each(variants)("round trip is lossless: %s", (_name, raw) => {
    const session = mapSession(raw, NOW);
    const until = NOW + 60_000;
    const e = new CompactSession(session, until);
    const back = e.toSession();
    expect(back).toStrictEqual(session);
    // The same JSON (what goes to Redis and into claims) and the same key order.
    expect(JSON.stringify(back)).toBe(JSON.stringify(session));
    expect(back.expiresAt.getTime()).toBe(session.expiresAt.getTime());
    expect(back.authenticatedAt.getTime()).toBe(session.authenticatedAt.getTime());
    expect(e.untilMs).toBe(until);
    expect(e.sid).toBe(session.id);
  });

  it("keeps fields the mapper can produce but a cache never normally sees (inactive)", () => {
    const base = mapSession(whoami({}), NOW);
    const odd: KratosSession = { ...base, active: false, identity: { ...base.identity, state: "inactive" } };
    expect(new CompactSession(odd, NOW).toSession()).toStrictEqual(odd);
  });

  it("hands out fresh objects: a caller mutating one cannot alter the cache or other callers", () => {
    const session = mapSession(whoami({ aal: "aal2", methods: ["password", "totp"] }), NOW);
    const e = new CompactSession(session, NOW + 1000);
    const a = e.toSession();
    a.amr.push("evil");
    a.identity.traits.email = "attacker@example.com";
    a.expiresAt.setTime(0);
    if (a.identity.traits.name) a.identity.traits.name.first = "Mallory";
    const b = e.toSession();
    expect(b).toStrictEqual(session);
    expect(b.amr).not.toBe(e.toSession().amr);
  });

  it("shares what sessions have in common (shape, names) between entries", () => {
    const a = new CompactSession(mapSession(whoami({ id: "s1" }), NOW), NOW);
    const b = new CompactSession(
      mapSession(
        JSON.parse(
          JSON.stringify(
            whoami({ id: "s2", traits: { email: "b@example.com", name: { first: "Ada", last: "Lovelace" } } }),
          ),
        ),
        NOW,
      ),
      NOW,
    );
    expect(a.shape).toBe(b.shape);
    expect(Object.isFrozen(a.shape.amr)).toBe(true);
    expect(a.first).toBe(b.first);
  });

  it("the interner is bounded: it starts over when full", () => {
    const i = new Interner<string>(3);
    for (const s of ["a", "b", "c", "d", "e"]) i.get(s, () => s);
    expect(i.size).toBeLessThanOrEqual(3);
    const x = "x".repeat(3);
    expect(i.get("xxx", () => x)).toBe(x);
    expect(i.get("xxx", () => "other")).toBe(x);
  });

  it("the cache key's hex form is credentialKey's; the in-memory form is the same 32 bytes", async () => {
    for (const cred of [
      { kind: "token", value: "ory_st_abcdefghijklmnopqrstuvwxyz012345" },
      { kind: "cookie", value: "MTcxNzI0…Zm9v-ünïcödé" },
      { kind: "token", value: "" },
    ] as const) {
      const d = credentialDigest(cred);
      expect(digestHex(d)).toBe(await credentialKey(cred));
      expect(d).toHaveLength(32);
    }
  });
});

describe("SessionResolver with the compact cache", () => {
  function fakeKratos(raw: unknown): KratosClient & { calls: number } {
    const k = {
      calls: 0,
      async whoami() {
        k.calls++;
        return mapSession(JSON.parse(JSON.stringify(raw)));
      },
    };
    return k as unknown as KratosClient & { calls: number };
  }
  const log = pino({ level: "silent" });
  const future = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

  it("serves from memory exactly what Kratos answered, for every field, until the TTL", async () => {
    const raw = whoami({ aal: "aal2", methods: ["password", "totp"], expires: future(24), authenticated: future(-1) });
    const kratos = fakeKratos(raw);
    const bus = new InvalidationBus(log);
    const r = new SessionResolver({ kratos, bus, ttlSec: 60, size: 10, metrics: new Metrics(), log });
    const cred = { kind: "token", value: "ory_st_layout" } as const;
    const first = await r.resolve(cred);
    const second = await r.resolve(cred);
    expect(kratos.calls).toBe(1);
    expect(second.session).toStrictEqual(first.session);
    expect(second.session).toStrictEqual(mapSession(raw));
    expect(second.key).toBe(await credentialKey(cred));
    expect(second.key).toBe(first.key);

    // A revoked session is not served from memory.
    await bus.publish({ t: "session", sid: first.session.id, until: Date.now() + 60_000 });
    await r.resolve(cred);
    expect(kratos.calls).toBe(2);
  });

  it("with SESSION_CACHE_TTL_SECONDS=0 nothing is kept", async () => {
    const kratos = fakeKratos(whoami({ expires: future(24), authenticated: future(-1) }));
    const r = new SessionResolver({
      kratos,
      bus: new InvalidationBus(log),
      ttlSec: 0,
      size: 10,
      metrics: new Metrics(),
      log,
    });
    const cred = { kind: "cookie", value: "c" } as const;
    await r.resolve(cred);
    await r.resolve(cred);
    expect(kratos.calls).toBe(2);
  });
});
