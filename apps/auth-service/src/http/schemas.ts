// What the auth-service answers, as zod schemas beside the request schemas
// (validate.ts, routes.ts). The route table (routes.ts) names them per status, and the
// OpenAPI document (openapi.ts) is generated from them; the integration tests check
// every response they receive against that document.
import { ERRORS, type ErrorCode } from "@gatehouse/contracts";
import { AALS, type AccessTokenClaims, CLAIMS_VERSION } from "@gatehouse/tokens";
import { z } from "zod";
import { JOINED_VIA, ORG_ROLES, PLANS, TEAM_ROLES } from "../db/schema.ts";
import { uuid } from "./validate.ts";

const id = uuid;
/** A Date as JSON.stringify writes it. */
const timestamp = z.iso.datetime().meta({ id: "Timestamp" });
/** A bigint id (audit entries, deliveries), as a decimal string. */
const serial = z.string().regex(/^[1-9][0-9]{0,18}$/);
// before/after of a change: a small JSON object.
const json = z.record(z.string(), z.unknown());

/** `{error, message, request_id}` with the catalogue's codes (@gatehouse/contracts) of one status. */
function errorBody(status: number) {
  const codes = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => ERRORS[c].status === status);
  return z
    .object({ error: z.enum(codes as [ErrorCode, ...ErrorCode[]]), message: z.string(), request_id: z.string().min(1) })
    .meta({ id: `Error${status}`, description: `An error answer with status ${status}` });
}
/** The error body per status; which codes a route answers is in its response's `x-error-codes`. */
export const ERROR_BODIES: ReadonlyMap<number, z.ZodObject> = new Map(
  [...new Set(Object.values(ERRORS).map((e) => e.status))].map((status) => [status, errorBody(status)]),
);

