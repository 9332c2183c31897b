// X-Request-Id: a caller's id is kept (so one request can be followed across the
// gateway, the guard and the auth-service) when it is a sane token; otherwise, or
// when there is none, a fresh UUID.

/** What an X-Request-Id from outside must look like to be kept (and logged). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's well-formed X-Request-Id, or a new one. */
export function requestIdFrom(given: string | readonly string[] | null | undefined): string {
  return typeof given === "string" && REQUEST_ID_PATTERN.test(given) ? given : globalThis.crypto.randomUUID();
}
