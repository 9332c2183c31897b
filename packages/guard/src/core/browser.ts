// Browser navigation or API call? Only a top-level page load may be answered with a
// redirect to the login UI; fetch/XHR callers, JSON clients and anything but
// GET/HEAD get a status code they can handle (a redirect would be followed
// invisibly and hand their code an HTML login page).
import type { GuardRequest } from "./types.ts";

export function isBrowserNavigation(req: GuardRequest): boolean {
  const method = req.method.toUpperCase();
  if (method !== "GET" && method !== "HEAD") return false;
  const h = (name: string): string | null => {
    try {
      return req.headers.get(name);
    } catch {
      return null;
    }
  };
  // jQuery, axios and friends mark their calls; a page load never carries it.
  if (h("x-requested-with") !== null) return false;
  // Fetch metadata, when the browser sends it, is authoritative.
  const mode = h("sec-fetch-mode");
  if (mode !== null && mode.trim().toLowerCase() !== "navigate") return false;
  const accept = h("accept");
  return (accept ?? "").toLowerCase().includes("text/html");
}
