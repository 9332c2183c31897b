// The OpenAPI 3.1 document of the auth-service, generated (zod-openapi) from the route
// table (routes.ts) the routers register from. Served at GET /openapi.json, committed
// as apps/auth-service/openapi.json (scripts/contract.ts keeps it from drifting).
import { ERRORS, type ErrorCode } from "@gatehouse/contracts";
import { z } from "zod";
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
} from "zod-openapi";
import { type Auth, ERRORS_BY_AUTH, ROUTES, type RouteSpec } from "./routes.ts";
import { ERROR_BODIES } from "./schemas.ts";
import { uuid } from "./validate.ts";

/**
 * The contract's version (info.version). Adding a route, an optional field or an error
 * code keeps the major; removing or renaming anything, or changing a meaning, bumps it.
 */
export const CONTRACT_VERSION = "1.0.0";

/** The default local stack's listeners (compose, ./gatehouse up). */
const PUBLIC_SERVER = { url: "http://localhost:7410", description: "public listener" };
const ADMIN_SERVER = { url: "http://localhost:7411", description: "admin listener (never exposed publicly)" };

const SECURITY: Record<Auth, Record<string, string[]>[] | undefined> = {
  none: undefined,
  session: [{ kratosSessionCookie: [] }, { kratosSessionToken: [] }],
  credential: [{ kratosSessionCookie: [] }, { kratosSessionToken: [] }, { apiKeyHeader: [] }, { apiKeyBearer: [] }],
  operator: [{ adminToken: [] }],
  lockout_reporter: [{ lockoutReportToken: [] }, { adminToken: [] }],
  kratos_webhook: [{ webhookSecret: [] }],
};

/** `/v1/organizations/:orgId` → `/v1/organizations/{orgId}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z]+)/g, "{$1}");
}

/** Every error code a route may answer: its auth's, its own, and 404/`not_found` for a path it does not know. */
export function errorCodesOf(route: RouteSpec): ErrorCode[] {
  return [...new Set([...ERRORS_BY_AUTH[route.auth], ...(route.errors ?? [])])];
}

function responsesOf(route: RouteSpec): ZodOpenApiOperationObject["responses"] {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(route)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, ZodOpenApiResponseObject> = {};
  for (const [status, schema] of Object.entries(route.responses)) {
    if (schema === null) out[status] = { description: "No body" };
    else if (schema === "text") out[status] = { description: "OK", content: { "text/plain": { schema: z.string() } } };
    else out[status] = { description: "OK", content: { "application/json": { schema } } };
  }
  for (const [status, codes] of byStatus) {
    const err = ERROR_BODIES.get(status) as z.ZodObject;
    const own = route.responses[status];
    const schema = own && own !== "text" ? z.union([own, err]) : err;
    out[String(status)] = {
      description: `{error, message, request_id}: ${codes.join(", ")}`,
      "x-error-codes": codes,
      content: { "application/json": { schema } },
    };
  }
  return out;
}

function pathParams(route: RouteSpec): z.ZodObject | undefined {
  if (route.params) return route.params;
  const names = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1] as string);
  return names.length ? z.object(Object.fromEntries(names.map((n) => [n, uuid]))) : undefined;
}

function operationOf(name: string, route: RouteSpec): ZodOpenApiOperationObject {
  const path = pathParams(route);
  const security = SECURITY[route.auth];
  return {
    operationId: name,
    summary: route.summary,
    tags: [route.listener === "admin" ? "admin" : route.listener === "both" ? "health" : "public"],
    ...(path || route.query
      ? { requestParams: { ...(path ? { path } : {}), ...(route.query ? { query: route.query } : {}) } }
      : {}),
    ...(route.body ? { requestBody: { content: { "application/json": { schema: route.body } } } } : {}),
    ...(security ? { security } : {}),
    responses: responsesOf(route),
  };
}

function build(): Record<string, unknown> {
  const paths: ZodOpenApiPathsObject = {};
  for (const [name, route] of Object.entries(ROUTES) as [string, RouteSpec][]) {
    const key = openApiPath(route.path);
    paths[key] ??= {};
    const item = paths[key];
    item[route.method] = operationOf(name, route);
    // Admin-only paths live on the admin listener.
    if (route.listener === "admin") item.servers = [ADMIN_SERVER];
  }
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: "Gatehouse auth-service",
      version: CONTRACT_VERSION,
      description:
        "Session → JWT exchange, JWKS, organizations/teams/roles, API keys, webhooks (public listener); " +
        "key rotation, revocation, Kratos webhooks, operator API (admin listener). Every error is " +
        "{error, message, request_id} with a code from the catalogue (@gatehouse/contracts).",
    },
    servers: [PUBLIC_SERVER],
    paths,
    components: {
      securitySchemes: {
        kratosSessionCookie: { type: "apiKey", in: "cookie", name: "ory_kratos_session" },
        kratosSessionToken: { type: "apiKey", in: "header", name: "X-Session-Token" },
        apiKeyHeader: { type: "apiKey", in: "header", name: "X-API-Key" },
        apiKeyBearer: { type: "http", scheme: "bearer", description: "an API key (sk_…)" },
        adminToken: { type: "http", scheme: "bearer", description: "ADMIN_API_TOKEN" },
        lockoutReportToken: { type: "http", scheme: "bearer", description: "LOCKOUT_REPORT_TOKEN (the gateway's)" },
        webhookSecret: { type: "apiKey", in: "header", name: "X-Gatehouse-Webhook-Secret" },
      },
    },
  }) as unknown as Record<string, unknown>;
}

let document: Record<string, unknown> | undefined;

/** The document (built once per process). */
export function openApiDocument(): Record<string, unknown> {
  document ??= build();
  return document;
}
