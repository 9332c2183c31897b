// What every /auth/* page does first: get its Kratos flow, or send the browser where
// Kratos says it should go (a fresh flow, the second-factor login, the app).
import { safeReturnTo } from "@gatehouse/guard/next";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { webConfig } from "./config.ts";
import { type Flow, type FlowKind, getFlow, param, startFlowUrl } from "./kratos.ts";

export type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/** Hosts a `return_to` may point at: the product's own origins (Kratos checks its own list too). */
export function allowedReturnHosts(): string[] {
  const c = webConfig();
  return [...new Set([c.webUrl, c.marketingUrl, c.gatewayUrl].map((u) => new URL(u).host))];
}

/** A validated absolute return URL, or undefined. Paths resolve against the app's origin. */
export function safeReturn(candidate: string | undefined): string | undefined {
  return safeReturnTo(candidate, allowedReturnHosts(), webConfig().webUrl);
}

export async function requestCookie(): Promise<string | undefined> {
  return (await headers()).get("cookie") ?? undefined;
}

export type Loaded =
  | { flow: Flow; error?: undefined }
  | { flow?: undefined; error: { title: string; message: string } };

/**
 * Loads the flow named by `?flow=`; starts a new one (passing `startQuery` to Kratos)
 * when it is missing, expired, unknown or from another browser.
 */
export async function loadFlow(
  kind: FlowKind,
  sp: Record<string, string | string[] | undefined>,
  startQuery: Record<string, string | undefined>,
): Promise<Loaded> {
  // A return_to is checked here, before Kratos (or the gateway) ever sees it: an
  // unsafe one is dropped and the flow ends at the default page.
  const query = { ...startQuery, return_to: safeReturn(startQuery.return_to) };
  const result = await getFlow(kind, param(sp.flow), await requestCookie());
  switch (result.kind) {
    case "flow":
      return { flow: result.flow };
    case "restart":
      return redirect(startFlowUrl(kind, query));
    case "redirect":
      return redirect(result.to);
    case "signin": {
      const back = `${webConfig().webUrl}/auth/${kind}`;
      return redirect(`/auth/login?return_to=${encodeURIComponent(back)}`);
    }
    case "already_signed_in":
      return redirect(query.return_to ?? "/dashboard");
    case "error":
      return { error: { title: result.title, message: result.message } };
  }
}
