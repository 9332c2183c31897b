// The Redis Stream of events (outbox/relay.ts): an event row is streamed apart from its
// webhook fan-out (published_at), so a Redis outage delays the stream and never the
// webhooks, and a row stays unstreamed (never lost) until its XADD succeeded.
import { type Kysely, sql } from "kysely";

const upStatements = [
  `alter table outbox add column streamed_at timestamptz`,
  // Rows written before the stream existed are not streamed after an upgrade.
  `update outbox set streamed_at = now() where topic = 'event'`,
  `create index outbox_unstreamed on outbox (id) where topic = 'event' and streamed_at is null`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of upStatements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("drop index if exists outbox_unstreamed").execute(db);
  await sql.raw("alter table outbox drop column if exists streamed_at").execute(db);
}
