// GET /invite?token=…: the link an invitee receives. Moves the token into a short-lived
// HttpOnly cookie scoped to /invitations and sends the browser on to the accept page
// (which asks them to sign in or sign up first), so the token does not stay in the
// address bar, the history, Referer headers or the login's return_to.
import { type NextRequest, NextResponse } from "next/server";
import { webConfig } from "../../lib/config.ts";
import {
  INVITATION_COOKIE,
  INVITATION_COOKIE_MAX_AGE_SEC,
  INVITATION_COOKIE_PATH,
  INVITATION_TOKEN,
} from "../../lib/invitation.ts";

export const dynamic = "force-dynamic";

export function GET(req: NextRequest): Response {
  const c = webConfig();
  const token = req.nextUrl.searchParams.get("token") ?? "";
  const valid = INVITATION_TOKEN.test(token);
  const res = NextResponse.redirect(new URL(`/invitations/accept${valid ? "" : "?invalid=1"}`, c.webUrl), {
    status: 303,
    headers: { "cache-control": "no-store", "referrer-policy": "no-referrer" },
  });
  if (valid) {
    const secure = c.webUrl.startsWith("https:") ? "; Secure" : "";
    res.headers.append(
      "set-cookie",
      `${INVITATION_COOKIE}=${token}; Path=${INVITATION_COOKIE_PATH}; Max-Age=${INVITATION_COOKIE_MAX_AGE_SEC}; HttpOnly; SameSite=Lax${secure}`,
    );
  }
  return res;
}
