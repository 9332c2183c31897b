// Who is asking, for server components and server actions: the Gatehouse access
// token the middleware's guard put on the request (`Authorization: Bearer …`), or,
// where the middleware did not run, one exchanged here for the Kratos cookie.
// Either way the JWT is verified locally against the auth-service's JWKS.
import { type AccessTokenClaims, createRemoteJwks, createVerifier, type Verifier } from "@gatehouse/tokens";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { authService } from "./api.ts";
import { webConfig } from "./config.ts";

let verifier: Verifier | undefined;

function getVerifier(): Verifier {
  if (!verifier) {
    const c = webConfig();
    verifier = createVerifier({
      jwks: createRemoteJwks(`${c.authServiceUrl}/.well-known/jwks.json`),
      issuer: c.issuer,
      audience: c.audience,
      cacheSize: 1_000,
    });
  }
  return verifier;
}

export interface Viewer {
  claims: AccessTokenClaims;
  token: string;
  /** `ory_kratos_session=…`, for calls made on the user's behalf. */
  cookie: string;
}

/** The Kratos session cookie alone, as a Cookie header value (nothing else leaves the app). */
export async function sessionCookie(): Promise<string | undefined> {
  const name = webConfig().cookieName;
  const v = (await cookies()).get(name)?.value;
  return v ? `${name}=${v}` : undefined;
}

export class ServiceUnavailable extends Error {
  override name = "ServiceUnavailable";
}

type Exchanged = { token: string } | { token?: undefined; reason: "unauthenticated" | "aal2_required" };

async function exchange(cookie: string): Promise<Exchanged> {
  let out: Awaited<ReturnType<ReturnType<typeof authService>["POST"]>>;
  try {
    out = await authService(cookie, 5_000).POST("/v1/token", { body: {} });
  } catch (e) {
    throw new ServiceUnavailable("the auth-service did not answer", { cause: e });
  }
  const status = out.response.status;
  if (status === 401 || status === 403) {
    return { reason: out.error?.error === "aal2_required" ? "aal2_required" : "unauthenticated" };
  }
  if (!out.data) throw new ServiceUnavailable(`the auth-service answered ${status}`);
  return { token: out.data.access_token };
}

/**
 * The signed-in user; "aal2_required" when the session still needs its second factor;
 * undefined when signed out. Throws ServiceUnavailable when it cannot tell.
 */
export async function getViewer(): Promise<Viewer | "aal2_required" | undefined> {
  const cookie = await sessionCookie();
  if (!cookie) return undefined;
  const auth = (await headers()).get("authorization");
  let token = auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
  if (token) {
    try {
      return { claims: await getVerifier().verify(token), token, cookie };
    } catch {
      token = undefined; // not ours or expired: ask for a fresh one below
    }
  }
  const out = await exchange(cookie);
  if (out.token === undefined) return out.reason === "aal2_required" ? "aal2_required" : undefined;
  token = out.token;
  try {
    return { claims: await getVerifier().verify(token), token, cookie };
  } catch (e) {
    throw new ServiceUnavailable("could not verify the access token", { cause: e });
  }
}

/**
 * After a change of the user's organization (switch, leave, delete): waits, briefly,
 * until the auth-service's token says `ready(org)`. Its token cache drops the old
 * token when the change's announcement comes back over Redis, a few milliseconds
 * after the write; the next page load must not beat it and show the old organization.
 * Gives up quietly after ~3 s (the page then catches up on the next load).
 */
export async function untilTokenOrganization(
  cookie: string,
  ready: (org: string | undefined) => boolean,
): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const out = await exchange(cookie).catch(() => undefined);
    if (out?.token !== undefined) {
      const claims = await getVerifier()
        .verify(out.token)
        .catch(() => undefined);
      if (claims && ready(claims.org)) return;
    } else if (out) return; // signed out or second factor needed: nothing to wait for
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** For pages behind the middleware: the viewer, or a redirect to the login page. */
export async function requireViewer(returnPath: string): Promise<Viewer> {
  const v = await getViewer();
  const back = encodeURIComponent(`${webConfig().webUrl}${returnPath}`);
  if (v === "aal2_required") redirect(`/auth/login?aal=aal2&return_to=${back}`);
  if (!v) redirect(`/auth/login?return_to=${back}`);
  return v;
}

export function displayName(claims: AccessTokenClaims): string {
  const n = [claims.name?.first, claims.name?.last].filter(Boolean).join(" ");
  return n || claims.email || "there";
}
