// Invitations: the only way into an organization someone else owns. An owner or admin
// invites an email address with a role (authz.ts: at most their own); the invitee,
// signed in with that address verified, accepts, and only then becomes a member.
//
// Creating one never looks the address up: the answer is the same whether or not
// anyone has signed up with it, so it tells the inviter nothing about accounts.
//
// The token (inv_<id as 32 hex><43 characters of secret>) is shown once, to the
// inviter. Only SHA-256 of the secret is stored; acceptance finds the row by id and
// compares the hashes in constant time. Tokens are never stored, logged or audited.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { type Database, type InvitationRow, ORG_ROLES, type OrgRole } from "../db/schema.ts";
import { type AuditContext, assertAuditContext, writeAudit } from "./audit.ts";
import { type Authority, authorize, check } from "./authz.ts";
import { DomainError, withDomainErrors } from "./errors.ts";
import { insertMembership, type Membership, setDefaultOrganization } from "./memberships.ts";
import { requireLiveOrganization } from "./organizations.ts";
import { assertDate, assertOneOf, assertUuid, inTransaction } from "./support.ts";

export const INVITATION_TTL_DEFAULT_MS = 7 * 24 * 3_600_000;
export const INVITATION_TTL_MAX_MS = 30 * 24 * 3_600_000;

export type InvitationStatus = "pending" | "accepted" | "revoked" | "expired";

/** An invitation as the rest of the service sees it: never the token or its hash. */
export interface Invitation {
  id: string;
  organizationId: string;
  email: string;
  role: OrgRole;
  status: InvitationStatus;
  invitedBy: string;
  expiresAt: Date;
  acceptedAt: Date | null;
  acceptedBy: string | null;
  revokedAt: Date | null;
  createdAt: Date;
}

function toInvitation(row: InvitationRow, now = Date.now()): Invitation {
  const status: InvitationStatus = row.accepted_at
    ? "accepted"
    : row.revoked_at
      ? "revoked"
      : row.expires_at.getTime() <= now
        ? "expired"
        : "pending";
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    role: row.role,
    status,
    invitedBy: row.invited_by,
    expiresAt: row.expires_at,
    acceptedAt: row.accepted_at,
    acceptedBy: row.accepted_by,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
  };
}

const TOKEN_RE = /^inv_([0-9a-f]{32})([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** inv_<id without dashes><secret>; the id finds the row, the secret proves possession. */
function makeToken(id: string, secret: string): string {
  return `inv_${id.replaceAll("-", "")}${secret}`;
}

function parseToken(token: unknown): { id: string; secret: string } | undefined {
  if (typeof token !== "string") return undefined;
  const m = TOKEN_RE.exec(token);
  if (!m) return undefined;
  const hex = m[1] as string;
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { id, secret: m[2] as string };
}

/** Whether a string has the shape of an invitation token (nothing about whether it is valid). */
export function looksLikeInvitationToken(token: unknown): boolean {
  return parseToken(token) !== undefined;
}

/** Trimmed and lowercased: how addresses are stored and compared. */
export function normalizeEmail(value: unknown): string {
  const email = typeof value === "string" ? value.trim().toLowerCase() : "";
  if (email.length < 3 || email.length > 320 || !/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw new DomainError("invalid_input", "email must be an email address");
  }
  return email;
}

export interface CreateInvitationInput {
  orgId: string;
  email: string;
  role: OrgRole;
  /** Default: 7 days from now; at most 30 days. */
  expiresAt?: Date;
}

/**
 * Invites an address. Returns the token once; the same answer whether or not the
 * address belongs to anyone. Owners and admins, for roles up to their own.
 */
export async function createInvitation(
  db: Kysely<Database>,
  input: CreateInvitationInput,
  ctx: AuditContext,
  by: Authority,
): Promise<{ token: string; invitation: Invitation }> {
  assertAuditContext(ctx);
  const orgId = assertUuid(input.orgId, "orgId");
  const email = normalizeEmail(input.email);
  const role = assertOneOf(input.role, ORG_ROLES, "role");
  const now = Date.now();
  const expiresAt =
    input.expiresAt === undefined
      ? new Date(now + INVITATION_TTL_DEFAULT_MS)
      : assertDate(input.expiresAt, "expiresAt");
  if (expiresAt.getTime() <= now) throw new DomainError("invalid_input", "expiresAt must be in the future");
  if (expiresAt.getTime() > now + INVITATION_TTL_MAX_MS) {
    throw new DomainError("invalid_input", "an invitation expires within 30 days");
  }
  const secret = randomBytes(32).toString("base64url");

  return inTransaction(db, async (trx) => {
    await authorize(trx, by, orgId, { kind: "invitation.create", role });
    await requireLiveOrganization(trx, orgId);
    const row = await trx
      .insertInto("invitations")
      .values({
        organization_id: orgId,
        email,
        role,
        secret_hash: hashSecret(secret),
        invited_by: by.kind === "member" ? assertUuid(by.identityId, "identityId") : ctx.actor,
        expires_at: expiresAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "invitation.created",
      targetType: "invitation",
      targetId: row.id,
      organizationId: orgId,
      after: { email, role, expiresAt: expiresAt.toISOString() },
    });
    return { token: makeToken(row.id, secret), invitation: toInvitation(row) };
  });
}

/** The organization's invitations, newest first (owners, admins); pending ones only unless `all`. */
export async function listInvitations(
  db: Kysely<Database>,
  orgId: string,
  by: Authority,
  opts: { all?: boolean } = {},
): Promise<Invitation[]> {
  const id = assertUuid(orgId, "orgId");
  return withDomainErrors(async () => {
    await authorize(db, by, id, { kind: "invitation.list" });
    let q = db
      .selectFrom("invitations")
      .selectAll()
      .where("organization_id", "=", id)
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(500);
    if (!opts.all) {
      q = q.where("accepted_at", "is", null).where("revoked_at", "is", null).where("expires_at", ">", sql<Date>`now()`);
    }
    const now = Date.now();
    return (await q.execute()).map((r) => toInvitation(r, now));
  });
}

/**
 * Revokes a pending invitation (owners; admins for roles up to their own). Revoked
 * already → returned as is, no audit row; accepted → conflict.
 */
export async function revokeInvitation(
  db: Kysely<Database>,
  input: { orgId: string; id: string },
  ctx: AuditContext,
  by: Authority,
): Promise<Invitation> {
  assertAuditContext(ctx);
  const orgId = assertUuid(input.orgId, "orgId");
  const id = assertUuid(input.id, "id");
  return inTransaction(db, async (trx) => {
    const role = await authorize(trx, by, orgId, { kind: "invitation.list" });
    const current = await trx
      .selectFrom("invitations")
      .selectAll()
      .where("id", "=", id)
      .where("organization_id", "=", orgId)
      .forUpdate()
      .executeTakeFirst();
    if (!current) throw new DomainError("not_found", "invitation not found");
    check(by, role, { kind: "invitation.revoke", role: current.role });
    if (current.revoked_at !== null) return toInvitation(current);
    if (current.accepted_at !== null) throw new DomainError("conflict", "this invitation has already been accepted");
    const row = await trx
      .updateTable("invitations")
      .set({ revoked_at: sql<Date>`now()`, revoked_by: ctx.actor })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "invitation.revoked",
      targetType: "invitation",
      targetId: id,
      organizationId: orgId,
      before: { email: current.email, role: current.role },
    });
    return toInvitation(row);
  });
}

