import { TokenError } from "./errors.ts";

/**
 * Version of the Gatehouse claims schema carried in `ver`. Additive changes (a new
 * optional claim) keep it; removing, renaming or changing the meaning of a claim bumps
 * it, and verifiers reject versions they do not know rather than misread them.
 */
export const CLAIMS_VERSION = 1;
export type ClaimsVersion = typeof CLAIMS_VERSION;

export const PLANS = ["starter", "pro", "enterprise"] as const;
export type Plan = (typeof PLANS)[number];

export const ORG_ROLES = ["owner", "admin", "member"] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

export const TEAM_ROLES = ["lead", "member"] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];

export const AALS = ["aal1", "aal2"] as const;
export type Aal = (typeof AALS)[number];

export interface TeamMembership {
  readonly id: string;
  readonly role: TeamRole;
}

export interface PersonName {
  readonly first?: string;
  readonly last?: string;
}

/** Registered JWT claims (RFC 7519 / RFC 9068) as Gatehouse uses them. */
export interface RegisteredClaims {
  readonly iss: string;
  readonly aud: string | readonly string[];
  /** Kratos identity id. */
  readonly sub: string;
  /** Kratos session id, so a token can be tied back to (and revoked with) its session. */
  readonly sid: string;
  readonly jti: string;
  /** Seconds since the epoch, as in every JWT. */
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
}

export interface GatehouseClaims {
  readonly ver: ClaimsVersion;
  /** Present on every token minted for a person; absent on organization API-key tokens. */
  readonly email?: string;
  readonly email_verified?: boolean;
  readonly name?: PersonName;
  /** Organization id; absent while the user belongs to none. */
  readonly org?: string;
  /** Plan of `org`; only present with `org`. */
  readonly plan?: Plan;
  /** Role in `org`; only present with `org`. */
  readonly role?: OrgRole;
  /**
   * `org` requires its members to sign in with a second factor: a guard refuses this
   * token unless `aal` is "aal2". Only present (as `true`) with `org`, on tokens minted
   * for a person's session; an added optional claim, so `ver` stays 1.
   */
  readonly mfa_required?: true;
  readonly teams: readonly TeamMembership[];
  readonly perms: readonly string[];
  readonly aal: Aal;
  readonly amr: readonly string[];
}

export type AccessTokenClaims = RegisteredClaims & GatehouseClaims;

/** Role → permissions. Configuration, not code: a role gets exactly what it lists. */
export type RolePermissionMap<R extends string = OrgRole> = Readonly<Partial<Record<R, readonly string[]>>>;

/**
 * Permissions granted to `role` by `map`, sorted and de-duplicated so the same input
 * always yields the same token. No implicit inheritance: an owner gets what the map
 * lists for "owner", nothing from "admin" unless listed again.
 */
export function permissionsFor<R extends string = OrgRole>(
  // NoInfer: the map (configuration) decides the role type, not the value asked about.
  role: NoInfer<R> | undefined,
  map: RolePermissionMap<R>,
): string[] {
  if (role === undefined || !Object.hasOwn(map, role)) return [];
  const perms: readonly string[] | undefined = map[role];
  return perms === undefined ? [] : [...new Set(perms)].sort();
}

function invalid(claim: string, detail: string): TokenError {
  return new TokenError("token_claims_invalid", `claim "${claim}" ${detail}`, { claim });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmptyString(payload: Record<string, unknown>, claim: string): string {
  const value = payload[claim];
  if (typeof value !== "string" || value.length === 0) throw invalid(claim, "must be a non-empty string");
  return value;
}

function numericDate(payload: Record<string, unknown>, claim: string): number {
  const value = payload[claim];
  // Integers only: fractional or huge dates are a sign of a broken issuer.
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(claim, "must be a non-negative integer (seconds since the epoch)");
  }
  return value;
}

