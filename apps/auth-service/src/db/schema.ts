// Kysely's view of the Gatehouse database (snake_case, exactly as migrated).
// Repositories in src/domain map rows to camelCase domain objects; raw queries
// elsewhere can still rely on these types.

import type { GatehouseEvent } from "@gatehouse/contracts";
import {
  ORG_ROLES,
  type OrgRole,
  PLANS,
  type Plan,
  SIGNING_ALGS,
  type SigningAlg,
  TEAM_ROLES,
  type TeamRole,
} from "@gatehouse/tokens";
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

export type { OrgRole, Plan, TeamRole };
// Plans, roles and algorithms are the token claims' vocabulary: one definition,
// in the versioned claims schema, so the database can never hold a value a token
// could not carry.
export { ORG_ROLES, PLANS, SIGNING_ALGS, TEAM_ROLES };
export type SigningKeyAlg = SigningAlg;

export const JOINED_VIA = ["onboarding", "invitation", "direct"] as const;
export type JoinedVia = (typeof JOINED_VIA)[number];

export const SIGNING_KEY_STATES = ["next", "active", "retiring", "retired"] as const;
export type SigningKeyState = (typeof SIGNING_KEY_STATES)[number];

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Set by a DEFAULT now() and by the updated_at trigger; readable as Date (node-pg parses timestamptz). */
type AutoTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

// jsonb is written as a JSON string on purpose: node-pg would turn a JS array into a
// Postgres array literal, not JSON. Reads come back parsed.
type Jsonb<T extends JsonValue> = ColumnType<T, string, string>;
type NullableJsonb<T extends JsonValue> = ColumnType<T | null, string | null | undefined, string | null>;

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  plan: Plan;
  /** Members must sign in with a second factor (enterprise plans only: a check constraint). */
  require_mfa: Generated<boolean>;
  deleted_at: NullableTimestamp;
  created_at: AutoTimestamp;
  updated_at: AutoTimestamp;
}

export interface UsersTable {
  /** The Kratos identity id. */
  identity_id: string;
  email: string;
  name_first: string | null;
  name_last: string | null;
  signup_tier: Plan | null;
  /** The organization the user's tokens default to; set only by the user's own actions. */
  default_organization_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Set by an inbound user.deactivated (POST /admin/events): no new token exchange until cleared. */
  deactivated_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
  created_at: AutoTimestamp;
  updated_at: AutoTimestamp;
}

export interface MembershipsTable {
  id: Generated<string>;
  organization_id: string;
  identity_id: string;
  role: OrgRole;
  /** How the membership came about; only the user's own ways make it a default organization. */
  joined_via: ColumnType<JoinedVia, JoinedVia | undefined, JoinedVia>;
  deleted_at: NullableTimestamp;
  created_at: AutoTimestamp;
  updated_at: AutoTimestamp;
}

export interface TeamsTable {
  id: Generated<string>;
  organization_id: string;
  name: string;
  deleted_at: NullableTimestamp;
  created_at: AutoTimestamp;
  updated_at: AutoTimestamp;
}

export interface TeamMembershipsTable {
  team_id: string;
  identity_id: string;
  role: TeamRole;
  created_at: AutoTimestamp;
  updated_at: AutoTimestamp;
}

export interface ApiKeysTable {
  id: Generated<string>;
  organization_id: string;
  identity_id: string | null;
  name: string;
  /** Display prefix (first 12 characters of the raw key); not enough to use the key. */
  prefix: string;
  /** Hex SHA-256 of the full raw key. Never leave the data layer with this. */
  hash: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  /** The member who created the key (null: an operator). Its permissions cap the key's. */
  created_by: ColumnType<string | null, string | null | undefined, string | null>;
  expires_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: AutoTimestamp;
  updated_at: AutoTimestamp;
}

export interface InvitationsTable {
  id: Generated<string>;
  organization_id: string;
  /** Lowercased, trimmed. */
  email: string;
  role: OrgRole;
  /** Hex SHA-256 of the token's secret part. Never leaves the data layer. */
  secret_hash: string;
  invited_by: string;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  accepted_at: NullableTimestamp;
  accepted_by: string | null;
  revoked_at: NullableTimestamp;
  revoked_by: string | null;
  created_at: AutoTimestamp;
  updated_at: AutoTimestamp;
}

