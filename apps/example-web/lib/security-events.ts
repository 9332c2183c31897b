// The person's security history (GET /v1/me/security-events) in the product's words:
// one table from the event's type (and what its `after` says) to a sentence. Entries
// carry no secrets (the auth-service redacts them); only names and methods are read here.
import type { AuditEntry } from "./api.ts";

/** Kratos' authentication methods (the session's AMR, a second factor's method) as people say them. */
const METHODS: Record<string, string> = {
  password: "password",
  totp: "TOTP",
  lookup_secret: "a backup code",
  webauthn: "a security key",
  passkey: "a passkey",
  code: "an emailed code",
  oidc: "social sign-in",
  link_recovery: "a recovery link",
  code_recovery: "a recovery code",
};
const FACTORS: Record<string, string> = { lookup_secret: "backup codes", webauthn: "security key" };

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);
const method = (m: unknown) => METHODS[String(m)] ?? String(m);
const factor = (m: unknown) => FACTORS[String(m)] ?? method(m);

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

const SAY: Record<string, (after: Record<string, unknown>) => string> = {
  "user.created": () => "Account created",
  "user.authenticated": (a) => {
    const used = Array.isArray(a.methods) ? [...new Set(a.methods.map(method))] : [];
    return used.length ? `Signed in with ${list(used)}` : "Signed in";
  },
  "user.password_changed": () => "Password changed",
  "user.recovered": () => "Account recovered",
  "user.mfa_enabled": (a) => `Second factor added: ${factor(a.method)}`,
  "user.mfa_disabled": (a) => `Second factor removed: ${factor(a.method)}`,
  "user.account_locked": () => "Sign-in locked after too many failed attempts",
  "user.account_unlocked": () => "Sign-in unlocked",
  "user.deactivated": () => "Account deactivated",
  "user.reactivated": () => "Account reactivated",
  "user.deleted": () => "Account deleted",
  "session.revoked": () => "Session signed out",
  "identity.sessions_revoked": () => "Every session signed out",
  "identity.other_sessions_revoked": (a) =>
    a.reason === "recovered"
      ? "Other sessions signed out after the recovery"
      : "Other sessions signed out after the password change",
  "api_key.created": (a) => (str(a.name) ? `API key created: ${str(a.name)}` : "API key created"),
  "api_key.revoked": () => "API key revoked",
};

/** The entry as a sentence, e.g. "Signed in with password and TOTP"; an unknown type shows as it is. */
export function describeEvent(e: AuditEntry): string {
  return SAY[e.action]?.(e.after ?? {}) ?? e.action;
}

/** What else the entry says: until when a lock holds, or who did it when it was not the person. */
export function eventDetail(e: AuditEntry, exact: (iso: string) => string): string | undefined {
  const until = str(e.after?.locked_until);
  if (until) return `until ${exact(until)}`;
  if (e.actor === "operator") return "by an administrator";
  if (e.actor.startsWith("api_key:")) return "with an API key";
  return undefined;
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86_400],
  ["month", 30 * 86_400],
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
];
const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "3 minutes ago", "yesterday", "just now": the largest whole unit. */
export function ago(iso: string, now = Date.now()): string {
  const sec = Math.round((Date.parse(iso) - now) / 1000);
  for (const [unit, size] of UNITS) if (Math.abs(sec) >= size) return relative.format(Math.trunc(sec / size), unit);
  return "just now";
}