function oneOf<T extends string>(claim: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw invalid(claim, `must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

function stringArray(payload: Record<string, unknown>, claim: string): string[] {
  const value = payload[claim];
  if (!Array.isArray(value)) throw invalid(claim, "must be an array of strings");
  return value.map((item: unknown, i) => {
    if (typeof item !== "string" || item.length === 0) throw invalid(claim, `[${i}] must be a non-empty string`);
    return item;
  });
}

/** Treats an own property holding `undefined` as absent (JS callers, never JSON). */
function present(payload: Record<string, unknown>, claim: string): boolean {
  return Object.hasOwn(payload, claim) && payload[claim] !== undefined;
}

/**
 * Validates an untrusted payload against the claims schema and returns a fresh object
 * holding only the known claims. Unknown claims are dropped, not rejected, so an
 * issuer can add optional claims without breaking older verifiers (see CLAIMS_VERSION).
 * Throws TokenError("token_claims_invalid") with `claim` naming the first bad claim.
 */
export function parseClaims(payload: unknown): AccessTokenClaims {
  if (!isRecord(payload)) {
    throw new TokenError("token_claims_invalid", "claims must be a JSON object", { claim: "*" });
  }

  // `ver` first: a payload from an unknown version may fail later checks for reasons
  // that are only confusing; say what is actually wrong.
  const ver = payload.ver;
  if (ver !== CLAIMS_VERSION) {
    throw invalid("ver", `must be ${CLAIMS_VERSION} (this build understands claims version ${CLAIMS_VERSION})`);
  }

  const iss = nonEmptyString(payload, "iss");

  const rawAud = payload.aud;
  let aud: string | string[];
  if (typeof rawAud === "string" && rawAud.length > 0) {
    aud = rawAud;
  } else if (Array.isArray(rawAud) && rawAud.length > 0) {
    aud = stringArray(payload, "aud");
  } else {
    throw invalid("aud", "must be a non-empty string or a non-empty array of strings");
  }

  const sub = nonEmptyString(payload, "sub");
  const sid = nonEmptyString(payload, "sid");
  const jti = nonEmptyString(payload, "jti");
  const iat = numericDate(payload, "iat");
  const nbf = numericDate(payload, "nbf");
  const exp = numericDate(payload, "exp");
  if (exp <= iat) throw invalid("exp", "must be after iat");
  if (exp <= nbf) throw invalid("exp", "must be after nbf");

  // A token minted for a person always carries email + email_verified; a machine
  // token (organization API key without a user, amr ["api_key"]) carries neither.
  const email = present(payload, "email") ? nonEmptyString(payload, "email") : undefined;
  const emailVerified = payload.email_verified;
  if (email !== undefined && typeof emailVerified !== "boolean") throw invalid("email_verified", "must be a boolean");
  if (email === undefined && present(payload, "email_verified")) throw invalid("email_verified", "requires email");

  let name: PersonName | undefined;
  if (present(payload, "name")) {
    const raw = payload.name;
    if (!isRecord(raw)) throw invalid("name", "must be an object with optional first and last strings");
    const parsed: { first?: string; last?: string } = {};
    for (const part of ["first", "last"] as const) {
      if (!present(raw, part)) continue;
      const value = raw[part];
      if (typeof value !== "string") throw invalid("name", `.${part} must be a string`);
      parsed[part] = value;
    }
    name = parsed;
  }

  const org = present(payload, "org") ? nonEmptyString(payload, "org") : undefined;
  const plan = present(payload, "plan") ? oneOf("plan", payload.plan, PLANS) : undefined;
  const role = present(payload, "role") ? oneOf("role", payload.role, ORG_ROLES) : undefined;
  // Plan and role describe the membership in `org`; without an org they mean nothing
  // and a guard must not act on them.
  if (org === undefined && plan !== undefined) throw invalid("plan", "requires org");
  if (org === undefined && role !== undefined) throw invalid("role", "requires org");
  // Only `true` is ever sent; anything else is a broken issuer, not "not required".
  if (present(payload, "mfa_required") && payload.mfa_required !== true) throw invalid("mfa_required", "must be true");
  const mfaRequired = present(payload, "mfa_required");
  if (org === undefined && mfaRequired) throw invalid("mfa_required", "requires org");

  const rawTeams = payload.teams;
  if (!Array.isArray(rawTeams)) throw invalid("teams", "must be an array of {id, role}");
  const teams = rawTeams.map((team: unknown, i): TeamMembership => {
    if (!isRecord(team)) throw invalid("teams", `[${i}] must be an object {id, role}`);
    const id = team.id;
    if (typeof id !== "string" || id.length === 0) throw invalid("teams", `[${i}].id must be a non-empty string`);
    if (typeof team.role !== "string" || !(TEAM_ROLES as readonly string[]).includes(team.role)) {
      throw invalid("teams", `[${i}].role must be one of ${TEAM_ROLES.join(", ")}`);
    }
    return { id, role: team.role as TeamRole };
  });

  const perms = stringArray(payload, "perms");
  const aal = oneOf("aal", payload.aal, AALS);
  const amr = stringArray(payload, "amr");

  // Built field by field so optional claims are absent rather than `undefined`.
  return {
    iss,
    aud,
    sub,
    sid,
    jti,
    iat,
    nbf,
    exp,
    ver,
    ...(email === undefined ? {} : { email, email_verified: emailVerified as boolean }),
    ...(name === undefined ? {} : { name }),
    ...(org === undefined ? {} : { org }),
    ...(plan === undefined ? {} : { plan }),
    ...(role === undefined ? {} : { role }),
    ...(mfaRequired ? { mfa_required: true as const } : {}),
    teams,
    perms,
    aal,
    amr,
  };
}
