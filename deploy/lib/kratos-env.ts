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
