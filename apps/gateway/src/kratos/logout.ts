// Kratos' own logout (browser: GET /self-service/logout?token=…; native apps:
// DELETE /self-service/logout/api {session_token}) ends the session at Kratos but
// tells no one, so tokens already minted from it would live until they expire. The
// gateway forwards these requests, so it can close the gap: before forwarding it asks
// Kratos which session the credential is, and once Kratos' answer says the session
// ended (204, or a redirect that deletes the session cookie) it announces the
// revocation on the auth-service's channel, in @gatehouse/contracts' terms (channel message
// plus the "gh:rv:<sid>" marker that a reconnecting subscriber catches up from).
import type { IncomingMessage } from "node:http";
import { INVALIDATION_CHANNEL, type Invalidation, revokedKey } from "@gatehouse/contracts";

/** How long a revocation is remembered: past the longest token lifetime (TOKEN_TTL_SECONDS ≤ 3600). */
const REMEMBER_MS = 3_600_000 + 60_000;

export interface RevocationRedis {
  publish(channel: string, message: string): Promise<unknown>;
  set(key: string, value: string, px: "PX", ms: number): Promise<unknown>;
}

/** Announces a revoked session to every guard and auth-service instance. */
export async function announceRevoked(redis: RevocationRedis, sid: string): Promise<void> {
  const until = Date.now() + REMEMBER_MS;
  await redis.set(revokedKey(sid), "1", "PX", REMEMBER_MS);
  const msg: Invalidation = { t: "session", sid, until };
  await redis.publish(INVALIDATION_CHANNEL, JSON.stringify(msg));
}

export type LogoutKind = "browser" | "api";

export function logoutKind(method: string | undefined, path: string): LogoutKind | undefined {
  if (method === "GET" && path === "/self-service/logout") return "browser";
  if (method === "DELETE" && path === "/self-service/logout/api") return "api";
  return undefined;
}

/** Kratos' answer says the session ended: 204 (API), or its session cookie deleted (browser). */
export function sessionEnded(kind: LogoutKind, answer: IncomingMessage, cookieName: string): boolean {
  if (kind === "api") return answer.statusCode === 204;
  const prefix = `${cookieName.toLowerCase()}=`;
  return (answer.headers["set-cookie"] ?? []).some((c) => {
    const lower = c.toLowerCase();
    if (!lower.startsWith(prefix)) return false;
    return lower.startsWith(`${prefix};`) || /;\s*max-age=(0|-)|;\s*expires=thu, 01 jan 1970/.test(lower);
  });
}
