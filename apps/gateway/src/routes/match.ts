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
  const h = hostName(hostHeader);
  for (const r of table.routes) {
    if (r.methods && !r.methods.has(method)) continue;
    if (r.hosts && !r.hosts.some((p) => hostMatches(p, h))) continue;
    if (matches(r.pattern, segs)) return r;
  }
  return table.fallback;
}
