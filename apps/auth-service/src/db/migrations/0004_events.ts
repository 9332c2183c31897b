// Events out (issue 15): the outbox also carries domain events (topic 'event', the
// envelope of @gatehouse/contracts' GatehouseEvent), written in the change's own
// transaction. The relay fans each event out to the matching webhook subscriptions
// (one delivery row each, in the relay's transaction), and the delivery worker
// (../../events/delivery.ts) sends them, retrying with backoff until delivered or dead.
import { type Kysely, sql } from "kysely";

const upStatements = [
  `alter table outbox drop constraint outbox_topic_check`,
  `alter table outbox add constraint outbox_topic_check check (topic in ('invalidation', 'event'))`,
  // organization_id null: an operator's subscription, to every organization's events.
  `create table webhook_subscriptions (
     id uuid primary key default gen_random_uuid(),
     organization_id uuid references organizations (id) on delete cascade,
     url text not null check (url ~ '^https?://' and length(url) <= 2000),
     event_types text[] not null check (cardinality(event_types) between 1 and 100),
     secret text not null,
     created_by text not null,
     created_at timestamptz not null default now(),
     deleted_at timestamptz
   )`,
  `create index webhook_subscriptions_live on webhook_subscriptions (organization_id) where deleted_at is null`,
  `create table webhook_deliveries (
     id bigserial primary key,
     subscription_id uuid not null references webhook_subscriptions (id) on delete cascade,
     outbox_id bigint not null references outbox (id),
     state text not null default 'pending' check (state in ('pending', 'delivered', 'dead')),
     attempts int not null default 0,
     created_at timestamptz not null default now(),
     next_attempt_at timestamptz not null default now(),
     lease_until timestamptz,
     last_error text,
     delivered_at timestamptz,
     unique (subscription_id, outbox_id)
   )`,
  // The worker's only query: due pending rows, oldest first.
  `create index webhook_deliveries_due on webhook_deliveries (next_attempt_at, id) where state = 'pending'`,
  `create index webhook_deliveries_dead on webhook_deliveries (id) where state = 'dead'`,
  // A person's own security history (GET /v1/me/security-events) and the audit log's actor filter.
  `create index audit_log_actor on audit_log (actor, id)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of upStatements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("drop index if exists audit_log_actor").execute(db);
  await sql.raw("drop table if exists webhook_deliveries").execute(db);
  await sql.raw("drop table if exists webhook_subscriptions").execute(db);
  await sql.raw("delete from outbox where topic = 'event'").execute(db);
  await sql.raw("alter table outbox drop constraint outbox_topic_check").execute(db);
  await sql.raw("alter table outbox add constraint outbox_topic_check check (topic in ('invalidation'))").execute(db);
}
