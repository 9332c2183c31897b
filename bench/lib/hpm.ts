// http-proxy-middleware for the bench's servers, resolved from the guard package
// (the root has no dependency on it; the guard and the gateway use the same
// version). Typed here by the little the bench uses.

import { readFileSync } from "node:fs";
import type { Agent, IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

export type ProxyMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => Promise<void> | void;

export interface ProxyMiddlewareOptions {
  target: string;
  agent: Agent;
  xfwd?: boolean;
  changeOrigin?: boolean;
}

const require = createRequire(new URL("../../packages/guard/package.json", import.meta.url));

export async function loadProxyMiddleware(): Promise<(options: ProxyMiddlewareOptions) => ProxyMiddleware> {
  const mod = (await import(pathToFileURL(require.resolve("http-proxy-middleware")).href)) as {
    createProxyMiddleware: (options: ProxyMiddlewareOptions) => ProxyMiddleware;
  };
  return mod.createProxyMiddleware;
}

/** The version of http-proxy-middleware in use. */
export function hpmVersion(): string {
  // Its package.json is not in its "exports": read it next to dist/.
  const pkg = join(dirname(require.resolve("http-proxy-middleware")), "../package.json");
  return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
}
