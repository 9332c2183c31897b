// Shared by the data-layer tests: a migrated database from the test stack and
// factories with random ids (test files run concurrently against one database, so
// nothing may assume an empty table).
import { randomBytes, randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, inject } from "vitest";
import { DEFAULT_PERMISSIONS } from "../../src/config.ts";
import { createDb, type Database, migrateToLatest } from "../../src/db/index.ts";
import type { OrgRole } from "../../src/db/schema.ts";
import type { AuditContext } from "../../src/domain/audit.ts";
import { type Authority, asMember, OPERATOR } from "../../src/domain/authz.ts";
import { DomainError, type DomainErrorCode } from "../../src/domain/errors.ts";
import { acceptInvitation, createInvitation } from "../../src/domain/invitations.ts";
import { onboard } from "../../src/domain/organizations.ts";
import { getUser, upsertUserFromKratos } from "../../src/domain/users.ts";

// Declared by test/global-setup.ts, which this package's tsconfig does not include.
declare module "vitest" {
  export interface ProvidedContext {
    stack: Record<string, string>;
  }
}

export function databaseUrl(): string {
  const url = inject("stack").DATABASE_URL;
  if (!url) throw new Error("the test stack did not provide DATABASE_URL");
  return url;
}

const POOL_SIZE = 8;

// Opens every pool connection up front. Otherwise "concurrent" calls are not: the
// first runs on the one open connection and finishes while the others still connect.
async function warmPool(db: Kysely<Database>): Promise<void> {
  await Promise.all(Array.from({ length: POOL_SIZE }, () => sql`select pg_sleep(0.05)`.execute(db)));
}

/** A migrated database for the file's tests; the pool is closed after them. */
export function useDb(): { readonly db: Kysely<Database> } {
  const holder: { db: Kysely<Database> | undefined } = { db: undefined };
  beforeAll(async () => {
    holder.db = createDb(databaseUrl(), { max: POOL_SIZE });
    await migrateToLatest(holder.db);
    await warmPool(holder.db);
  });
  afterAll(async () => {
    await holder.db?.destroy();
  });
  return {
    get db() {
      if (!holder.db) throw new Error("database not ready (use it inside a test)");
      return holder.db;
    },
  };
}

/**
 * A migrated database of its own, created for the file and dropped after it: for
 * tests of things that are global to a database (there is one active signing key per
 * database, and an auth-service under test may be using the shared one).
 */
export function useScratchDb(): { readonly db: Kysely<Database>; readonly url: string } {
  const name = `gh_scratch_${randomBytes(6).toString("hex")}`;
  const holder: { admin?: Kysely<Database>; db?: Kysely<Database>; url?: string } = {};
  beforeAll(async () => {
    holder.admin = createDb(databaseUrl(), { max: 1 });
    await sql.raw(`create database ${name}`).execute(holder.admin);
    const url = new URL(databaseUrl());
    url.pathname = `/${name}`;
    holder.url = url.toString();
    holder.db = createDb(holder.url, { max: POOL_SIZE });
    await migrateToLatest(holder.db);
    await warmPool(holder.db);
  });
  afterAll(async () => {
    await holder.db?.destroy();
    if (holder.admin) {
      await sql.raw(`drop database if exists ${name} with (force)`).execute(holder.admin);
      await holder.admin.destroy();
    }
  });
  return {
    get db() {
      if (!holder.db) throw new Error("database not ready (use it inside a test)");
      return holder.db;
    },
    get url() {
      if (!holder.url) throw new Error("database not ready (use it inside a test)");
      return holder.url;
    },
  };
}

export function ctx(actor = "operator"): AuditContext & { requestId: string } {
  return { actor, requestId: `req-${randomUUID()}` };
}

export async function newUser(db: Kysely<Database>, name = "user"): Promise<string> {
  const identityId = randomUUID();
  await upsertUserFromKratos(db, { identityId, email: `${name}-${identityId.slice(0, 8)}@example.test` }, ctx());
  return identityId;
}

/** A fresh user who owns a fresh organization. */
export async function newOrg(db: Kysely<Database>): Promise<{ orgId: string; ownerId: string }> {
  const ownerId = await newUser(db, "owner");
  const { organization } = await onboard(
    db,
    { identityId: ownerId, name: `Org ${ownerId.slice(0, 8)}`, plan: "pro" },
    ctx(),
  );
  return { orgId: organization.id, ownerId };
}

/** A signed-in member acting through the organization API, with the default permission map. */
export function member(identityId: string): Authority {
  return asMember(identityId, DEFAULT_PERMISSIONS);
}

/** The user joins the organization the only way a person does: invited (by an operator), then accepting. */
export async function join(db: Kysely<Database>, orgId: string, identityId: string, role: OrgRole): Promise<void> {
  const user = await getUser(db, identityId);
  if (!user) throw new Error("no such user");
  const { token } = await createInvitation(db, { orgId, email: user.email, role }, ctx(), OPERATOR);
  await acceptInvitation(db, token, { identityId, email: user.email, emailVerified: true }, ctx(identityId));
}

/** Resolves to the DomainError `promise` rejects with; fails if it rejects with anything else or resolves. */
export async function domainError(promise: Promise<unknown>, code: DomainErrorCode): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError && error.code === code) return error;
    throw new Error(`expected DomainError(${code}), got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected DomainError(${code}), but it succeeded`);
}

export async function auditRows(db: Kysely<Database>, requestId: string) {
  return db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).orderBy("id").execute();
}
