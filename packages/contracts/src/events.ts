// The event catalogue: what Gatehouse tells other services, one envelope for every
// type. The auth-service writes an event into its outbox in the same transaction as
// the change's audit row, and delivers it as a Standard Webhooks message whose
// `webhook-id` is the event's `id` (stable across retries: receivers deduplicate on
// it). JSON Schemas for each type are generated from this file into ../events/
// (scripts/event-schemas.ts; a unit test keeps them in step).

/** Where an event's `subject` lives and whether it belongs to one organization. */
export interface EventSpec {
  readonly version: 1;
  /** The kind of thing the event is about: `subject.type`. */
  readonly subject: string;
  /** True when `organization_id` is always set. */
  readonly organization: boolean;
  readonly description: string;
}

const spec = (subject: string, organization: boolean, description: string): EventSpec => ({
  version: 1,
  subject,
  organization,
  description,
});

export const EVENTS = {
  "organization.created": spec("organization", true, "An organization was created (its creator is its owner)."),
  "organization.deleted": spec("organization", true, "An organization was deleted."),
  "organization.renamed": spec("organization", true, "An organization was renamed (data.before/after.name)."),
  "organization.plan_changed": spec("organization", true, "An organization's plan changed (data.before/after.plan)."),
  "organization.mfa_requirement_changed": spec(
    "organization",
    true,
    "An owner turned the organization's second-factor requirement on or off (data.before/after.require_mfa).",
  ),
  "membership.added": spec("membership", true, "Someone joined an organization with a role."),
  "membership.removed": spec("membership", true, "Someone left or was removed from an organization."),
  "membership.role_changed": spec("membership", true, "A member's role changed (data.before/after.role)."),
  "invitation.created": spec("invitation", true, "An invitation was sent."),
  "invitation.accepted": spec("invitation", true, "An invitation was accepted."),
  "invitation.revoked": spec("invitation", true, "An invitation was revoked."),
  "team.created": spec("team", true, "A team was created."),
  "team.renamed": spec("team", true, "A team was renamed."),
  "team.deleted": spec("team", true, "A team was deleted."),
  "team.member_added": spec("team", true, "Someone was added to a team."),
  "team.member_removed": spec("team", true, "Someone was removed from a team."),
  "team.member_role_changed": spec("team", true, "A team member's role changed."),
  "api_key.created": spec("api_key", true, "An API key was created (never its secret)."),
  "api_key.revoked": spec("api_key", true, "An API key was revoked."),
  "signing_key.created": spec("signing_key", false, "A token signing key was created."),
  "signing_key.state_changed": spec("signing_key", false, "A signing key became active, retiring or retired."),
  "signing_key.reencrypted": spec("signing_key", false, "A signing key was re-encrypted under a new KEK."),
  "user.created": spec("user", false, "A person registered (Kratos registration hook)."),
  "user.deleted": spec("user", false, "A person was deleted."),
  "user.password_changed": spec("user", false, "A person changed their password (Kratos settings hook)."),
  "user.recovered": spec("user", false, "A person recovered their account (Kratos recovery hook)."),
  "user.authenticated": spec(
    "user",
    false,
    "A person signed in (Kratos after-login hook; data.after: flowId, aal, methods).",
  ),
  "user.account_locked": spec(
    "user",
    false,
    "Repeated failed sign-ins locked a person's account at the gateway (data.after: scope, locked_until).",
  ),
  "user.account_unlocked": spec("user", false, "An operator lifted a person's sign-in lockout."),
  "user.mfa_enabled": spec(
    "user",
    false,
    "A person set up a second factor in Kratos' settings (data.after.method: totp, lookup_secret, webauthn or passkey).",
  ),
  "user.mfa_disabled": spec(
    "user",
    false,
    "A person removed their last credential of a second factor (data.after.method).",
  ),
  "user.deactivated": spec(
    "user",
    false,
    "Another service deactivated a person (inbound event): their sessions are revoked and no token is issued to them until they are reactivated.",
  ),
  "user.reactivated": spec("user", false, "Another service reactivated a deactivated person (inbound event)."),
  "user.default_organization_changed": spec("user", false, "A person's default organization changed."),
  "session.revoked": spec("session", false, "One session was revoked."),
  "identity.sessions_revoked": spec("identity", false, "Every session of a person was revoked."),
  "identity.other_sessions_revoked": spec(
    "identity",
    false,
    "Every session of a person but the current one was revoked.",
  ),
  "webhook_subscription.created": spec("webhook_subscription", false, "A webhook subscription was created."),
  "webhook_subscription.deleted": spec("webhook_subscription", false, "A webhook subscription was deleted."),
  "webhook_delivery.replayed": spec("webhook_delivery", false, "An operator replayed a dead-lettered delivery."),
} as const satisfies Record<string, EventSpec>;

