// Step 3: does the authenticated principal satisfy the route's rule? Pure and
// synchronous: everything it needs is in the verified token.
import { CREDENTIAL_KINDS, GuardError, type Principal, type Rule } from "./types.ts";

export type Verdict = { ok: true } | { ok: false; code: "forbidden" | "aal2_required"; message: string };

/**
 * Organization, role and permission checks come before the AAL check: a second
 * factor would not help somebody who lacks the role, so they get a 403 rather than
 * a pointless trip through the second-factor login.
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
  if (rule.aal === "aal2" && principal.aal !== "aal2") {
    return { ok: false, code: "aal2_required", message: "this route needs a second factor" };
  }
  return OK;
}
const OK: Verdict = Object.freeze({ ok: true });

function fail(option: string, message: string): never {
  throw new GuardError("invalid_options", `rule.${option}: ${message}`, { option: `rule.${option}` });
}

function nonEmptyStrings(value: unknown, option: string): void {
  if (!Array.isArray(value) || value.length === 0) fail(option, "must be a non-empty array of strings");
  for (const item of value) if (typeof item !== "string" || item === "") fail(option, "must contain non-empty strings");
}

const validated = new WeakSet<Rule>();

/**
 * Throws GuardError("invalid_options") naming the offending field. A typo such as
 * `roles: "admin"` must fail loudly, not turn into "allow everybody". Rules are
 * usually module-level constants, so each object is checked once.
 */
export function validateRule(rule: Rule): void {
  if (validated.has(rule)) return;
  if (typeof rule !== "object" || rule === null) fail("", "must be an object");
  const known = new Set(["accept", "anonymous", "roles", "permissions", "organization", "aal"]);
  for (const key of Object.keys(rule)) if (!known.has(key)) fail(key, "is not a rule option");
  if (rule.accept !== undefined) {
    nonEmptyStrings(rule.accept, "accept");
    for (const kind of rule.accept) {
      if (!CREDENTIAL_KINDS.includes(kind)) fail("accept", `unknown credential kind ${JSON.stringify(kind)}`);
    }
  }
  if (rule.anonymous !== undefined && typeof rule.anonymous !== "boolean") fail("anonymous", "must be a boolean");
  if (rule.roles !== undefined) nonEmptyStrings(rule.roles, "roles");
  if (rule.permissions !== undefined) nonEmptyStrings(rule.permissions, "permissions");
  if (rule.organization !== undefined && rule.organization !== true) {
    if (typeof rule.organization !== "string" || rule.organization === "") {
      fail("organization", "must be true or an organization id");
    }
  }
  if (rule.aal !== undefined && rule.aal !== "aal2") fail("aal", 'must be "aal2"');
  if (rule.anonymous === true && (rule.roles || rule.permissions || rule.organization || rule.aal)) {
    fail("anonymous", "cannot be combined with roles, permissions, organization or aal");
  }
  validated.add(rule);
}
