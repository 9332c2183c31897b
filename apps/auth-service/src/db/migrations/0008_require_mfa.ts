// Issue 17: an organization can require a second factor of its members. Enterprise
// only (the pricing page sells it there): the database refuses the flag on any other
// plan, so neither a plan change nor a direct write can leave it on a cheaper plan.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table organizations add column require_mfa boolean not null default false`.execute(db);
  await sql`alter table organizations add constraint organizations_require_mfa_plan
    check (not require_mfa or plan = 'enterprise')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table organizations drop constraint if exists organizations_require_mfa_plan`.execute(db);
  await sql`alter table organizations drop column if exists require_mfa`.execute(db);
}
