// Where an app's Redis is, read from its environment once, at start-up. Three shapes,
// exactly one of them set:
//   REDIS_URL                                   one server (redis:// or rediss://)
//   REDIS_SENTINELS + REDIS_SENTINEL_NAME       a primary and replicas watched by Sentinel
//   REDIS_CLUSTER_NODES                         a Redis Cluster (some or all of its nodes)
// With Sentinel or Cluster the data nodes' credentials are REDIS_USERNAME and
// REDIS_PASSWORD (with REDIS_URL they belong in the URL), and Sentinel's own password,
// if it has one, REDIS_SENTINEL_PASSWORD. An empty variable counts as unset (a Helm
// template renders absent values that way). Every mistake is reported with the name of
// the variable to fix.

/** Every variable read here: what a tool that starts apps on a Redis of its own clears. */
export const REDIS_VARIABLES = [
  "REDIS_URL",
  "REDIS_SENTINELS",
  "REDIS_SENTINEL_NAME",
  "REDIS_SENTINEL_PASSWORD",
  "REDIS_CLUSTER_NODES",
  "REDIS_USERNAME",
  "REDIS_PASSWORD",
] as const;

export interface HostPort {
  host: string;
  port: number;
}

export type RedisTarget =
  | { mode: "standalone"; url: string }
  | {
      mode: "sentinel";
      sentinels: HostPort[];
      /** The primary's name in Sentinel's configuration (`sentinel monitor <name> …`). */
      name: string;
      sentinelPassword?: string;
      username?: string;
      password?: string;
    }
  | { mode: "cluster"; nodes: HostPort[]; username?: string; password?: string };

export interface RedisConfigIssue {
  variable: string;
  message: string;
}

export type RedisConfigResult = { target: RedisTarget | undefined; issues: [] } | { issues: RedisConfigIssue[] };

const DEFAULT_PORT = { REDIS_SENTINELS: 26_379, REDIS_CLUSTER_NODES: 6_379 } as const;

/** "host:port", "host" (default port) or "[v6]:port"; undefined when it is none of these. */
function parseHostPort(raw: string, defaultPort: number): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(raw);
  if (!m) return undefined;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: m[1] ?? m[2] ?? "", port };
}

function parseNodes(variable: keyof typeof DEFAULT_PORT, raw: string, issues: RedisConfigIssue[]): HostPort[] {
  const items = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) issues.push({ variable, message: "lists no host:port" });
  const nodes: HostPort[] = [];
  for (const item of items) {
    const hp = parseHostPort(item, DEFAULT_PORT[variable]);
    if (hp) nodes.push(hp);
    else
      issues.push({ variable, message: `"${item}" is not host:port (e.g. redis-0.redis:${DEFAULT_PORT[variable]})` });
  }
  return nodes;
}

/**
 * Reads the Redis variables of `env`. `required`: an app that cannot run without Redis
 * (the auth-service) gets an issue when none is set; the others get `target: undefined`.
 */
export function readRedisConfig(env: NodeJS.ProcessEnv, opts: { required: boolean }): RedisConfigResult {
  const get = (k: string) => {
    const v = env[k];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const url = get("REDIS_URL");
  const sentinels = get("REDIS_SENTINELS");
  const clusterNodes = get("REDIS_CLUSTER_NODES");
  const name = get("REDIS_SENTINEL_NAME");
  const sentinelPassword = get("REDIS_SENTINEL_PASSWORD");
  const username = get("REDIS_USERNAME");
  const password = get("REDIS_PASSWORD");
  const issues: RedisConfigIssue[] = [];
  const set = [url && "REDIS_URL", sentinels && "REDIS_SENTINELS", clusterNodes && "REDIS_CLUSTER_NODES"].filter(
    (v): v is string => typeof v === "string",
  );
  if (set.length > 1) {
    return { issues: [{ variable: set[1] ?? "", message: `set only one of ${set.join(", ")}` }] };
  }
  if (!sentinels) {
    if (name) issues.push({ variable: "REDIS_SENTINEL_NAME", message: "only with REDIS_SENTINELS" });
    if (sentinelPassword) issues.push({ variable: "REDIS_SENTINEL_PASSWORD", message: "only with REDIS_SENTINELS" });
  }
  if (url) {
    for (const [v, value] of [
      ["REDIS_USERNAME", username],
      ["REDIS_PASSWORD", password],
    ] as const) {
      if (value)
        issues.push({ variable: v, message: "with REDIS_URL, put it in the URL (redis://user:password@host)" });
    }
    if (!/^rediss?:\/\/[^/]/.test(url) || !URL.canParse(url))
      issues.push({ variable: "REDIS_URL", message: "must be a redis:// URL" });
    return issues.length ? { issues } : { target: { mode: "standalone", url }, issues: [] };
  }
  const auth = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
  if (sentinels) {
    const list = parseNodes("REDIS_SENTINELS", sentinels, issues);
    if (!name) issues.push({ variable: "REDIS_SENTINEL_NAME", message: "required with REDIS_SENTINELS" });
    if (issues.length) return { issues };
    const target: RedisTarget = {
      mode: "sentinel",
      sentinels: list,
      name: name ?? "",
      ...(sentinelPassword ? { sentinelPassword } : {}),
      ...auth,
    };
    return { target, issues: [] };
  }
  if (clusterNodes) {
    const nodes = parseNodes("REDIS_CLUSTER_NODES", clusterNodes, issues);
    return issues.length ? { issues } : { target: { mode: "cluster", nodes, ...auth }, issues: [] };
  }
  for (const [v, value] of [
    ["REDIS_USERNAME", username],
    ["REDIS_PASSWORD", password],
  ] as const) {
    if (value) issues.push({ variable: v, message: "only with REDIS_SENTINELS or REDIS_CLUSTER_NODES" });
  }
  if (opts.required)
    issues.push({
      variable: "REDIS_URL",
      message: "required (or REDIS_SENTINELS with REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES)",
    });
  return issues.length ? { issues } : { target: undefined, issues: [] };
}

/** Where it connects, for logs and /health: never a password. */
export function describeRedis(target: RedisTarget): string {
  const list = (nodes: HostPort[]) =>
    nodes.map((n) => (n.host.includes(":") ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(",");
  switch (target.mode) {
    case "standalone": {
      const u = new URL(target.url);
      return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
    }
    case "sentinel":
      return `sentinel ${target.name} via ${list(target.sentinels)}`;
    case "cluster":
      return `cluster via ${list(target.nodes)}`;
  }
}