export type EventType = keyof typeof EVENTS;
export const EVENT_TYPES = Object.keys(EVENTS) as EventType[];

export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && Object.hasOwn(EVENTS, value);
}

/** The envelope every event shares (JSON on the wire, snake_case like the API). */
export interface GatehouseEvent {
  /** UUID, stable for the event's lifetime: the Standard Webhooks `webhook-id`. */
  id: string;
  type: EventType;
  version: 1;
  /** RFC 3339, when the change committed (its transaction's time). */
  occurred_at: string;
  /** Increases with commit order; per subject, a higher sequence is the newer state. */
  sequence: string;
  subject: { type: string; id: string };
  organization_id: string | null;
  /** An identity id, "operator", "system", "kratos-webhook", "gateway", "api_key:<id>" or "inbound:<event id>". */
  actor: string;
  /** The X-Request-Id of the request that made the change, for tracing; null if none. */
  request_id: string | null;
  /** The state before and after, never secrets (the audit log's redacted copy). */
  data: { before: Record<string, unknown> | null; after: Record<string, unknown> | null };
}

/** The documented example (README and the schema tests validate it). */
export const EXAMPLE_EVENT: GatehouseEvent = {
  id: "0b9d4a8e-2a5c-4f7e-9d3b-6c1f2e8a7b90",
  type: "membership.role_changed",
  version: 1,
  occurred_at: "2026-12-03T14:30:00.000Z",
  sequence: "4711",
  subject: { type: "membership", id: "5f0c3a8e-7d2b-4e61-8a9f-1b2c3d4e5f60" },
  organization_id: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
  actor: "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a99",
  request_id: "req-7f3e2d1c",
  data: { before: { role: "member" }, after: { role: "admin" } },
};

const UUID = { type: "string", format: "uuid" } as const;
const STATE = { type: ["object", "null"] } as const;

/** The JSON Schema (draft 2020-12) of one event type. */
export function eventSchema(type: EventType): Record<string, unknown> {
  const s: EventSpec = EVENTS[type];
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: `https://gatehouse.dev/events/${type}.v${s.version}.json`,
    title: type,
    description: s.description,
    type: "object",
    additionalProperties: false,
    required: [
      "id",
      "type",
      "version",
      "occurred_at",
      "sequence",
      "subject",
      "organization_id",
      "actor",
      "request_id",
      "data",
    ],
    properties: {
      id: UUID,
      type: { const: type },
      version: { const: s.version },
      occurred_at: { type: "string", format: "date-time" },
      sequence: { type: "string", pattern: "^[1-9][0-9]*$" },
      subject: {
        type: "object",
        additionalProperties: false,
        required: ["type", "id"],
        properties: { type: { const: s.subject }, id: { type: "string", minLength: 1 } },
      },
      organization_id: s.organization ? UUID : { anyOf: [UUID, { type: "null" }] },
      actor: { type: "string", minLength: 1, maxLength: 200 },
      request_id: { type: ["string", "null"], maxLength: 200 },
      data: {
        type: "object",
        additionalProperties: false,
        required: ["before", "after"],
        properties: { before: STATE, after: STATE },
      },
    },
  };
}

/** The file a type's schema lives in, under packages/contracts/events/. */
export const eventSchemaFile = (type: EventType) => `${type}.v${EVENTS[type].version}.json`;
