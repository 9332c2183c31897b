import pg from "pg";

/**
 * How the layers below HTTP (domain/, exchange/, revocation/) say a request cannot be
 * done; the HTTP layer maps each to one error code, once (toApiError in http/errors.ts):
 *   not_found → 404, conflict → 409, last_owner → 409, invalid_input → 400,
 *   unauthenticated → 401 (a credential that is not, or no longer, valid),
 *   forbidden → 403, email_unverified → 403, user_deactivated → 403, gone → 410 (an invitation expired, revoked or used).
 * Anything that is not a DomainError (connection refused, pool timeout, Postgres
 * shutting down, serialization failure…) is an outage or a bug: 503/500.
 */
export type DomainErrorCode =
  | "not_found"
  | "conflict"
  | "last_owner"
  | "invalid_input"
  | "unauthenticated"
  | "forbidden"
  | "email_unverified"
  | "user_deactivated"
  | "gone";

export class DomainError extends Error {
  override name = "DomainError";
  readonly code: DomainErrorCode;
  constructor(code: DomainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A dependency (Redis, the signing keys' database) is known to be unusable: 503, retry later. */
export class DependencyUnavailableError extends Error {
  override name = "DependencyUnavailableError";
}

/** Name of the constraint the last-owner triggers raise (SQLSTATE 23514 check_violation). */
export const LAST_OWNER_CONSTRAINT = "memberships_last_owner";
/** Name of the constraint the team-membership trigger raises (SQLSTATE 23514). */
export const TEAM_MEMBER_CONSTRAINT = "team_memberships_org_member";

// SQLSTATEs that mean "the input was wrong", never "the database is unwell".
const INVALID_INPUT_CODES = new Set([
  "22P02", // invalid_text_representation: a bad uuid, a bad enum literal
  "22001", // string_data_right_truncation
  "22003", // numeric_value_out_of_range
  "22007", // invalid_datetime_format
  "22008", // datetime_field_overflow
  "22023", // invalid_parameter_value
  "23502", // not_null_violation
  "23514", // check_violation (after the last-owner case below)
]);

/**
 * Turns a Postgres constraint/input error into a DomainError and returns anything
 * else unchanged. Only errors the server raised about the statement (pg.DatabaseError
 * with one of the codes above) are mapped: connection failures are plain Errors, and
 * server-side trouble (class 08, 53, 57, 40001 serialization, 40P01 deadlock) keeps its
 * DatabaseError so the caller can retry or answer 503.
 */
export function mapPgError(error: unknown): unknown {
  if (!(error instanceof pg.DatabaseError)) return error;
  const constraint = error.constraint;
  const where = constraint ? ` (${constraint})` : "";
  switch (error.code) {
    case "23505":
      return new DomainError("conflict", `already exists${where}`, { cause: error });
    case "23503":
      // Repositories check the rows they reference first, so this is the racing case:
      // the referenced row vanished (or never existed).
      return new DomainError("not_found", `a referenced record does not exist${where}`, { cause: error });
    case "23514":
      if (constraint === LAST_OWNER_CONSTRAINT) {
        return new DomainError("last_owner", "an organization must keep at least one owner", { cause: error });
      }
      if (constraint === TEAM_MEMBER_CONSTRAINT) {
        return new DomainError("invalid_input", "a team member must be a member of the team's organization", {
          cause: error,
        });
      }
      return new DomainError("invalid_input", `invalid value${where}`, { cause: error });
    default:
      if (error.code !== undefined && INVALID_INPUT_CODES.has(error.code)) {
        return new DomainError("invalid_input", `invalid input: ${error.message}`, { cause: error });
      }
      return error;
  }
}

/** Runs `fn`, rethrowing Postgres constraint/input errors as DomainErrors (see mapPgError). */
export async function withDomainErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw mapPgError(error);
  }
}
