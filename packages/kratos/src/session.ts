// Maps Kratos' session / identity JSON to compact types. The input is treated as
// untrusted `unknown` and checked field by field: a Kratos (or proxy) answer of
// the wrong shape is an outage ('unavailable'), never a crash and never a session.
import type {
  Identity as OryIdentity,
  Session as OrySession,
  VerifiableIdentityAddress as OryVerifiableAddress,
} from "@ory/client";
import { KratosError } from "./errors.ts";

export type Aal = "aal0" | "aal1" | "aal2" | "aal3";
const AALS: readonly string[] = ["aal0", "aal1", "aal2", "aal3"] satisfies Aal[];

/** Traits of Gatehouse's `person` identity schema (kratos-config/identity.schema.json). */
export interface KratosTraits {
  email: string;
  name?: { first?: string; last?: string };
}

export interface KratosIdentity {
  id: string;
  schemaId: string;
  state: "active" | "inactive";
  traits: KratosTraits;
  /** True when the verifiable address equal to traits.email is verified. */
  emailVerified: boolean;
  /**
   * The credential types set up (password, totp, lookup_secret, passkey…), from the admin
   * API's identity (never their secrets: Kratos sends none without include_credential);
   * undefined where Kratos does not say (whoami).
   */
  credentialTypes?: string[];
}

export interface KratosSession {
  id: string;
  active: boolean;
  expiresAt: Date;
  authenticatedAt: Date;
  aal: Aal;
  /** Methods used to authenticate, in order, e.g. ["password"] or ["password", "totp"]. */
  amr: string[];
  identity: KratosIdentity;
}

// The @ory/client field names, so a rename in the SDK types shows up here at compile time.
type SessionField = keyof OrySession;
type IdentityField = keyof OryIdentity;
type AddressField = keyof OryVerifiableAddress;
const S = {
  id: "id",
  active: "active",
  expiresAt: "expires_at",
  authenticatedAt: "authenticated_at",
  aal: "authenticator_assurance_level",
  methods: "authentication_methods",
  identity: "identity",
} as const satisfies Record<string, SessionField>;
const I = {
  id: "id",
  schemaId: "schema_id",
  state: "state",
  traits: "traits",
  addresses: "verifiable_addresses",
  credentials: "credentials",
} as const satisfies Record<string, IdentityField>;
const A = { value: "value", verified: "verified" } as const satisfies Record<string, AddressField>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function malformed(what: string): KratosError {
  return new KratosError("unavailable", `Kratos answered with a malformed ${what}`);
}

function str(o: Obj, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== "string" || v === "") throw malformed(`${what} (${key})`);
  return v;
}

function date(o: Obj, key: string, what: string): Date {
  const d = new Date(str(o, key, what));
  if (Number.isNaN(d.getTime())) throw malformed(`${what} (${key})`);
  return d;
}

function mapTraits(v: unknown): KratosTraits {
  if (!isObj(v)) throw malformed("identity (traits)");
  const email = v.email;
  if (typeof email !== "string" || email === "") throw malformed("identity (traits.email)");
  const traits: KratosTraits = { email };
  if (v.name !== undefined && v.name !== null) {
    if (!isObj(v.name)) throw malformed("identity (traits.name)");
    const name: { first?: string; last?: string } = {};
    if (typeof v.name.first === "string") name.first = v.name.first;
    if (typeof v.name.last === "string") name.last = v.name.last;
    traits.name = name;
  }
  return traits;
}

/** Maps an identity object from whoami or the admin API. Throws 'unavailable' on a bad shape. */
export function mapIdentity(raw: unknown): KratosIdentity {
  if (!isObj(raw)) throw malformed("identity");
  const traits = mapTraits(raw[I.traits]);
  const state = raw[I.state];
  // `state` is optional in the spec; Kratos defaults identities to active.
  if (state !== undefined && state !== "active" && state !== "inactive") throw malformed("identity (state)");
  const addresses = raw[I.addresses];
  // The admin session list omits verifiable_addresses; missing means "not known verified".
  if (addresses !== undefined && addresses !== null && !Array.isArray(addresses)) {
    throw malformed("identity (verifiable_addresses)");
  }
  // Emails are case-insensitive in practice and Kratos lowercases the address it stores.
  const email = traits.email.toLowerCase();
  const emailVerified = ((addresses ?? []) as unknown[]).some((a) => {
    if (!isObj(a)) return false;
    const value = a[A.value];
    return typeof value === "string" && value.toLowerCase() === email && a[A.verified] === true;
  });
  return {
    id: str(raw, I.id, "identity"),
    schemaId: str(raw, I.schemaId, "identity"),
    state: state ?? "active",
    traits,
    emailVerified,
    ...(isObj(raw[I.credentials]) ? { credentialTypes: Object.keys(raw[I.credentials] as Obj).sort() } : {}),
  };
}

