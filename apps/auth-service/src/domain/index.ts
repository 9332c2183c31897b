// The Gatehouse data layer: repositories over Kysely<Database>. Every mutation runs in
// one transaction together with its audit_log row(s) and takes an AuditContext.
export * from "./api-keys.ts";
export * from "./audit.ts";
export * from "./authz.ts";
export * from "./errors.ts";
export * from "./invitations.ts";
export * from "./memberships.ts";
export * from "./organizations.ts";
export * from "./principal.ts";
export * from "./signing-keys.ts";
export { inTransaction, isUuid } from "./support.ts";
export * from "./teams.ts";
export * from "./users.ts";
export * from "./webhooks.ts";
