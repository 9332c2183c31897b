// The transactional outbox: a domain change writes what it must announce in its own
// transaction, so a committed change is never lost to a Redis outage and never
// answered as failed because announcing it failed. A relay (../../outbox/relay.ts)
// delivers pending rows and marks them; several instances share the work with
// FOR UPDATE SKIP LOCKED.
import { type Kysely, sql } from "kysely";

const upStatements = [
  `create table outbox (
     id bigserial primary key,
     created_at timestamptz not null default now(),
     topic text not null check (topic in ('invalidation')),
     payload jsonb not null,
     published_at timestamptz
   )`,
  // The relay's only query: the oldest pending rows.
  `create index outbox_pending on outbox (id) where published_at is null`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of upStatements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("drop table if exists outbox").execute(db);
}
