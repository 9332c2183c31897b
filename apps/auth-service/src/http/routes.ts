// The auth-service's routes in one table: method, path, listener, request schemas,
// response schemas per status and the error codes each may answer. The routers
// (public.ts, admin.ts, health.ts) register their handlers through `on()`, which takes
// method and path from here, and the OpenAPI document (openapi.ts) is generated from
// the same entries, so a route cannot exist without its contract.

import type { ErrorCode } from "@gatehouse/contracts";
import { BRUTE_FORCE_SCOPES, isEventType, MAX_IDENTIFIER_LENGTH } from "@gatehouse/contracts";
import type { IRouter, RequestHandler, Response } from "express";
import { z } from "zod";
import { ORG_ROLES, PLANS, TEAM_ROLES } from "../db/schema.ts";
import { looksLikeInvitationToken } from "../domain/invitations.ts";
import { LOGIN_WEBHOOK_BODY } from "../webhooks/login.ts";
import { MFA_WEBHOOK_BODY, MFA_WEBHOOK_QUERY } from "../webhooks/mfa.ts";
import { PROFILE_WEBHOOK_BODY, REGISTRATION_WEBHOOK_BODY } from "../webhooks/registration.ts";
import { SESSIONS_REVOKED_WEBHOOK_BODY, SESSIONS_REVOKED_WEBHOOK_QUERY } from "../webhooks/sessions-revoked.ts";
import * as S from "./schemas.ts";
import { API_KEY_FIELDS, PAGE_QUERY, uuid, WEBHOOK_FIELDS } from "./validate.ts";

/** Who may call a route; decides the security requirement and the error codes every such route may answer. */
export type Auth = "none" | "session" | "credential" | "operator" | "lockout_reporter" | "kratos_webhook";

export interface RouteSpec {
  readonly method: "get" | "post" | "put" | "patch" | "delete";
  /** Express syntax (`:orgId`); path parameters are UUIDs unless `params` says otherwise. */
  readonly path: string;
  readonly listener: "public" | "admin" | "both";
  readonly summary: string;
  readonly auth: Auth;
  readonly body?: z.ZodType;
  readonly query?: z.ZodObject;
  readonly params?: z.ZodObject;
  /** Per status: a JSON body's schema, `null` for no body, "text" for text/plain. */
  readonly responses: Readonly<Record<number, z.ZodType | null | "text">>;
  /** Codes beyond those every route with this `auth` may answer. */
  readonly errors?: readonly ErrorCode[];
}

/** What any route may answer: malformed input, overload, an outage (503, never 401). */
const COMMON: readonly ErrorCode[] = [
  "bad_request",
  "invalid_json",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
  "internal",
  "dependency_unavailable",
];
export const ERRORS_BY_AUTH: Record<Auth, readonly ErrorCode[]> = {
  none: COMMON,
  session: [...COMMON, "unauthenticated", "origin_not_allowed", "aal2_required", "forbidden", "not_found", "conflict"],
  credential: [...COMMON, "unauthenticated", "origin_not_allowed", "aal2_required", "forbidden", "not_found"],
  operator: [...COMMON, "unauthenticated"],
  lockout_reporter: [...COMMON, "unauthenticated"],
  kratos_webhook: [...COMMON, "unauthenticated"],
};

const future = z
  .string()
  .datetime()
  .refine((v) => Date.parse(v) > Date.now(), "must be in the future");