export interface SigningKeysTable {
  kid: string;
  alg: SigningKeyAlg;
  public_jwk: Jsonb<JsonObject>;
  /** Ciphertext produced by the caller (see @gatehouse/tokens encryptPrivateKey). */
  private_key_enc: string;
  state: SigningKeyState;
  not_before: AutoTimestamp;
  activated_at: NullableTimestamp;
  retiring_at: NullableTimestamp;
  retired_at: NullableTimestamp;
  created_at: AutoTimestamp;
  updated_at: AutoTimestamp;
}

export interface AuditLogTable {
  /** bigserial: node-pg returns int8 as a string to avoid precision loss. */
  id: ColumnType<string, never, never>;
  at: AutoTimestamp;
  actor: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  organization_id: string | null;
  before: NullableJsonb<JsonObject>;
  after: NullableJsonb<JsonObject>;
  request_id: string | null;
}

/**
 * What one committed change makes stale (decided by domain/affected.ts); the relay
 * announces it in @gatehouse/contracts' Invalidation messages.
 */
export interface OutboxPayload {
  /** The audit action that caused it. */
  action: string;
  /** Identity ids (and `api_key:<id>`) whose token claims changed. */
  identities: string[];
  /** Session ids or `api_key:<id>` whose tokens must be refused from now on. */
  revoked: string[];
}

/** An event as stored: the envelope but its `sequence` (the outbox row id, added on delivery). */
export type StoredEvent = Omit<GatehouseEvent, "sequence">;

export interface OutboxTable {
  /** bigserial, as a string (see AuditLogTable.id). */
  id: ColumnType<string, never, never>;
  created_at: AutoTimestamp;
  topic: "invalidation" | "event";
  payload: ColumnType<OutboxPayload | StoredEvent, string, string>;
  published_at: ColumnType<Date | null, never, Date | null>;
  /** Events: when the relay appended it to the Redis Stream (null: not yet). */
  streamed_at: ColumnType<Date | null, never, Date | null>;
}

export interface WebhookSubscriptionsTable {
  id: Generated<string>;
  /** null: an operator's subscription, to every organization's events. */
  organization_id: string | null;
  url: string;
  event_types: ColumnType<string[], string[], string[]>;
  /** The Standard Webhooks secret (whsec_...), sealed (events/secret-box.ts): shown once at creation, never logged. */
  secret: string;
  /** The id of the key `secret` is sealed under; null: stored before secrets were encrypted. */
  secret_kid: string | null;
  created_by: string;
  created_at: AutoTimestamp;
  deleted_at: ColumnType<Date | null, never, Date | null>;
}

/** Events other services sent (POST /admin/events), by their id: what each one did. */
export interface InboundEventsTable {
  id: string;
  type: string;
  body_sha256: string;
  result: ColumnType<JsonObject, string, never>;
  received_at: AutoTimestamp;
}

export interface WebhookDeliveriesTable {
  id: ColumnType<string, never, never>;
  subscription_id: string;
  outbox_id: string;
  state: ColumnType<"pending" | "delivered" | "dead", "pending" | undefined, "pending" | "delivered" | "dead">;
  attempts: ColumnType<number, never, number>;
  created_at: AutoTimestamp;
  next_attempt_at: ColumnType<Date, never, Date>;
  lease_until: ColumnType<Date | null, never, Date | null>;
  last_error: ColumnType<string | null, never, string | null>;
  delivered_at: ColumnType<Date | null, never, Date | null>;
}

export interface Database {
  organizations: OrganizationsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  teams: TeamsTable;
  team_memberships: TeamMembershipsTable;
  api_keys: ApiKeysTable;
  invitations: InvitationsTable;
  signing_keys: SigningKeysTable;
  audit_log: AuditLogTable;
  outbox: OutboxTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  inbound_events: InboundEventsTable;
}

export type OrganizationRow = Selectable<OrganizationsTable>;
export type NewOrganizationRow = Insertable<OrganizationsTable>;
export type OrganizationUpdate = Updateable<OrganizationsTable>;
export type UserRow = Selectable<UsersTable>;
export type MembershipRow = Selectable<MembershipsTable>;
export type TeamRow = Selectable<TeamsTable>;
export type TeamMembershipRow = Selectable<TeamMembershipsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type InvitationRow = Selectable<InvitationsTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type AuditLogRow = Selectable<AuditLogTable>;
