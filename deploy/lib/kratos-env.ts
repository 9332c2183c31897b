// Kratos' environment overrides (SERVE_PUBLIC_BASE_URL, …_HOOKS_0_CONFIG_URL) name
// config paths with "_" both between and inside keys. Resolve one against a config to
// the path it overrides, so an env var can be matched with the key a values file sets.
type Node = unknown;

/** The config path an env var overrides (keys and array indexes), or undefined if none exists in `config`. */
export function envToConfigPath(config: Node, envName: string): (string | number)[] | undefined {
  const segs = envName.toLowerCase().split("_");
  const walk = (node: Node, i: number): (string | number)[] | undefined => {
    if (i === segs.length) return [];
    if (Array.isArray(node)) {
      const idx = Number(segs[i]);
      if (!Number.isInteger(idx) || idx >= node.length) return undefined;
      const rest = walk(node[idx], i + 1);
      return rest && [idx, ...rest];
    }
    if (!node || typeof node !== "object") return undefined;
    // Longest key first: base_url before base.
    for (let j = segs.length; j > i; j--) {
      const key = segs.slice(i, j).join("_");
      if (Object.hasOwn(node, key)) {
        const rest = walk((node as Record<string, Node>)[key], j);
        if (rest) return [key, ...rest];
      }
    }
    return undefined;
  };
  return walk(config, 0);
}

export function getPath(config: Node, path: (string | number)[]): Node {
  let n = config;
  for (const p of path) n = (n as Record<string | number, Node> | undefined)?.[p];
  return n;
}

/**
 * Kratos' `tracing` config (ory/x otelx, provider otel) that sends its spans to an OTLP/HTTP
 * collector: otelx takes host:port and a plain-text switch, and always posts to /v1/traces.
 * It follows a traced caller's sampling decision and keeps `samplingRatio` of the rest.
 * The local stack (as TRACING_* variables) and the Kratos values of each environment use it.
 */
export function kratosTracingConfig(otlpEndpoint: string, samplingRatio: number) {
  const u = new URL(otlpEndpoint);
  if (u.pathname !== "/" || u.search !== "") {
    throw new Error(`${otlpEndpoint}: Kratos posts to <host:port>/v1/traces; name the collector's base URL, no path`);
  }
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  return {
    provider: "otel",
    service_name: "kratos",
    providers: {
      otlp: {
        server_url: `${u.hostname}:${port}`,
        insecure: u.protocol === "http:",
        sampling: { sampling_ratio: samplingRatio },
      },
    },
  };
}

/** A config subtree as the environment variables Kratos reads for it (tracing → TRACING_PROVIDER, …). */
export function configToEnv(prefix: string, node: unknown): Record<string, string> {
  if (node === null || typeof node !== "object") return { [prefix.toUpperCase()]: String(node) };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(node)) Object.assign(out, configToEnv(`${prefix}_${k}`, v));
  return out;
}
