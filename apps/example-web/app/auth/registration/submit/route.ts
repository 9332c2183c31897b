// The registration form posts here, not to Kratos: Kratos reads `transient_payload`
// (the pricing tier, for the auth-service's after-registration webhook) only from a
// JSON body, and a plain HTML form can only send form encoding. So this handler turns
// the form into the JSON Kratos expects, submits it server-side with the visitor's
// cookies (CSRF cookie and token travel together, so Kratos' CSRF check still
// applies), relays every Set-Cookie (the session, the rotated CSRF cookie) and
// redirects the browser where Kratos would have sent it.
import { type NextRequest, NextResponse } from "next/server";
import { isPlan, webConfig } from "../../../../lib/config.ts";
import { formToJson } from "../../../../lib/form-json.ts";
import {
  classifyError,
  type Flow,
  getFlow,
  isUuid,
  type KratosError,
  kratosFetch,
  tierFromReturnTo,
} from "../../../../lib/kratos.ts";

export const dynamic = "force-dynamic";

interface ContinueWith {
  action?: string;
  redirect_browser_to?: string;
  flow?: { id?: string; url?: string };
}

function redirect303(location: string, setCookies: readonly string[] = []): NextResponse {
  const res = NextResponse.redirect(new URL(location, webConfig().webUrl), {
    status: 303,
    headers: { "cache-control": "no-store" },
  });
  for (const c of setCookies) res.headers.append("set-cookie", c);
  return res;
}

function restartUrl(flow: Flow | undefined): string {
  return flow?.return_to ? `/auth/registration?return_to=${encodeURIComponent(flow.return_to)}` : "/auth/registration";
}

export async function POST(req: NextRequest): Promise<Response> {
  const flowId = req.nextUrl.searchParams.get("flow");
  if (!isUuid(flowId)) return redirect303("/auth/registration");
  const cookie = req.headers.get("cookie") ?? undefined;

  let form: FormData;
  try {
    form = await req.formData();
  } catch {
    return redirect303(`/auth/registration?flow=${flowId}`);
  }

  const current = await getFlow("registration", flowId, cookie);
  if (current.kind !== "flow") {
    if (current.kind === "redirect") return redirect303(current.to);
    if (current.kind === "already_signed_in") return redirect303("/dashboard");
    if (current.kind === "error") return redirect303("/auth/error?reason=unavailable");
    return redirect303("/auth/registration");
  }
  const flow = current.flow;
  const body = formToJson(form, flow.ui.nodes);
  const tier = tierFromReturnTo(flow.return_to);
  if (isPlan(tier)) body.transient_payload = { tier };

  let r: Response;
  try {
    r = await kratosFetch(flow.ui.action, {
      cookie,
      json: body,
      userAgent: req.headers.get("user-agent") ?? undefined,
      clientAddress: req.headers.get("x-forwarded-for"),
    });
  } catch {
    return redirect303("/auth/error?reason=unavailable");
  }
  const setCookies = r.headers.getSetCookie();
  // The gateway's attempt limit: back to the form, saying how long to wait.
  if (r.status === 429) {
    await r.body?.cancel();
    const wait = Number(r.headers.get("retry-after")) || 60;
    return redirect303(`/auth/registration?flow=${flow.id}&retry_after=${wait}`, setCookies);
  }
  let doc: unknown;
  try {
    doc = await r.json();
  } catch {
    doc = undefined;
  }

  // Also remember the tier on this host for the onboarding form's default.
  const tierCookie = isPlan(tier) ? [`gh_signup_tier=${tier}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax`] : [];

  if (r.status === 200) {
    const continueWith = ((doc as { continue_with?: ContinueWith[] } | undefined)?.continue_with ??
      []) as ContinueWith[];
    const verify = continueWith.find((c) => c.action === "show_verification_ui")?.flow;
    const browserTo = continueWith.find((c) => c.action === "redirect_browser_to")?.redirect_browser_to;
    const next =
      verify?.url ??
      (verify?.id ? `/auth/verification?flow=${verify.id}` : undefined) ??
      browserTo ??
      flow.return_to ??
      "/dashboard";
    return redirect303(next, [...setCookies, ...tierCookie]);
  }
  // Validation errors, or the next step of a two-step registration: Kratos stored the
  // flow with its messages and the values typed so far; show it again.
  if (r.status === 400 && doc && typeof doc === "object" && "ui" in doc) {
    return redirect303(`/auth/registration?flow=${flow.id}`, setCookies);
  }
  const err = (doc ?? {}) as KratosError;
  if (r.status === 410 && isUuid(err.use_flow_id)) {
    return redirect303(`/auth/registration?flow=${err.use_flow_id}`, setCookies);
  }
  const c = classifyError(r.status, err);
  switch (c.kind) {
    case "redirect":
      return redirect303(c.to, setCookies);
    case "already_signed_in":
      return redirect303(flow.return_to ?? "/dashboard", setCookies);
    case "error":
      return redirect303("/auth/error?reason=unavailable", setCookies);
    default:
      return redirect303(restartUrl(flow), setCookies);
  }
}
