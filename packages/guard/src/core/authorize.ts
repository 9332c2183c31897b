// Step 3: does the authenticated principal satisfy the route's rule? Pure and
// synchronous: everything it needs is in the verified token.
import { CREDENTIAL_KINDS, type CredentialKind, GuardError, type Principal, type Rule } from "./types.ts";

export type Verdict = { ok: true } | { ok: false; code: "forbidden" | "aal2_required"; message: string };

/**
 * Organization, role and permission checks come before the AAL check: a second
 * factor would not help somebody who lacks the role, so they get a 403 rather than
 * a pointless trip through the second-factor login. The AAL check applies on every
 * route when the caller's organization requires a second factor (`mfa_required` in
 * the token): the route's rule cannot opt out of the organization's policy.
 */
export function authorize(principal: Principal, rule: Rule): Verdict {
  const org = rule.organization;
  if (org !== undefined) {
    if (principal.organizationId === undefined) {
      return { ok: false, code: "forbidden", message: "this route needs an organization" };
    }
    if (typeof org === "string" && principal.organizationId !== org) {
      return { ok: false, code: "forbidden", message: "this route belongs to another organization" };
    }
  }
  if (rule.roles !== undefined && (principal.role === undefined || !rule.roles.includes(principal.role))) {
    return { ok: false, code: "forbidden", message: `this route needs the role ${rule.roles.join(" or ")}` };
  }
  if (rule.permissions !== undefined) {
    const held = new Set(principal.permissions);
    const missing = rule.permissions.filter((p) => !held.has(p));
    if (missing.length > 0) {
      return { ok: false, code: "forbidden", message: `missing permission ${missing.join(", ")}` };
    }
  }
  if (principal.aal !== "aal2") {
    if (principal.mfaRequired === true) return ORG_NEEDS_AAL2;
    if (rule.aal === "aal2") return { ok: false, code: "aal2_required", message: "this route needs a second factor" };
  }
  return OK;
}
const OK: Verdict = Object.freeze({ ok: true });
const ORG_NEEDS_AAL2: Verdict = Object.freeze({
  ok: false,
  code: "aal2_required",
  message: "your organization requires a second factor: sign in with it, or set one up",
});

function fail(option: string, message: string): never {
  throw new GuardError("invalid_options", `rule.${option}: ${message}`, { option: `rule.${option}` });
}

function nonEmptyStrings(value: unknown, option: string): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) fail(option, "must be a non-empty array of strings");
  for (const item of value) if (typeof item !== "string" || item === "") fail(option, "must contain non-empty strings");
  return Object.freeze([...(value as string[])]);
}

const COMPILED: unique symbol = Symbol("gatehouse.compiledRule");

/** A rule checked and frozen by compileRule: what guard.decide() takes. */
export type CompiledRule = Readonly<Rule> & { readonly [COMPILED]: true };

const KNOWN = new Set(["accept", "anonymous", "roles", "permissions", "organization", "aal"]);

/**
 * Checks a rule once, when a route is declared or a routes file loaded, and freezes a
 * copy of it (the caller's arrays may change later; the rule must not). Throws
 * GuardError("invalid_options") naming the offending field: a typo such as
 * `roles: "admin"` must fail loudly, not turn into "allow everybody".
 */
export function compileRule(rule: Rule | CompiledRule): CompiledRule {
  if (typeof rule !== "object" || rule === null) fail("", "must be an object");
  if ((rule as Partial<CompiledRule>)[COMPILED] === true) return rule as CompiledRule;
  for (const key of Object.keys(rule)) if (!KNOWN.has(key)) fail(key, "is not a rule option");
  const out: { -readonly [K in keyof Rule]: Rule[K] } = {};
  // An anonymous route may accept no credential at all: everybody passes as nobody.
  if (rule.accept !== undefined && rule.anonymous === true && Array.isArray(rule.accept) && rule.accept.length === 0) {
    out.accept = Object.freeze([]);
  } else if (rule.accept !== undefined) {
    out.accept = nonEmptyStrings(rule.accept, "accept") as readonly CredentialKind[];
    for (const kind of out.accept) {
      if (!CREDENTIAL_KINDS.includes(kind)) fail("accept", `unknown credential kind ${JSON.stringify(kind)}`);
    }
  }
  if (rule.anonymous !== undefined) {
    if (typeof rule.anonymous !== "boolean") fail("anonymous", "must be a boolean");
    out.anonymous = rule.anonymous;
  }
  if (rule.roles !== undefined) out.roles = nonEmptyStrings(rule.roles, "roles");
  if (rule.permissions !== undefined) out.permissions = nonEmptyStrings(rule.permissions, "permissions");
  if (rule.organization !== undefined) {
    if (rule.organization !== true && (typeof rule.organization !== "string" || rule.organization === "")) {
      fail("organization", "must be true or an organization id");
    }
    out.organization = rule.organization;
  }
  if (rule.aal !== undefined) {
    if (rule.aal !== "aal2") fail("aal", 'must be "aal2"');
    out.aal = rule.aal;
  }
  if (out.anonymous === true && (out.roles || out.permissions || out.organization || out.aal)) {
    fail("anonymous", "cannot be combined with roles, permissions, organization or aal");
  }
  return Object.freeze({ ...out, [COMPILED]: true as const });
}
