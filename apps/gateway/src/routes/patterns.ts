// Path globs for routes: "*" is one segment, "**" any number (including none).
// Matching is on the normalized path, case-insensitively.

export type Pattern = readonly string[];

export function parsePattern(glob: string): Pattern {
  if (!glob.startsWith("/")) throw new Error(`path pattern must start with "/": ${glob}`);
  const segs = glob.toLowerCase().split("/").slice(1);
  if (segs.length > 1 && segs[segs.length - 1] === "") segs.pop();
  for (const s of segs) {
    if (s.includes("*") && s !== "*" && s !== "**") throw new Error(`"*" and "**" must be whole segments: ${glob}`);
    if (s === "." || s === "..") throw new Error(`dot segments are not allowed in patterns: ${glob}`);
  }
  return segs;
}

export function segmentsOf(matchPath: string): string[] {
  const segs = matchPath.split("/").slice(1);
  if (segs.length > 1 && segs[segs.length - 1] === "") segs.pop();
  return segs;
}

export function matches(p: Pattern, segs: readonly string[], i = 0, j = 0): boolean {
  for (;;) {
    if (i === p.length) return j === segs.length || (j === segs.length - 1 && segs[j] === "");
    const ps = p[i];
    if (ps === "**") {
      if (i === p.length - 1) return true;
      for (let k = j; k <= segs.length; k++) if (matches(p, segs, i + 1, k)) return true;
      return false;
    }
    if (j === segs.length) return false;
    if (ps !== "*" && ps !== segs[j]) return false;
    i++;
    j++;
  }
}

/** Can some path match both patterns? Used to find overlapping routes at load time. */
export function intersects(a: Pattern, b: Pattern): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === a.length && j === b.length) r = true;
    else if (a[i] === "**") r = go(i + 1, j) || (j < b.length && go(i, j + 1));
    else if (b[j] === "**") r = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else if (i === a.length || j === b.length) r = false;
    else r = (a[i] === "*" || b[j] === "*" || a[i] === b[j]) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/** Host patterns: exact, or "*.example.com" for any subdomain (not the apex). Undefined = any host. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

export function hostsIntersect(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || !b) return true;
  const wild = (h: string) => h.startsWith("*.");
  const pair = (x: string, y: string): boolean => {
    if (x === y) return true;
    if (wild(x) && !wild(y)) return hostMatches(x, y);
    if (wild(y) && !wild(x)) return hostMatches(y, x);
    if (wild(x) && wild(y)) return x.endsWith(y.slice(1)) || y.endsWith(x.slice(1));
    return false;
  };
  return a.some((x) => b.some((y) => pair(x, y)));
}

/** The Host header without its port, lower-cased; routes match on names, not ports. */
export function hostName(hostHeader: string | undefined): string {
  if (!hostHeader) return "";
  const h = hostHeader.toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const c = h.lastIndexOf(":");
  return c === -1 ? h : h.slice(0, c);
}
