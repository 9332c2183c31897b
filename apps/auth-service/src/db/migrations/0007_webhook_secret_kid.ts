// Webhook secrets encrypted at rest (events/secret-box.ts): the id of the key each one is
// sealed under. Null: a secret written before, stored as it is (still read).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw("alter table webhook_subscriptions add column secret_kid text").execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("alter table webhook_subscriptions drop column if exists secret_kid").execute(db);
}
