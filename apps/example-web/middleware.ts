// Route protection and host-based routing, in the Edge runtime.
//
// One Next.js app serves two hosts: the product (app.<domain>, WEB_URL) and the
// marketing site (www.<domain>, MARKETING_URL). On the marketing host only the
// landing and pricing pages exist (rewritten to /site/*); everything else there is
// sent to the app host. On the app host:
//   /                      → /dashboard when signed in, else the marketing site
//   /auth/login, /auth/registration → on to return_to (or /dashboard) when signed in
//   /invite?token=         → the token into a cookie, then /invitations/accept (app/invite/route.ts)
//   /dashboard, /team, /teams, /organization, /api-keys, /audit, /onboard, /projects,
//   /invitations, /security → the guard: signed in, or 303 to the login
//                            with return_to; the page gets the Gatehouse JWT in
//                            `Authorization` and X-User-* headers
import { createNextGuard, isBrowserNavigation, type NextGuard, type Rule, safeReturnTo } from "@gatehouse/guard/next";
import { type NextRequest, NextResponse } from "next/server";
import { webConfig } from "./lib/config.ts";
import { NOTICE_COOKIE, NOTICE_HEADER } from "./lib/notice.ts";

const PROTECTED = [
  "/dashboard",
  "/team",
  "/teams",
  "/organization",
  "/api-keys",
  "/audit",
  "/onboard",
  "/projects",
  "/invitations",
  "/security",
];
const MARKETING_PAGES: Record<string, string> = { "/": "/site", "/pricing": "/site/pricing" };

let guard: NextGuard | undefined;

function getGuard(): NextGuard {
  if (!guard) {
    const c = webConfig();
    guard = createNextGuard({
      authServiceUrl: c.authServiceUrl,
      audience: c.audience,
      issuer: c.issuer,
      cookieName: c.cookieName,
      accept: ["session"],
      login: {
        url: `${c.webUrl}/auth/login`,
        allowedReturnHosts: [new URL(c.webUrl).host],
        defaultReturnTo: `${c.webUrl}/dashboard`,
      },
      // Every page load asks the auth-service (which caches, and hears about role
      // changes, onboarding and logouts at once): no stale role in this isolate.
      sessionCache: { maxTtlSec: Number(process.env.WEB_SESSION_CACHE_SECONDS ?? 0) },
    });
  }
  return guard;
}

function isProtected(path: string): boolean {
  return PROTECTED.some((p) => path === p || path.startsWith(`${p}/`));
}

/** The request as the browser addressed it (Host header), so return_to names the public host. */
function publicRequest(req: NextRequest, host: string): Request {
  const u = new URL(req.nextUrl.pathname + req.nextUrl.search, `${new URL(webConfig().webUrl).protocol}//${host}`);
  return new Request(u, { method: req.method, headers: req.headers });
}

/**
 * A page load that could not be checked (auth-service down, rate limited) or was
 * refused (403) gets a page saying so, with the guard's status; API-style callers get
 * its JSON. Anything else (the 401 redirect) is the guard's answer as it is.
 */
function unavailable(req: NextRequest, response: Response): Response {
  const page = response.status === 403 ? "/forbidden" : "/unavailable";
  if ((response.status !== 503 && response.status !== 429 && response.status !== 403) || !isBrowserNavigation(req))
    return response;
  const u = req.nextUrl.clone();
  u.pathname = page;
  u.search = "";
  const retry = response.headers.get("retry-after");
  return NextResponse.rewrite(u, {
    status: response.status,
    headers: { "cache-control": "no-store", ...(retry ? { "retry-after": retry } : {}) },
  });
}

/**
 * A one-time notice the previous step left in a cookie (sign-out: "signed_out"),
 * handed to the page as a request header and cleared, so it shows once, on the page
 * with the flow (the first /auth/login hit only redirects on to Kratos).
 */
function withNotice(req: NextRequest): NextResponse {
  const notice = req.cookies.get(NOTICE_COOKIE)?.value;
  if (notice !== "signed_out") return NextResponse.next();
  const headers = new Headers(req.headers);
  headers.set(NOTICE_HEADER, notice);
  const res = NextResponse.next({ request: { headers } });
  res.cookies.set({ name: NOTICE_COOKIE, value: "", path: "/auth", maxAge: 0 });
  return res;
}

function redirectTo(url: string, status = 303): NextResponse {
  return NextResponse.redirect(url, { status, headers: { "cache-control": "no-store" } });
}

export async function middleware(req: NextRequest): Promise<Response> {
  const c = webConfig();
  const host = (req.headers.get("host") ?? "").toLowerCase();
  const path = req.nextUrl.pathname;
  const search = req.nextUrl.search;
  const webHost = new URL(c.webUrl).host;
  const marketingHost = new URL(c.marketingUrl).host;

  if (host === marketingHost && host !== webHost) {
    const page = MARKETING_PAGES[path];
    if (page) {
      const u = req.nextUrl.clone();
      u.pathname = page;
      return NextResponse.rewrite(u);
    }
    if (path === "/healthz") return NextResponse.next();
    // /auth/*, /dashboard… live on the app host: same path and query there.
    return redirectTo(`${c.webUrl}${path}${search}`, 307);
  }

  if (path === "/site" || path.startsWith("/site/")) {
    return redirectTo(`${c.marketingUrl}${path.slice("/site".length) || "/"}${search}`, 308);
  }
  if (path === "/pricing") return redirectTo(`${c.marketingUrl}/pricing${search}`, 308);

  const request = publicRequest(req, host || webHost);
  // server.ts sets X-Forwarded-For to the browser's address (or what a trusted proxy said).
  const who = { clientAddress: req.headers.get("x-forwarded-for")?.split(",")[0]?.trim() || undefined };
  const check = (rule: Rule) => getGuard().check(request, rule, who);

  if (path === "/") {
    const { principal, response } = await check({ anonymous: true });
    // Could not tell (auth-service down or rate limiting): never "signed out".
    if (response) return unavailable(req, response);
    return redirectTo(principal ? `${c.webUrl}/dashboard` : `${c.marketingUrl}/`);
  }

  if (path === "/auth/login" || path === "/auth/registration") {
    const p = req.nextUrl.searchParams;
    // A second factor or a re-authentication is asked for by a signed-in user.
    if (p.has("aal") || p.has("refresh") || p.has("flow")) return withNotice(req);
    const { principal, response } = await check({ anonymous: true });
    if (response) return unavailable(req, response);
    if (principal) {
      const back = safeReturnTo(p.get("return_to") ?? undefined, [webHost, marketingHost], c.webUrl);
      return redirectTo(back ?? `${c.webUrl}/dashboard`);
    }
    return NextResponse.next();
  }

  if (isProtected(path)) {
    const { response, requestHeaders } = await check({});
    if (response) return unavailable(req, response);
    return requestHeaders ? NextResponse.next({ request: { headers: requestHeaders } }) : NextResponse.next();
  }

  return NextResponse.next();
}

export const config = {
  // Everything but the build's static files.
  matcher: ["/((?!_next/static|_next/image|favicon.ico|icon.svg).*)"],
};