// Request schemas, built once: constructing a zod schema per request is work for nothing.
export const REQUEST = {
  token: z.object({ organization_id: uuid.optional() }).strict(),
  tokenQuery: z.object({ organization_id: z.string().optional() }),
  onboarding: z.object({ name: z.string().trim().min(1).max(200), plan: z.enum(PLANS).optional() }).strict(),
  invitation: z
    .object({ email: z.string().trim().email().max(320), role: z.enum(ORG_ROLES), expires_at: future.optional() })
    .strict(),
  invitationsQuery: z.object({ all: z.enum(["true", "false"]).optional() }),
  // The shape only; whether it names an invitation is the domain's question.
  accept: z.object({ token: z.string().max(200).refine(looksLikeInvitationToken, "not an invitation token") }).strict(),
  defaultOrganization: z.object({ organization_id: uuid }).strict(),
  role: z.object({ role: z.enum(ORG_ROLES) }).strict(),
  // Rename (owners, admins), plan and/or the second-factor requirement (owners); at least one.
  organization: z
    .object({
      name: z.string().trim().min(1).max(200).optional(),
      plan: z.enum(PLANS).optional(),
      require_mfa: z.boolean().optional(),
    })
    .strict()
    .refine(
      (b) => b.name !== undefined || b.plan !== undefined || b.require_mfa !== undefined,
      "name, plan or require_mfa is required",
    ),
  apiKey: z.object({ ...API_KEY_FIELDS, as_user: z.boolean().default(false) }).strict(),
  team: z.object({ name: z.string().trim().min(1).max(100) }).strict(),
  teamMember: z.object({ role: z.enum(TEAM_ROLES).default("member") }).strict(),
  webhook: z.object(WEBHOOK_FIELDS).strict(),
  // The audit log's filters (and the page: PAGE_QUERY).
  auditQuery: z
    .object({
      actor: z.string().min(1).max(200).optional(),
      /** An action kind: "membership" matches membership.added, membership.removed… */
      action: z
        .string()
        .regex(/^[a-z_]{1,40}$/, "an action kind such as membership or api_key")
        .optional(),
      type: z
        .string()
        .max(2_000)
        .refine((t) => t.split(",").every(isEventType), "a comma-separated list of event types")
        .optional(),
      since: z.string().datetime({ offset: true }).optional(),
      until: z.string().datetime({ offset: true }).optional(),
      ...PAGE_QUERY.shape,
    })
    .strict(),
  // DELETE /v1/me/sessions must say which: the only bulk revocation is "all but this one".
  revokeOthersQuery: z.object({ others: z.literal("true") }).strict(),
  // Admin.
  rotate: z.object({ force: z.boolean().optional() }).strict(),
  revoke: z.union([z.object({ session_id: uuid }).strict(), z.object({ identity_id: uuid }).strict()]),
  adminApiKey: z.object({ organization_id: uuid, identity_id: uuid.optional(), ...API_KEY_FIELDS }).strict(),
  introspect: z.object({ token: z.string().min(1).max(16_384) }).strict(),
  adminWebhook: z.object({ ...WEBHOOK_FIELDS, organization_id: uuid.optional() }).strict(),
  deliveryPath: z.object({ id: z.string().regex(/^[1-9][0-9]{0,18}$/) }),
  // An inbound event's envelope (events/inbound.ts): the sender's id, the type, the type's data.
  inboundEvent: z.discriminatedUnion("type", [
    z
      .object({
        id: uuid,
        occurred_at: z.string().datetime().optional(),
        type: z.enum(["user.deactivated", "user.reactivated"]),
        data: z.object({ identity_id: uuid }).strict(),
      })
      .strict(),
    z
      .object({
        id: uuid,
        occurred_at: z.string().datetime().optional(),
        type: z.enum(["customer.upgraded", "customer.downgraded"]),
        data: z.object({ organization_id: uuid, plan: z.enum(PLANS) }).strict(),
      })
      .strict(),
  ]),
  lockout: z
    .object({
      scope: z.enum(BRUTE_FORCE_SCOPES),
      identifier: z.string().min(1).max(MAX_IDENTIFIER_LENGTH),
      retry_after_seconds: z.number().int().min(1).max(86_400),
    })
    .strict(),
};

const cursor = z.string().nullable().describe("pass as `before` for the next page; null on the last page");
const ok = <T extends z.ZodRawShape>(shape: T) => z.object({ ok: z.literal(true), ...shape });