export const ORGANIZATION = z
  .object({
    id,
    name: z.string(),
    plan: z.enum(PLANS),
    /** Members need a second factor (aal2) on every route; enterprise plans only. */
    requireMfa: z.boolean(),
    deletedAt: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Organization" });

export const USER_MEMBERSHIP = z
  .object({ organizationId: id, name: z.string(), plan: z.enum(PLANS), role: z.enum(ORG_ROLES) })
  .meta({ id: "UserMembership", description: "One of the caller's organizations and their role in it" });

export const MEMBERSHIP = z
  .object({
    id,
    organizationId: id,
    identityId: id,
    role: z.enum(ORG_ROLES),
    joinedVia: z.enum(JOINED_VIA),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Membership" });

export const MEMBER = z
  .object({
    membershipId: id,
    identityId: id,
    role: z.enum(ORG_ROLES),
    email: z.string(),
    nameFirst: z.string().nullable(),
    nameLast: z.string().nullable(),
    joinedAt: timestamp,
  })
  .meta({ id: "Member" });

export const INVITATION = z
  .object({
    id,
    organizationId: id,
    email: z.string(),
    role: z.enum(ORG_ROLES),
    status: z.enum(["pending", "accepted", "revoked", "expired"]),
    invitedBy: id,
    expiresAt: timestamp,
    acceptedAt: timestamp.nullable(),
    acceptedBy: id.nullable(),
    revokedAt: timestamp.nullable(),
    createdAt: timestamp,
  })
  .meta({ id: "Invitation" });

export const AUDIT_ENTRY = z
  .object({
    id: serial,
    at: timestamp,
    actor: z.string(),
    action: z.string(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    organizationId: id.nullable(),
    before: json.nullable(),
    after: json.nullable(),
    requestId: z.string().nullable(),
  })
  .meta({ id: "AuditEntry" });

export const WEBHOOK_SUBSCRIPTION = z
  .object({
    id,
    organizationId: id.nullable(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    createdBy: z.string(),
    createdAt: timestamp,
  })
  .meta({ id: "WebhookSubscription" });

export const DEAD_LETTER = z
  .object({
    id: serial,
    subscriptionId: id,
    eventId: z.string(),
    eventType: z.string(),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    createdAt: timestamp,
  })
  .meta({ id: "DeadLetter" });

export const API_KEY = z
  .object({
    id,
    organizationId: id,
    identityId: id.nullable(),
    createdBy: id.nullable(),
    name: z.string(),
    prefix: z.string(),
    scopes: z.array(z.string()),
    expiresAt: timestamp.nullable(),
    lastUsedAt: timestamp.nullable(),
    revokedAt: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "ApiKey", description: "An API key as listed: never the key itself" });

const TEAM_FIELDS = { id, organizationId: id, name: z.string(), createdAt: timestamp, updatedAt: timestamp };
export const TEAM = z.object(TEAM_FIELDS).meta({ id: "Team" });
export const TEAM_SUMMARY = z.object({ ...TEAM_FIELDS, memberCount: z.number().int() }).meta({ id: "TeamSummary" });

const TEAM_MEMBER_FIELDS = {
  teamId: id,
  identityId: id,
  role: z.enum(TEAM_ROLES),
  createdAt: timestamp,
  updatedAt: timestamp,
};
export const TEAM_MEMBER = z.object(TEAM_MEMBER_FIELDS).meta({ id: "TeamMember" });
export const TEAM_MEMBER_DETAIL = z
  .object({
    ...TEAM_MEMBER_FIELDS,
    email: z.string(),
    nameFirst: z.string().nullable(),
    nameLast: z.string().nullable(),
  })
  .meta({ id: "TeamMemberDetail" });

export const MY_SESSION = z
  .object({
    id,
    current: z.boolean(),
    // Kratos' own levels (a session may be aal0 or aal3), wider than a token's.
    aal: z.enum(["aal0", "aal1", "aal2", "aal3"]),
    authentication_methods: z.array(z.string()),
    created_at: timestamp,
    last_active_at: timestamp,
    expires_at: timestamp,
    devices: z.array(
      z.object({
        user_agent: z.string().nullable(),
        ip_address: z.string().nullable(),
        location: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: "MySession", description: "One of the signed-in person's Kratos sessions" });

export const TOKEN_RESPONSE = z
  .object({ access_token: z.string(), token_type: z.literal("Bearer"), expires_in: z.number().int().positive() })
  .meta({ id: "TokenResponse" });

/**
 * The claims of a Gatehouse access token, version CLAIMS_VERSION (packages/tokens/src/claims.ts
 * is the verifier's reading of them; `ClaimsMatch` below keeps the two the same type).
 * Published as JSON Schema (schemas/token-claims.v1.json).
 */
export const ACCESS_TOKEN_CLAIMS = z
  .object({
    iss: z.string().min(1),
    aud: z.union([z.string().min(1), z.array(z.string().min(1))]),
    sub: z.string().min(1).describe("Kratos identity id"),
    sid: z.string().min(1).describe("Kratos session id"),
    jti: z.string().min(1),
    iat: z.number().int().nonnegative(),
    nbf: z.number().int().nonnegative(),
    exp: z.number().int().nonnegative(),
    ver: z.literal(CLAIMS_VERSION),
    email: z.string().optional(),
    email_verified: z.boolean().optional(),
    name: z.object({ first: z.string().optional(), last: z.string().optional() }).optional(),
    org: z.string().optional().describe("Organization id; absent while the user belongs to none"),
    plan: z.enum(PLANS).optional(),
    role: z.enum(ORG_ROLES).optional(),
    teams: z.array(z.object({ id: z.string(), role: z.enum(TEAM_ROLES) })),
    perms: z.array(z.string()),
    aal: z.enum(AALS),
    amr: z.array(z.string()),
  })
  .meta({ id: "AccessTokenClaims", title: `Gatehouse access token claims, version ${CLAIMS_VERSION}` });

// Compile-time: the schema and the verifier's type describe the same claims, modulo
// readonly and `?: T` vs `?: T | undefined` (the build fails otherwise).
type Plain<T> = T extends readonly (infer U)[]
  ? Plain<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: Plain<Exclude<T[K], undefined>> }
    : T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const CLAIMS_MATCH: Same<Plain<z.infer<typeof ACCESS_TOKEN_CLAIMS>>, Plain<AccessTokenClaims>> = true;

export const INTROSPECTION = z
  .union([
    z.object({ active: z.literal(false) }),
    z.object({ active: z.literal(true), token_type: z.literal("access_token"), ...ACCESS_TOKEN_CLAIMS.shape }),
  ])
  .meta({ id: "Introspection", description: "RFC 7662-shaped" });

export const JWKS = z
  .object({
    keys: z.array(
      z.looseObject({ kty: z.string(), kid: z.string(), alg: z.string(), use: z.literal("sig").optional() }),
    ),
  })
  .meta({ id: "JWKS" });

export const AUTHORIZATION_SERVER_METADATA = z
  .object({
    issuer: z.string(),
    jwks_uri: z.string(),
    token_endpoint: z.string(),
    grant_types_supported: z.array(z.string()),
    token_endpoint_auth_methods_supported: z.array(z.string()),
    access_token_signing_alg_values_supported: z.array(z.string()),
    access_token_typ: z.literal("at+jwt"),
    audiences: z.array(z.string()),
  })
  .meta({ id: "AuthorizationServerMetadata", description: "RFC 8414 metadata" });

export const HEALTH_ALIVE = z.object({ status: z.literal("ok") });
export const HEALTH_READY = z
  .object({
    status: z.enum(["ok", "degraded", "unavailable", "draining"]),
    checks: z.record(z.string(), z.boolean()),
    missing: z.array(z.string()),
  })
  .meta({ id: "Readiness" });

export const ROTATION_RESULT = z.object({
  promoted: z.string().optional(),
  retiring: z.string().optional(),
  created: z.string().optional(),
  retired: z.array(z.string()),
});

export const OPENAPI_DOCUMENT = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({}),
  paths: z.looseObject({}),
});
