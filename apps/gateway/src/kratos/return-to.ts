// Every `return_to` on its way to Kratos is checked by the guard's validator first.
// Kratos reads "http:\\evil.example" (or "http:\/evil.example") as an opaque URL
// with an empty host, fills in its own host, passes its allowlist, and then
// redirects the browser to a Location browsers read as evil.example. An unsafe,
// unparsable or repeated `return_to` is dropped (Kratos falls back to its default
// return URL); a safe one is replaced by its normalized absolute form, so Kratos
// receives exactly the URL that was checked.
import { type AllowedHost, safeReturnTo } from "@gatehouse/guard";

const PARAM = "return_to";

/** The query string (with its "?", or "") as Kratos should see it. */
export function checkedReturnTo(query: string, allowed: readonly AllowedHost[], base: string | undefined): string {
  // Most requests carry none; a key may be percent-encoded ("return%5Fto"), so look closer at any "%".
  if (query === "" || (!query.includes(PARAM) && !query.includes("%"))) return query;
  const params = new URLSearchParams(query.slice(1));
  const values = params.getAll(PARAM);
  if (values.length === 0) return query;
  params.delete(PARAM);
  const safe = values.length === 1 ? safeReturnTo(values[0], allowed, base) : undefined;
  if (safe !== undefined) params.set(PARAM, safe);
  const rest = params.toString();
  return rest === "" ? "" : `?${rest}`;
}
