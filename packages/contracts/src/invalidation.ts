// The invalidation channel: what the auth-service (and the gateway, on a Kratos
// logout) announce over Redis, and what every auth-service instance and guard hears.
// Identities whose roles, memberships, teams or plan changed, revoked sessions and
// API keys, rotated signing keys. Publishers and subscribers import these names and
// this parser; nothing else spells the channel, the key prefix or the message shape.

/** The Redis pub/sub channel. */
export const INVALIDATION_CHANNEL = "gatehouse:invalidate";

/**
 * Redis keys "gh:rv:<sid>" (value "1", expiring when the last token of that session
 * or key expires): the revocations still in force, which a subscriber that was away
 * catches up on (SCAN with `${REVOKED_KEY_PREFIX}*`) and a strict verifier asks about.
 */
export const REVOKED_KEY_PREFIX = "gh:rv:";

/** The Redis key that marks `sid` revoked. */
export const revokedKey = (sid: string): string => REVOKED_KEY_PREFIX + sid;

/**
 * The credential id of an API key: its tokens' `sid`, an organization key's `sub`,
 * and the id its revocation and changes are announced under.
 */
export const apiKeySessionId = (keyId: string): string => `api_key:${keyId}`;

export type Invalidation =
  /** Roles, memberships, plan or teams of this identity (or API key) changed: tokens issued before are stale. */
  | { t: "identity"; id: string }
  /** Session or API key revoked: its tokens are refused until `until` (epoch ms, when the last one has expired). */
  | { t: "session"; sid: string; until: number }
  /** Signing keys rotated. */
  | { t: "keys" };

/** A message from the channel, or undefined when it is not one of ours (subscribers ignore those). */
export function parseInvalidation(raw: string): Invalidation | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof msg !== "object" || msg === null) return undefined;
  const m = msg as { t?: unknown; id?: unknown; sid?: unknown; until?: unknown };
  switch (m.t) {
    case "identity":
      return typeof m.id === "string" ? { t: "identity", id: m.id } : undefined;
    case "session":
      return typeof m.sid === "string" && typeof m.until === "number" && Number.isFinite(m.until)
        ? { t: "session", sid: m.sid, until: m.until }
        : undefined;
    case "keys":
      return { t: "keys" };
    default:
      return undefined;
  }
}