const spec = <const T extends RouteSpec>(s: T): T => s;

export const ROUTES = {
  // --- Both listeners ---------------------------------------------------------
  alive: spec({
    method: "get",
    path: "/health/alive",
    listener: "both",
    summary: "The process runs",
    auth: "none",
    responses: { 200: S.HEALTH_ALIVE },
  }),
  ready: spec({
    method: "get",
    path: "/health/ready",
    listener: "both",
    summary: "Postgres and Kratos answer (Redis optional: `degraded`); 503 while draining",
    auth: "none",
    responses: { 200: S.HEALTH_READY, 503: S.HEALTH_READY },
  }),

  // --- Public: discovery -----------------------------------------------------
  openapi: spec({
    method: "get",
    path: "/openapi.json",
    listener: "public",
    summary: "This document",
    auth: "none",
    responses: { 200: S.OPENAPI_DOCUMENT },
  }),
  jwks: spec({
    method: "get",
    path: "/.well-known/jwks.json",
    listener: "public",
    summary: "The public signing keys (next, active, retiring)",
    auth: "none",
    responses: { 200: S.JWKS },
  }),
  metadata: spec({
    method: "get",
    path: "/.well-known/oauth-authorization-server",
    listener: "public",
    summary: "Issuer, JWKS and token endpoint (RFC 8414)",
    auth: "none",
    responses: { 200: S.AUTHORIZATION_SERVER_METADATA },
  }),
  token: spec({
    method: "post",
    path: "/v1/token",
    listener: "public",
    summary: "Exchange a Kratos session (cookie or X-Session-Token) or an API key for a short-lived JWT",
    auth: "credential",
    body: REQUEST.token,
    query: REQUEST.tokenQuery,
    responses: { 200: S.TOKEN_RESPONSE },
    errors: ["invalid_api_key", "session_revoked", "user_deactivated"],
  }),

  // --- Public: the signed-in person -------------------------------------------
  onboarding: spec({
    method: "post",
    path: "/v1/onboarding",
    listener: "public",
    summary: "Create the caller's organization (idempotent: 200 with the existing one)",
    auth: "session",
    body: REQUEST.onboarding,
    responses: {
      200: z.object({ organization: S.ORGANIZATION, created: z.literal(false) }),
      201: z.object({ organization: S.ORGANIZATION, created: z.literal(true) }),
    },
  }),
  myOrganizations: spec({
    method: "get",
    path: "/v1/organizations",
    listener: "public",
    summary: "The caller's organizations",
    auth: "session",
    responses: { 200: z.object({ organizations: z.array(S.USER_MEMBERSHIP) }) },
  }),
  defaultOrganization: spec({
    method: "post",
    path: "/v1/me/default-organization",
    listener: "public",
    summary: "Choose the organization the caller's tokens are for by default",
    auth: "session",
    body: REQUEST.defaultOrganization,
    responses: { 204: null },
  }),
  securityEvents: spec({
    method: "get",
    path: "/v1/me/security-events",
    listener: "public",
    summary: "The caller's own security history, newest first",
    auth: "session",
    query: PAGE_QUERY,
    responses: { 200: z.object({ events: z.array(S.AUDIT_ENTRY), next_cursor: cursor }) },
  }),
  mySessions: spec({
    method: "get",
    path: "/v1/me/sessions",
    listener: "public",
    summary: "The caller's Kratos sessions, the current one first",
    auth: "session",
    responses: { 200: z.object({ sessions: z.array(S.MY_SESSION) }) },
  }),
  revokeMySession: spec({
    method: "delete",
    path: "/v1/me/sessions/:sessionId",
    listener: "public",
    summary: "Revoke one of the caller's sessions",
    auth: "session",
    responses: { 204: null },
  }),
  revokeMyOtherSessions: spec({
    method: "delete",
    path: "/v1/me/sessions",
    listener: "public",
    summary: "Revoke all the caller's sessions but the current one (`?others=true`)",
    auth: "session",
    query: REQUEST.revokeOthersQuery,
    responses: { 200: z.object({ revoked: z.number().int().nonnegative() }) },
  }),
  logout: spec({
    method: "post",
    path: "/v1/logout",
    listener: "public",
    summary: "Revoke the caller's session everywhere",
    auth: "session",
    responses: { 204: null },
  }),
  acceptInvitation: spec({
    method: "post",
    path: "/v1/invitations/accept",
    listener: "public",
    summary: "Accept an invitation addressed to the caller's verified email",
    auth: "session",
    body: REQUEST.accept,
    responses: { 200: z.object({ membership: S.MEMBERSHIP, organization_id: z.uuid() }) },
    errors: ["gone", "email_unverified"],
  }),

  // --- Public: an organization -------------------------------------------------
  updateOrganization: spec({
    method: "patch",
    path: "/v1/organizations/:orgId",
    listener: "public",
    summary: "Rename (owners, admins) or change the plan (owners)",
    auth: "session",
    body: REQUEST.organization,
    responses: { 200: z.object({ organization: S.ORGANIZATION }) },
  }),
  deleteOrganization: spec({
    method: "delete",
    path: "/v1/organizations/:orgId",
    listener: "public",
    summary: "Delete the organization (owners; soft delete)",
    auth: "session",
    responses: { 204: null },
  }),
  members: spec({
    method: "get",
    path: "/v1/organizations/:orgId/members",
    listener: "public",
    summary: "Members of the organization",
    auth: "session",
    responses: { 200: z.object({ members: z.array(S.MEMBER) }) },
  }),
  addMember: spec({
    method: "post",
    path: "/v1/organizations/:orgId/members",
    listener: "public",
    summary: "Retired: members join by invitation",
    auth: "none",
    responses: {},
    errors: ["gone"],
  }),
  changeRole: spec({
    method: "patch",
    path: "/v1/organizations/:orgId/members/:identityId",
    listener: "public",
    summary: "Change a member's role",
    auth: "session",
    body: REQUEST.role,
    responses: { 200: z.object({ membership: S.MEMBERSHIP }) },
    errors: ["last_owner"],
  }),
  removeMember: spec({
    method: "delete",
    path: "/v1/organizations/:orgId/members/:identityId",
    listener: "public",
    summary: "Remove a member (or leave)",
    auth: "session",
    responses: { 204: null },
    errors: ["last_owner"],
  }),
  createInvitation: spec({
    method: "post",
    path: "/v1/organizations/:orgId/invitations",
    listener: "public",
    summary: "Invite an address; the token is shown once",
    auth: "session",
    body: REQUEST.invitation,
    responses: { 201: z.object({ invitation: S.INVITATION, token: z.string() }) },
  }),
  invitations: spec({
    method: "get",
    path: "/v1/organizations/:orgId/invitations",
    listener: "public",
    summary: "Pending invitations (`?all=true`: all of them)",
    auth: "session",
    query: REQUEST.invitationsQuery,
    responses: { 200: z.object({ invitations: z.array(S.INVITATION) }) },
  }),
  revokeInvitation: spec({
    method: "delete",
    path: "/v1/organizations/:orgId/invitations/:invitationId",
    listener: "public",
    summary: "Revoke an invitation",
    auth: "session",
    responses: { 204: null },
    errors: ["gone"],
  }),
  audit: spec({
    method: "get",
    path: "/v1/organizations/:orgId/audit",
    listener: "public",
    summary: "The organization's audit log, newest first",
    auth: "session",
    query: REQUEST.auditQuery,
    responses: { 200: z.object({ entries: z.array(S.AUDIT_ENTRY), next_cursor: cursor }) },
  }),
  createWebhook: spec({
    method: "post",
    path: "/v1/organizations/:orgId/webhooks",
    listener: "public",
    summary: "Subscribe a URL to the organization's events; the signing secret is shown once",
    auth: "session",
    body: REQUEST.webhook,
    responses: { 201: z.object({ subscription: S.WEBHOOK_SUBSCRIPTION, secret: z.string() }) },
  }),
  webhooks: spec({
    method: "get",
    path: "/v1/organizations/:orgId/webhooks",
    listener: "public",
    summary: "The organization's webhook subscriptions",
    auth: "session",
    responses: { 200: z.object({ subscriptions: z.array(S.WEBHOOK_SUBSCRIPTION) }) },
  }),
  deleteWebhook: spec({
    method: "delete",
    path: "/v1/organizations/:orgId/webhooks/:id",
    listener: "public",
    summary: "Delete a webhook subscription",
    auth: "session",
    responses: { 204: null },
  }),
  createApiKey: spec({
    method: "post",
    path: "/v1/organizations/:orgId/api-keys",
    listener: "public",
    summary: "Create an API key; the key is shown once",
    auth: "session",
    body: REQUEST.apiKey,
    responses: { 201: z.object({ api_key: S.API_KEY, key: z.string() }) },
  }),
  apiKeys: spec({
    method: "get",
    path: "/v1/organizations/:orgId/api-keys",
    listener: "public",
    summary: "The organization's API keys",
    auth: "session",
    responses: { 200: z.object({ api_keys: z.array(S.API_KEY) }) },
  }),
  revokeApiKey: spec({
    method: "delete",
    path: "/v1/organizations/:orgId/api-keys/:keyId",
    listener: "public",
    summary: "Revoke an API key",
    auth: "session",
    responses: { 204: null },
  }),
  teams: spec({
    method: "get",
    path: "/v1/organizations/:orgId/teams",
    listener: "public",
    summary: "Teams of the organization",
    auth: "session",
    responses: { 200: z.object({ teams: z.array(S.TEAM_SUMMARY) }) },
  }),
  createTeam: spec({
    method: "post",
    path: "/v1/organizations/:orgId/teams",
    listener: "public",
    summary: "Create a team",
    auth: "session",
    body: REQUEST.team,
    responses: { 201: z.object({ team: S.TEAM }) },
  }),
  renameTeam: spec({
    method: "patch",
    path: "/v1/organizations/:orgId/teams/:teamId",
    listener: "public",
    summary: "Rename a team",
    auth: "session",
    body: REQUEST.team,
    responses: { 200: z.object({ team: S.TEAM }) },
  }),
  deleteTeam: spec({
    method: "delete",
    path: "/v1/organizations/:orgId/teams/:teamId",
    listener: "public",
    summary: "Delete a team (soft delete)",
    auth: "session",
    responses: { 204: null },
  }),
  teamMembers: spec({
    method: "get",
    path: "/v1/organizations/:orgId/teams/:teamId/members",
    listener: "public",
    summary: "Members of a team, leads first",
    auth: "session",
    responses: { 200: z.object({ members: z.array(S.TEAM_MEMBER_DETAIL) }) },
  }),
  putTeamMember: spec({
    method: "put",
    path: "/v1/organizations/:orgId/teams/:teamId/members/:identityId",
    listener: "public",
    summary: "Add a member to a team (201) or set their team role (200)",
    auth: "session",
    body: REQUEST.teamMember,
    responses: { 200: z.object({ member: S.TEAM_MEMBER }), 201: z.object({ member: S.TEAM_MEMBER }) },
  }),
  removeTeamMember: spec({
    method: "delete",
    path: "/v1/organizations/:orgId/teams/:teamId/members/:identityId",
    listener: "public",
    summary: "Remove a member from a team",
    auth: "session",
    responses: { 204: null },
  }),

  // --- Admin: Kratos webhooks -----------------------------------------------------
  registrationWebhook: spec({
    method: "post",
    path: "/v1/webhooks/kratos/registration",
    listener: "admin",
    summary: "Kratos after-registration webhook",
    auth: "kratos_webhook",
    body: REGISTRATION_WEBHOOK_BODY,
    responses: { 200: ok({ created: z.boolean() }) },
  }),
  loginWebhook: spec({
    method: "post",
    path: "/v1/webhooks/kratos/login",
    listener: "admin",
    summary: "Kratos after-login webhook",
    auth: "kratos_webhook",
    body: LOGIN_WEBHOOK_BODY,
    responses: { 200: ok({ recorded: z.boolean() }) },
  }),
  mfaWebhook: spec({
    method: "post",
    path: "/v1/webhooks/kratos/mfa-changed",
    listener: "admin",
    summary: "Kratos after-settings webhook for a second factor (user.mfa_enabled/disabled when it changed)",
    auth: "kratos_webhook",
    body: MFA_WEBHOOK_BODY,
    query: MFA_WEBHOOK_QUERY,
    responses: { 200: ok({ recorded: z.boolean() }) },
    errors: ["not_found"],
  }),
  profileWebhook: spec({
    method: "post",
    path: "/v1/webhooks/kratos/profile-updated",
    listener: "admin",
    summary: "Kratos after-settings webhook",
    auth: "kratos_webhook",
    body: PROFILE_WEBHOOK_BODY,
    responses: { 200: ok({}) },
  }),
  sessionsRevokedWebhook: spec({
    method: "post",
    path: "/v1/webhooks/kratos/sessions-revoked",
    listener: "admin",
    summary: "Kratos revoked an identity's sessions (password change, recovery)",
    auth: "kratos_webhook",
    body: SESSIONS_REVOKED_WEBHOOK_BODY,
    query: SESSIONS_REVOKED_WEBHOOK_QUERY,
    responses: { 200: ok({ revoked: z.number().int().nonnegative() }) },
  }),

  // --- Admin: operators -------------------------------------------------------------
  metrics: spec({
    method: "get",
    path: "/metrics",
    listener: "admin",
    summary: "Prometheus metrics",
    auth: "none",
    responses: { 200: "text" },
  }),
  rotateKeys: spec({
    method: "post",
    path: "/admin/keys/rotate",
    listener: "admin",
    summary: "Rotate the signing keys",
    auth: "operator",
    body: REQUEST.rotate,
    responses: { 200: S.ROTATION_RESULT },
  }),
  revokeSessions: spec({
    method: "post",
    path: "/admin/sessions/revoke",
    listener: "admin",
    summary: "Revoke a session, or every session of an identity",
    auth: "operator",
    body: REQUEST.revoke,
    responses: { 200: z.object({ revoked: z.array(z.string()) }) },
  }),
  lockout: spec({
    method: "post",
    path: "/admin/lockouts",
    listener: "admin",
    summary: "The gateway reports an identifier it locked (LOCKOUT_REPORT_TOKEN or the operator's)",
    auth: "lockout_reporter",
    body: REQUEST.lockout,
    responses: { 202: null },
  }),
  inboundEvents: spec({
    method: "post",
    path: "/admin/events",
    listener: "admin",
    summary: "A change another service owns (user.deactivated/reactivated, customer.upgraded/downgraded), once per id",
    auth: "operator",
    body: REQUEST.inboundEvent,
    responses: {
      200: z.object({
        id: uuid,
        type: z.string(),
        duplicate: z.boolean().describe("true: this id was applied before; `result` is that first result"),
        result: z.record(z.string(), z.unknown()),
      }),
    },
    errors: ["conflict", "not_found"],
  }),
  unlock: spec({
    method: "post",
    path: "/admin/users/:identityId/unlock",
    listener: "admin",
    summary: "Lift a user's lockouts",
    auth: "operator",
    responses: { 200: z.object({ cleared: z.number().int().nonnegative() }) },
    errors: ["not_found"],
  }),
  adminCreateApiKey: spec({
    method: "post",
    path: "/admin/api-keys",
    listener: "admin",
    summary: "Create an API key for any organization; the key is shown once",
    auth: "operator",
    body: REQUEST.adminApiKey,
    responses: { 201: z.object({ api_key: S.API_KEY, key: z.string() }) },
    errors: ["not_found", "conflict", "forbidden"],
  }),
  adminRevokeApiKey: spec({
    method: "delete",
    path: "/admin/organizations/:orgId/api-keys/:keyId",
    listener: "admin",
    summary: "Revoke an API key",
    auth: "operator",
    responses: { 204: null },
    errors: ["not_found"],
  }),
  adminCreateWebhook: spec({
    method: "post",
    path: "/admin/webhooks/subscriptions",
    listener: "admin",
    summary: "Subscribe a URL to events (all organizations' unless one is named)",
    auth: "operator",
    body: REQUEST.adminWebhook,
    responses: { 201: z.object({ subscription: S.WEBHOOK_SUBSCRIPTION, secret: z.string() }) },
    errors: ["not_found"],
  }),
  adminWebhooks: spec({
    method: "get",
    path: "/admin/webhooks/subscriptions",
    listener: "admin",
    summary: "Every webhook subscription",
    auth: "operator",
    responses: { 200: z.object({ subscriptions: z.array(S.WEBHOOK_SUBSCRIPTION) }) },
  }),
  adminDeleteWebhook: spec({
    method: "delete",
    path: "/admin/webhooks/subscriptions/:id",
    listener: "admin",
    summary: "Delete a webhook subscription",
    auth: "operator",
    responses: { 204: null },
    errors: ["not_found"],
  }),
  deadLetters: spec({
    method: "get",
    path: "/admin/webhooks/dead-letters",
    listener: "admin",
    summary: "Deliveries that gave up, newest first",
    auth: "operator",
    query: PAGE_QUERY,
    responses: { 200: z.object({ dead_letters: z.array(S.DEAD_LETTER) }) },
  }),
  replayDelivery: spec({
    method: "post",
    path: "/admin/webhooks/deliveries/:id/replay",
    listener: "admin",
    summary: "Deliver a dead letter again",
    auth: "operator",
    params: REQUEST.deliveryPath,
    responses: { 202: z.object({ replayed: z.string() }) },
    errors: ["not_found", "conflict"],
  }),
  introspect: spec({
    method: "post",
    path: "/admin/introspect",
    listener: "admin",
    summary: "Whether a Gatehouse JWT is valid and not revoked (RFC 7662-shaped); fails closed",
    auth: "operator",
    body: REQUEST.introspect,
    responses: { 200: S.INTROSPECTION },
  }),
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof ROUTES;

/** What res.json() makes of a value: Dates become ISO strings, readonly arrays plain ones. */
type Wire<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { -readonly [K in keyof T]: Wire<T[K]> }
      : T;
type JsonStatus<R extends RouteSpec> = {
  [S in keyof R["responses"]]: R["responses"][S] extends z.ZodType ? S : never;
}[keyof R["responses"]] &
  number;
type Body<R extends RouteSpec, S extends keyof R["responses"]> = R["responses"][S] extends z.ZodType
  ? z.output<R["responses"][S]>
  : never;

/**
 * Answers with a JSON body the route's contract declares for `status`: the build fails
 * when a handler's output (as JSON) is not what the response schema says.
 */
export function reply<R extends RouteSpec, S extends JsonStatus<R>, B>(
  res: Response,
  _route: R,
  status: S,
  body: B & (Wire<B> extends Body<R, S> ? unknown : never),
): void {
  res.status(status).json(body);
}

/** Registers `handlers` on `router` at the route's method and path: the only way a route is added. */
export function on(router: Pick<IRouter, RouteSpec["method"]>, route: RouteSpec, ...handlers: RequestHandler[]): void {
  router[route.method](route.path, ...handlers);
}