/**
 * Maps a whoami answer. Shape errors → 'unavailable'; a session Kratos marks
 * inactive, that has expired by our clock, or whose identity is inactive →
 * 'unauthenticated' (defence in depth: Kratos should have answered 401 itself).
 */
export function mapSession(raw: unknown, now: number = Date.now()): KratosSession {
  if (!isObj(raw)) throw malformed("session");
  const id = str(raw, S.id, "session");
  const active = raw[S.active];
  if (typeof active !== "boolean") throw malformed("session (active)");
  const expiresAt = date(raw, S.expiresAt, "session");
  const authenticatedAt = date(raw, S.authenticatedAt, "session");
  const aal = raw[S.aal];
  if (typeof aal !== "string" || !AALS.includes(aal)) throw malformed("session (authenticator_assurance_level)");
  const methods = raw[S.methods] ?? [];
  if (!Array.isArray(methods)) throw malformed("session (authentication_methods)");
  const amr: string[] = [];
  for (const m of methods as unknown[]) {
    if (!isObj(m) || typeof m.method !== "string") throw malformed("session (authentication_methods)");
    amr.push(m.method);
  }
  const identity = mapIdentity(raw[S.identity]);

  if (!active) throw new KratosError("unauthenticated", "Kratos reports the session as inactive");
  if (expiresAt.getTime() <= now) throw new KratosError("unauthenticated", "the session has expired");
  if (identity.state !== "active") throw new KratosError("unauthenticated", "the identity is inactive");
  return { id, active, expiresAt, authenticatedAt, aal: aal as Aal, amr, identity };
}

/** One device a session was used from, as Kratos records it (any field may be unknown). */
export interface SessionDevice {
  ipAddress: string | null;
  userAgent: string | null;
  location: string | null;
}

/**
 * A session as the admin list shows it, for a person's own "where am I signed in"
 * page. Kratos does not expose a last-activity time: `authenticatedAt` (the last
 * sign-in or refresh) is the freshest moment it records.
 */
export interface SessionSummary {
  id: string;
  active: boolean;
  aal: Aal;
  amr: string[];
  issuedAt: Date;
  authenticatedAt: Date;
  expiresAt: Date;
  devices: SessionDevice[];
}

const nullableStr = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** Maps one item of the admin session list. Throws 'unavailable' on a bad shape. */
export function mapSessionSummary(raw: unknown): SessionSummary {
  if (!isObj(raw)) throw malformed("session list item");
  const aal = raw[S.aal];
  if (typeof aal !== "string" || !AALS.includes(aal)) throw malformed("session (authenticator_assurance_level)");
  const methods = raw[S.methods] ?? [];
  const devices = raw.devices ?? [];
  if (!Array.isArray(methods) || !Array.isArray(devices)) throw malformed("session list item");
  return {
    id: str(raw, S.id, "session"),
    active: raw[S.active] === true,
    aal: aal as Aal,
    amr: (methods as unknown[]).flatMap((m) => (isObj(m) && typeof m.method === "string" ? [m.method] : [])),
    issuedAt: date(raw, "issued_at", "session"),
    authenticatedAt: date(raw, S.authenticatedAt, "session"),
    expiresAt: date(raw, S.expiresAt, "session"),
    devices: (devices as unknown[]).filter(isObj).map((d) => ({
      ipAddress: nullableStr(d.ip_address),
      userAgent: nullableStr(d.user_agent),
      location: nullableStr(d.location),
    })),
  };
}
