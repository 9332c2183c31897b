// Invitations replace direct member adds, and memberships say how they came about,
// so a token's default organization is never one the user did not join themselves.
// API keys remember who created them, so a key never does more than its creator may.
import { type Kysely, sql } from "kysely";

const upStatements = [
  // --- How a membership came about ---------------------------------------------------
  // onboarding: the user created the organization; invitation: the user accepted one;
  // direct: someone else put them there (an operator, or the old POST …/members).
  // Only the first two may become a user's default organization on their own.
  `alter table memberships add column joined_via text not null default 'direct'
     constraint memberships_joined_via_check check (joined_via in ('onboarding', 'invitation', 'direct'))`,
  // Existing rows: the creator's owner membership is written in the organization's own
  // transaction (same now(), so the same created_at); a membership whose "added" audit
  // row names the member as the actor was also their own doing. Everything else was
  // added by someone else and stays 'direct'.
  `update memberships m set joined_via = 'onboarding'
     where exists (select 1 from organizations o where o.id = m.organization_id and o.created_at = m.created_at)
        or exists (select 1 from audit_log a
                    where a.action = 'membership.added' and a.target_type = 'membership'
                      and a.target_id = m.id::text and a.actor = m.identity_id::text)`,

  // --- The organization a user's token defaults to -------------------------------------
  // Set by the user's own actions only: creating an organization, accepting an invitation,
  // choosing one. Null: fall back to the oldest membership they joined themselves.
  `alter table users add column default_organization_id uuid references organizations (id)`,

  // --- Who created an API key ------------------------------------------------------------
  // Null for keys an operator created. A key's permissions are cut down, at every
  // exchange, to what its creator may still do in the organization.
  `alter table api_keys add column created_by uuid references users (identity_id)`,
  // Existing keys: the creator is the identity named as actor of the "created" audit row.
  `update api_keys k set created_by = a.actor::uuid
     from audit_log a
    where a.action = 'api_key.created' and a.target_type = 'api_key' and a.target_id = k.id::text
      and a.actor ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      and exists (select 1 from users u where u.identity_id = a.actor::uuid)`,
  `create index api_keys_created_by on api_keys (created_by) where created_by is not null`,

  // --- Invitations ---------------------------------------------------------------------
  // The token handed to the invitee is inv_<id as 32 hex><secret>; only SHA-256 of the
  // secret is stored. Single use: accepted_at; revocable: revoked_at; bounded: expires_at.
  `create table invitations (
     id uuid primary key default gen_random_uuid(),
     organization_id uuid not null references organizations (id),
     -- Lowercased and trimmed: the invitee must be signed in with this verified address.
     email text not null constraint invitations_email_format
       check (char_length(email) between 3 and 320 and email = lower(btrim(email)) and position('@' in email) > 1),
     role text not null constraint invitations_role_check check (role in ('owner', 'admin', 'member')),
     secret_hash text not null constraint invitations_secret_hash_format check (secret_hash ~ '^[0-9a-f]{64}$'),
     -- An identity id, or 'operator'.
     invited_by text not null constraint invitations_invited_by_length check (char_length(invited_by) between 1 and 200),
     expires_at timestamptz not null,
     accepted_at timestamptz,
     accepted_by uuid references users (identity_id),
     revoked_at timestamptz,
     revoked_by text constraint invitations_revoked_by_length check (char_length(revoked_by) between 1 and 200),
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     constraint invitations_expires_after_created check (expires_at > created_at),
     constraint invitations_accepted_or_revoked check (accepted_at is null or revoked_at is null),
     constraint invitations_accepted_by check ((accepted_at is null) = (accepted_by is null))
   )`,
  `create index invitations_organization on invitations (organization_id, created_at)`,
  `create trigger invitations_set_updated_at before update on invitations
     for each row execute function gatehouse_set_updated_at()`,
];

const downStatements = [
  "drop table if exists invitations",
  "drop index if exists api_keys_created_by",
  "alter table api_keys drop column if exists created_by",
  "alter table users drop column if exists default_organization_id",
  "alter table memberships drop column if exists joined_via",
];

async function run(db: Kysely<unknown>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await run(db, upStatements);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await run(db, downStatements);
}
