// Events in (issue 15): changes other services own, posted to POST /admin/events.
// users.deactivated_at refuses new token exchanges until the user is reactivated;
// inbound_events remembers each event id and what it did, so a sender's retry of the
// same id gets the first answer and changes nothing a second time.
import { type Kysely, sql } from "kysely";

const upStatements = [
  `alter table users add column deactivated_at timestamptz`,
  `create table inbound_events (
     id uuid primary key,
     type text not null,
     -- SHA-256 of the event's type and data: the same id with another body is a conflict.
     body_sha256 text not null,
     result jsonb not null,
     received_at timestamptz not null default now()
   )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of upStatements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("drop table if exists inbound_events").execute(db);
  await sql.raw("alter table users drop column if exists deactivated_at").execute(db);
}
