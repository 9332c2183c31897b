// The gateway's brute-force counters and locks in Redis, named once: the gateway sets
// them, the auth-service clears an account's lock when an operator unlocks it. An
// account's keys carry a hash of its identifier's canonical spelling, so Redis never
// holds an address and no respelling gets a fresh counter. Web Crypto, not node:crypto:
// this package must also run in edge runtimes.

/** Prefix of every brute-force key (also how the gateway's memory fallback names them). */
export const BRUTE_FORCE_PREFIX = "gh:bf:";

/** Longest identifier counted (a longer one is refused, not counted elsewhere). */
export const MAX_IDENTIFIER_LENGTH = 320;

/**
 * The canonical spelling, stricter than Kratos' strings.ToLower(strings.TrimSpace(x)),
 * so two spellings Kratos sees as one account always share a counter:
 * compatibility-normalized (NFKC: fullwidth, ligatures, "ſ" → "s"), every space,
 * control and format character removed (zero-width ones included), lower-cased, and
 * stripped of combining marks ("İ" → "i", "é" → "e").
 */
export function normalizeIdentifier(raw: string): string {
  const compat = raw.normalize("NFKC").replace(/[\p{White_Space}\p{Cc}\p{Cf}]/gu, "");
  const marksApart = compat.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "");
  return marksApart.normalize("NFKC").toLowerCase();
}

/** An identifier's part of a key: the first 128 bits of SHA-256 of its canonical spelling, hex. */
export async function identifierKey(raw: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(normalizeIdentifier(raw)));
  return Array.from(new Uint8Array(digest, 0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The self-service flows whose submissions are counted (a login lock does not block
 * recovery). `login_code`: requests for an email sign-in code, counted as attempts
 * (they send mail) apart from failed sign-ins, so asking for codes never locks sign-in.
 */
export const BRUTE_FORCE_SCOPES = ["login", "login_code", "registration", "recovery", "verification"] as const;
export type BruteForceScope = (typeof BRUTE_FORCE_SCOPES)[number];

/** Keys of one scope: failure counters and locks, per client address and per account. */
export const bruteForceKeys = {
  ipFailures: (scope: string, ip: string) => `${BRUTE_FORCE_PREFIX}${scope}:fail:ip:${ip}`,
  ipLock: (scope: string, ip: string) => `${BRUTE_FORCE_PREFIX}${scope}:lock:ip:${ip}`,
  /** `idKey` from identifierKey(). */
  accountFailures: (scope: string, idKey: string) => `${BRUTE_FORCE_PREFIX}${scope}:fail:id:${idKey}`,
  accountLock: (scope: string, idKey: string) => `${BRUTE_FORCE_PREFIX}${scope}:lock:id:${idKey}`,
} as const;
