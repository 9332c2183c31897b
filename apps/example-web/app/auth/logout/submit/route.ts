// Sign out: the auth-service revokes the Kratos session (at Kratos, in its caches,
// and announces it on Redis so every guard, the gateway's included, drops the cached
// token at once), then the cookie is cleared here and the browser goes to the login.
import { type NextRequest, NextResponse } from "next/server";
import { authService } from "../../../../lib/api.ts";
import { webConfig } from "../../../../lib/config.ts";
import { kratosFetch } from "../../../../lib/kratos.ts";
import { NOTICE_COOKIE } from "../../../../lib/notice.ts";

export const dynamic = "force-dynamic";

async function revoke(cookie: string): Promise<boolean> {
  try {
    const { response } = await authService(cookie, 5_000).POST("/v1/logout");
    return response.status === 204 || response.status === 401;
  } catch {
    return false;
  }
}

/** Fallback when the auth-service is unreachable: Kratos' own browser logout, server-side. */
async function kratosLogout(cookie: string): Promise<void> {
  try {
    const r = await kratosFetch("/self-service/logout/browser", { cookie });
    if (!r.ok) return;
    const { logout_url: url } = (await r.json()) as { logout_url?: string };
    if (url) await (await kratosFetch(url, { cookie })).body?.cancel();
  } catch {
    /* nothing more we can do; the cookie is cleared below */
  }
}

export async function POST(req: NextRequest): Promise<Response> {
  const c = webConfig();
  const origin = req.headers.get("origin");
  // A cross-site form must not be able to sign people out.
  if (origin && origin !== "null" && origin !== c.webUrl && origin !== c.marketingUrl) {
    return new NextResponse("Sign-out must be started from the app.", { status: 403 });
  }
  const value = req.cookies.get(c.cookieName)?.value;
  if (value) {
    const cookie = `${c.cookieName}=${value}`;
    if (!(await revoke(cookie))) await kratosLogout(cookie);
  }
  const res = NextResponse.redirect(new URL("/auth/login", c.webUrl), {
    status: 303,
    headers: { "cache-control": "no-store" },
  });
  const domain = c.cookieDomain ? `; Domain=${c.cookieDomain}` : "";
  res.headers.append("set-cookie", `${c.cookieName}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${domain}`);
  res.headers.append("set-cookie", "gh_signup_tier=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
  // The login page says "You are signed out" once (middleware.ts hands it on).
  res.headers.append("set-cookie", `${NOTICE_COOKIE}=signed_out; Path=/auth; Max-Age=120; HttpOnly; SameSite=Lax`);
  return res;
}

export function GET(): Response {
  return NextResponse.redirect(new URL("/auth/logout", webConfig().webUrl), 303);
}