/** Who accepts: the signed-in identity, with its email and verification state fresh from Kratos. */
export interface Invitee {
  identityId: string;
  /** traits.email of the identity. */
  email: string;
  /** Whether that address is a verified Kratos verifiable address. */
  emailVerified: boolean;
}

/**
 * Accepts an invitation for the signed-in invitee: the token must match a pending
 * invitation (not expired, revoked or used) addressed to the invitee's email, and that
 * address must be verified. The invitee becomes a member with the invited role, the
 * organization becomes their default one, and the invitation is used up, in one
 * transaction. Errors: not_found (no such token), gone (expired, revoked, used),
 * forbidden (another address), email_unverified, conflict (already a member).
 */
export async function acceptInvitation(
  db: Kysely<Database>,
  token: string,
  invitee: Invitee,
  ctx: AuditContext,
): Promise<{ membership: Membership; invitation: Invitation }> {
  assertAuditContext(ctx);
  const identityId = assertUuid(invitee.identityId, "identityId");
  const parsed = parseToken(token);
  if (!parsed) throw new DomainError("not_found", "invitation not found");
  const presented = Buffer.from(hashSecret(parsed.secret), "hex");

  return inTransaction(db, async (trx) => {
    const row = await trx
      .selectFrom("invitations")
      .selectAll()
      .select(sql<boolean>`expires_at <= now()`.as("expired"))
      .where("id", "=", parsed.id)
      .forUpdate()
      .executeTakeFirst();
    // Compared in constant time; a row that does not exist costs the same comparison.
    const stored = Buffer.from(row?.secret_hash ?? "0".repeat(64), "hex");
    const matches = timingSafeEqual(presented, stored) && row !== undefined;
    if (!row || !matches) throw new DomainError("not_found", "invitation not found");
    const { expired, ...invitation } = row;
    if (invitation.accepted_at !== null) throw new DomainError("gone", "this invitation has already been used");
    if (invitation.revoked_at !== null) throw new DomainError("gone", "this invitation has been revoked");
    if (expired) throw new DomainError("gone", "this invitation has expired; ask for a new one");
    let email: string;
    try {
      email = normalizeEmail(invitee.email);
    } catch {
      email = "";
    }
    if (email !== invitation.email) {
      throw new DomainError(
        "forbidden",
        "this invitation was sent to a different email address; sign in with that address to accept it",
      );
    }
    if (!invitee.emailVerified) {
      throw new DomainError("email_unverified", "verify your email address first, then accept the invitation");
    }
    await requireLiveOrganization(trx, invitation.organization_id);
    const existing = await trx
      .selectFrom("memberships")
      .select("id")
      .where("organization_id", "=", invitation.organization_id)
      .where("identity_id", "=", identityId)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    if (existing) throw new DomainError("conflict", "you are already a member of this organization");

    const membership = await insertMembership(
      trx,
      { orgId: invitation.organization_id, identityId, role: invitation.role, joinedVia: "invitation" },
      ctx,
    );
    const used = await trx
      .updateTable("invitations")
      .set({ accepted_at: sql<Date>`now()`, accepted_by: identityId })
      .where("id", "=", invitation.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      action: "invitation.accepted",
      targetType: "invitation",
      targetId: invitation.id,
      organizationId: invitation.organization_id,
      after: { identityId, role: invitation.role, membershipId: membership.id },
    });
    // Accepting is joining: the organization becomes the invitee's default.
    await setDefaultOrganization(trx, identityId, invitation.organization_id, ctx);
    return { membership, invitation: toInvitation(used) };
  });
}
