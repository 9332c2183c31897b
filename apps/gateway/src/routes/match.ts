// Where the route rule is matched: host + normalized path + method → the one route
// that guards and serves the request (priority order was fixed at load).
import { hostMatches, hostName, matches, segmentsOf } from "./patterns.ts";
import type { CompiledRoute, RouteTable } from "./schema.ts";

export function matchRoute(
  table: RouteTable,
  hostHeader: string | undefined,
  matchPath: string,
  method: string,
): CompiledRoute | undefined {
  const segs = segmentsOf(matchPath);
  let h: string | undefined; // parsed only if some route names hosts
  for (const r of table.routes) {
    if (r.methods && !r.methods.has(method)) continue;
    if (r.hosts) {
      if (h === undefined) h = hostName(hostHeader);
      const name = h;
      if (!r.hosts.some((p) => hostMatches(p, name))) continue;
    }
    if (matches(r.pattern, segs)) return r;
  }
  return table.fallback;
}
