// For signed-in pages: the viewer, a redirect (login, second factor, onboarding), or
// "unavailable" when the auth-service could not be asked (never mistaken for signed out).
import { redirect } from "next/navigation";
import { requireViewer, ServiceUnavailable, type Viewer } from "./session.ts";

export async function pageViewer(path: string, opts: { needOrg: boolean }): Promise<Viewer | "unavailable"> {
  let v: Viewer;
  try {
    v = await requireViewer(path);
  } catch (e) {
    if (e instanceof ServiceUnavailable) return "unavailable";
    throw e;
  }
  if (opts.needOrg && !v.claims.org) redirect("/onboard");
  return v;
}
