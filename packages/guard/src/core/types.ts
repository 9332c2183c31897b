// The guard's vocabulary: what goes in (a request), what comes out (a decision),
// what a route asks for (a rule) and who the caller is (a principal). Framework
// adapters translate to and from these; nothing here knows about Express or Next.
import type { ErrorStatus } from "@gatehouse/contracts";
import type { Aal, OrgRole, Plan, TeamMembership } from "@gatehouse/tokens";

/** The parts of an HTTP request the guard looks at. A Web `Request` fits as is. */
export interface GuardRequest {
  method: string;
  /** Absolute URL (scheme, host, path, query) as the client asked for it. */
  url: string;
  /**
   * Case-insensitive lookup; a header sent more than once reads as its values joined
   * with ", " (what the Web `Headers` class does), so duplicates stay detectable.
   */
  headers: { get(name: string): string | null };
  /**
   * The end client's address as this entry point trusts it (its socket, or what a
   * trusted proxy in front said). Sent along with an exchange so the auth-service's
   * rate limits count each client, not every client behind this guard as one.
   */
  readonly clientAddress?: string | undefined;
}

/** How the caller proved who they are. */
export type CredentialKind = "session" | "jwt" | "api_key";

export const CREDENTIAL_KINDS: readonly CredentialKind[] = ["session", "jwt", "api_key"];

/** The authenticated caller, built from a verified Gatehouse access token. Frozen: caches share it between requests. */
export interface Principal {
  /** Kratos identity id (`sub`). */
  subject: string;
  /** Kratos session id (`sid`). */
  sessionId: string;
  /** Absent on machine tokens (organization API keys without a user). */
  email?: string;
  emailVerified?: boolean;
  organizationId?: string;
  plan?: Plan;
  role?: OrgRole;
  /** The organization requires a second factor of its members (token claim `mfa_required`). */
  mfaRequired?: true;
  teams: readonly TeamMembership[];
  permissions: readonly string[];
  aal: Aal;
  amr: readonly string[];
  via: CredentialKind;
  /** The verified Gatehouse JWT, for forwarding to upstream services. */
  token: string;
  /** Token expiry, seconds since the epoch. */
  expiresAt: number;
}

export interface AllowDecision {
  kind: "allow";
  /** Absent on an anonymous route reached without (valid) credentials. */
  principal?: Principal;
  /** Identity headers to add to the request before it goes on (shared between requests: do not modify). */
  headers: Readonly<Record<string, string>>;
}

export interface DenyDecision {
  kind: "deny";
  /** The status the error catalogue (@gatehouse/contracts) gives `error`. */
  status: ErrorStatus<GuardDenyCode>;
  error: GuardDenyCode;
  message: string;
  /** Set on 429 and 503: the caller should come back, not sign in again. */
  retryAfterSec?: number;
  /** Set on a 403 to a browser's page load: it is answered with a page (enforce/page.ts), not JSON. */
  page?: RefusalPage;
}

/** Where a refused person can go on from the 403 page (absent without login options). */
export interface RefusalPage {
  /** The app (login.defaultReturnTo). */
  home?: string;
  /** The login, back to this page afterwards: as someone else, or with a second factor. */
  signIn?: string;
}

export interface RedirectDecision {
  kind: "redirect";
  status: 303;
  location: string;
}

export type Decision = AllowDecision | DenyDecision | RedirectDecision;

/** What a route requires. `{}` means "any authenticated caller". */
export interface Rule {
  /** Credential kinds this route accepts. Default: the guard's `accept` option. */
  accept?: readonly CredentialKind[];
  /**
   * Authentication is optional: without credentials (or with ones that fail for any
   * reason, including an outage) the request is allowed without a principal.
   */
  anonymous?: boolean;
  /** The caller's organization role must be one of these (no implied hierarchy). */
  roles?: readonly string[];
  /** The caller must hold every one of these permissions. */
  permissions?: readonly string[];
  /**
   * `true`: the caller must act within some organization. A string: within that
   * organization (session and API-key callers get a token for it from the auth-service).
   */
  organization?: string | true;
  /** Require a second factor. Browsers are sent to the second-factor login. */
  aal?: "aal2";
}

/** The error catalogue's codes (@gatehouse/contracts) a guard answers with, plus invalid_options (thrown). */
export type GuardErrorCode =
  /** No usable credential, or the credential is not (or no longer) valid. 401. */
  | "unauthenticated"
  /** A Gatehouse JWT failed verification. 401. */
  | "invalid_token"
  /** The auth-service does not know the API key. 401. */
  | "invalid_api_key"
  /** Duplicated or conflicting credentials: refuse rather than pick one. 400. */
  | "ambiguous_credentials"
  /** Authenticated, but the rule's role/permission/organization is not met. 403. */
  | "forbidden"
  /**
   * Authenticated at aal1; the route, or the caller's organization (`mfa_required`),
   * needs aal2. 403 (browsers are redirected to the second-factor login).
   */
  | "aal2_required"
  /** The token's session was revoked (revocation check on the JWT path). 401. */
  | "session_revoked"
  /** Upstream (auth-service/Kratos) answered 429. */
  | "rate_limited"
  /** Upstream down, slow or answering nonsense. 503: retry, do not sign in again. */
  | "dependency_unavailable"
  /** createGuard or a rule was given an invalid option. Thrown, never a decision. */
  | "invalid_options";

/** What a deny decision says: every code but invalid_options, each in the error catalogue. */
export type GuardDenyCode = Exclude<GuardErrorCode, "invalid_options">;

export const GUARD_ERROR_CODES: readonly GuardErrorCode[] = [
  "unauthenticated",
  "invalid_token",
  "invalid_api_key",
  "ambiguous_credentials",
  "forbidden",
  "aal2_required",
  "session_revoked",
  "rate_limited",
  "dependency_unavailable",
  "invalid_options",
];

export interface GuardErrorOptions {
  retryAfterSec?: number;
  /** The option at fault, for invalid_options. */
  option?: string;
  cause?: unknown;
}

/**
 * Every failure inside the guard is a GuardError; `check()` turns them into
 * decisions. Messages are built from fixed text, status codes and error codes only,
 * never from credentials, so they are safe to return to clients and to log.
 */
export class GuardError extends Error {
  override readonly name = "GuardError";
  readonly code: GuardErrorCode;
  readonly retryAfterSec: number | undefined;
  readonly option: string | undefined;

  constructor(code: GuardErrorCode, message: string, options: GuardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSec = options.retryAfterSec;
    this.option = options.option;
  }
}

/** Events worth logging (a degraded dependency, a misbehaving upstream); never carry credentials. */
export type GuardEvent =
  | { type: "redis_error"; operation: "get" | "set" | "exists"; message: string }
  | { type: "upstream_error"; code: GuardErrorCode; message: string }
  | { type: "revocation_check_failed"; message: string };
