// The initial Gatehouse schema. Written as plain SQL: triggers, partial indexes and
// CHECKs read better that way than through a builder. Migrations take Kysely<unknown>
// on purpose: they must not depend on today's Database type, which will move on.
import { type Kysely, sql } from "kysely";

const upStatements = [
  // Shared: every table's updated_at follows its last UPDATE.
  `create function gatehouse_set_updated_at() returns trigger language plpgsql as $$
   begin
     new.updated_at := now();
     return new;
   end $$`,

  `create table organizations (
     id uuid primary key default gen_random_uuid(),
     name text not null
       constraint organizations_name_length check (char_length(btrim(name)) >= 1 and char_length(name) <= 200),
     plan text not null
       constraint organizations_plan_check check (plan in ('starter', 'pro', 'enterprise')),
     deleted_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   )`,

  `create table users (
     identity_id uuid primary key,
     email text not null constraint users_email_length check (char_length(email) between 3 and 320),
     name_first text constraint users_name_first_length check (char_length(name_first) <= 200),
     name_last text constraint users_name_last_length check (char_length(name_last) <= 200),
     signup_tier text constraint users_signup_tier_check check (signup_tier in ('starter', 'pro', 'enterprise')),
     deleted_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   )`,

  `create table memberships (
     id uuid primary key default gen_random_uuid(),
     organization_id uuid not null references organizations (id),
     identity_id uuid not null references users (identity_id),
     role text not null constraint memberships_role_check check (role in ('owner', 'admin', 'member')),
     deleted_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   )`,
  // Soft-deleted rows keep history; only one live membership per (org, user).
  `create unique index memberships_org_identity_live on memberships (organization_id, identity_id)
     where deleted_at is null`,
  // Token exchange: "which orgs is this identity in", oldest first.
  `create index memberships_identity_live on memberships (identity_id, created_at) where deleted_at is null`,

  // --- One owner minimum -------------------------------------------------------------
  // Raised as check_violation (23514) with constraint name memberships_last_owner so
  // the domain layer can recognise it without parsing the message.
  `create function gatehouse_assert_org_has_owner(org uuid) returns void language plpgsql as $$
   begin
     -- Locking the organization row serializes two transactions that each remove one of
     -- two owners: the second waits here and then (READ COMMITTED: fresh snapshot per
     -- statement) sees the first one's committed change. A deleted or vanished
     -- organization needs no owner.
     perform 1 from organizations where id = org and deleted_at is null for no key update;
     if not found then
       return;
     end if;
     if not exists (
       select 1 from memberships
        where organization_id = org and role = 'owner' and deleted_at is null
     ) then
       raise exception 'organization % must keep at least one owner', org
         using errcode = 'check_violation',
               constraint = 'memberships_last_owner',
               table = 'memberships',
               hint = 'add or promote another owner in the same transaction first';
     end if;
   end $$`,

  `create function gatehouse_memberships_last_owner() returns trigger language plpgsql as $$
   begin
     -- Only a row that was a live owner can take an organization's last owner away.
     if old.role <> 'owner' or old.deleted_at is not null then
       return null;
     end if;
     if tg_op = 'UPDATE' and new.role = 'owner' and new.deleted_at is null
        and new.organization_id = old.organization_id then
       return null;
     end if;
     perform gatehouse_assert_org_has_owner(old.organization_id);
     return null;
   end $$`,
  // Deferred to commit, so one transaction can demote one owner and promote another
  // in either order.
  `create constraint trigger memberships_last_owner
     after update or delete on memberships
     deferrable initially deferred
     for each row execute function gatehouse_memberships_last_owner()`,

  // The same invariant from the other side: a live organization cannot come into
  // being (or back from soft delete) without an owner, which forces "create the
  // organization and its first owner in one transaction".
  `create function gatehouse_organizations_need_owner() returns trigger language plpgsql as $$
   begin
     if new.deleted_at is null then
       perform gatehouse_assert_org_has_owner(new.id);
     end if;
     return null;
   end $$`,
  `create constraint trigger organizations_need_owner
     after insert or update of deleted_at on organizations
     deferrable initially deferred
     for each row execute function gatehouse_organizations_need_owner()`,

  // --- Teams -------------------------------------------------------------------------
  `create table teams (
     id uuid primary key default gen_random_uuid(),
     organization_id uuid not null references organizations (id),
     name text not null
       constraint teams_name_length check (char_length(btrim(name)) >= 1 and char_length(name) <= 200),
     deleted_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   )`,
  // Case-insensitive: "Design" and "design" in one organization would only confuse.
  `create unique index teams_org_name_live on teams (organization_id, lower(name)) where deleted_at is null`,

  `create table team_memberships (
     team_id uuid not null references teams (id),
     identity_id uuid not null references users (identity_id),
     role text not null constraint team_memberships_role_check check (role in ('lead', 'member')),
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (team_id, identity_id)
   )`,
  `create index team_memberships_identity on team_memberships (identity_id)`,

  `create function gatehouse_team_memberships_org_member() returns trigger language plpgsql as $$
   begin
     -- FOR SHARE on the membership row: a concurrent removal of the org membership
     -- (an UPDATE of that row) either waits for us and then deletes this team row, or
     -- we wait for it and find the membership gone.
     perform 1
        from teams t
        join memberships m on m.organization_id = t.organization_id
       where t.id = new.team_id and t.deleted_at is null
         and m.identity_id = new.identity_id and m.deleted_at is null
         for share of m;
     if not found then
       raise exception 'identity % is not a member of the organization of team %', new.identity_id, new.team_id
         using errcode = 'check_violation',
               constraint = 'team_memberships_org_member',
               table = 'team_memberships';
     end if;
     return new;
   end $$`,
  `create trigger team_memberships_org_member
     before insert or update of team_id, identity_id on team_memberships
     for each row execute function gatehouse_team_memberships_org_member()`,

  // --- API keys ----------------------------------------------------------------------
  `create table api_keys (
     id uuid primary key default gen_random_uuid(),
     organization_id uuid not null references organizations (id),
     identity_id uuid references users (identity_id),
     name text not null
       constraint api_keys_name_length check (char_length(btrim(name)) >= 1 and char_length(name) <= 200),
     prefix text not null constraint api_keys_prefix_length check (char_length(prefix) between 1 and 32),
     -- Hex SHA-256 only: the format check also stops a raw key landing here by mistake.
     hash text not null constraint api_keys_hash_key unique
       constraint api_keys_hash_format check (hash ~ '^[0-9a-f]{64}$'),
     scopes text[] not null default '{}',
     expires_at timestamptz,
     last_used_at timestamptz,
     revoked_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   )`,
  `create index api_keys_organization on api_keys (organization_id, created_at)`,
  `create index api_keys_identity on api_keys (identity_id) where identity_id is not null`,

  // --- Signing keys ------------------------------------------------------------------
  `create table signing_keys (
     kid text primary key constraint signing_keys_kid_length check (char_length(kid) between 1 and 200),
     alg text not null constraint signing_keys_alg_check check (alg in ('RS256', 'ES256', 'EdDSA')),
     -- Published as-is in the JWKS: refuse anything that carries private members.
     public_jwk jsonb not null constraint signing_keys_public_jwk_public check (
       jsonb_typeof(public_jwk) = 'object'
       and not (public_jwk ?| array['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'])
     ),
     private_key_enc text not null constraint signing_keys_private_key_enc_nonempty check (private_key_enc <> ''),
     state text not null
       constraint signing_keys_state_check check (state in ('next', 'active', 'retiring', 'retired')),
     not_before timestamptz not null default now(),
     activated_at timestamptz,
     retiring_at timestamptz,
     retired_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   )`,
  // At most one key signs at any time, whatever the application does.
  `create unique index signing_keys_one_active on signing_keys ((true)) where state = 'active'`,

  // --- Audit log ---------------------------------------------------------------------
  // Append-only: "at" is its created_at, and UPDATE is refused (DELETE stays possible
  // for retention). organization_id has no foreign key so audit rows never block, nor
  // vanish with, what they describe.
  `create table audit_log (
     id bigserial primary key,
     at timestamptz not null default now(),
     actor text not null constraint audit_log_actor_length check (char_length(actor) between 1 and 200),
     action text not null constraint audit_log_action_length check (char_length(action) between 1 and 100),
     target_type text,
     target_id text,
     organization_id uuid,
     before jsonb,
     after jsonb,
     request_id text constraint audit_log_request_id_length check (char_length(request_id) <= 200)
   )`,
  `create index audit_log_organization on audit_log (organization_id, id) where organization_id is not null`,
  `create index audit_log_target on audit_log (target_type, target_id)`,
  `create function gatehouse_audit_log_append_only() returns trigger language plpgsql as $$
   begin
     raise exception 'audit_log is append-only' using errcode = 'insufficient_privilege';
   end $$`,
  `create trigger audit_log_append_only before update on audit_log
     for each row execute function gatehouse_audit_log_append_only()`,

  // updated_at triggers for every table that has one.
  ...["organizations", "users", "memberships", "teams", "team_memberships", "api_keys", "signing_keys"].map(
    (table) =>
      `create trigger ${table}_set_updated_at before update on ${table}
         for each row execute function gatehouse_set_updated_at()`,
  ),
];

const downStatements = [
  "drop table if exists audit_log",
  "drop table if exists signing_keys",
  "drop table if exists api_keys",
  "drop table if exists team_memberships",
  "drop table if exists teams",
  "drop table if exists memberships",
  "drop table if exists users",
  "drop table if exists organizations",
  "drop function if exists gatehouse_audit_log_append_only()",
  "drop function if exists gatehouse_team_memberships_org_member()",
  "drop function if exists gatehouse_organizations_need_owner()",
  "drop function if exists gatehouse_memberships_last_owner()",
  "drop function if exists gatehouse_assert_org_has_owner(uuid)",
  "drop function if exists gatehouse_set_updated_at()",
];

// One statement per execute, so a failure points at the statement that failed.
async function run(db: Kysely<unknown>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await run(db, upStatements);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await run(db, downStatements);
}
