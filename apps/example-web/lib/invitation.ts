// The invitation link (`/invite?token=…`) and the cookie that carries its token from
// there to the accept page, so the token leaves the address bar (history, Referer,
// the login's return_to) after the first request.

export const INVITATION_COOKIE = "gh_invitation";
/** Only the accept page and its action see the cookie. */
export const INVITATION_COOKIE_PATH = "/invitations";
export const INVITATION_COOKIE_MAX_AGE_SEC = 24 * 3600;

/** inv_ + 32 hex + 43 base64url characters (the auth-service's format; its shape only). */
export const INVITATION_TOKEN = /^inv_[0-9a-f]{32}[A-Za-z0-9_-]{43}$/;

export function invitationLink(webUrl: string, token: string): string {
  return `${webUrl}/invite?token=${encodeURIComponent(token)}`;
}
