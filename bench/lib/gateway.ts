// The gateway as a child process of a bench: the bench stack's environment for it,
// started from a given checkout's main.ts, ready when /health/ready answers.
import { join, resolve } from "node:path";
import { internalUrls, REPO_ROOT, type StackConfig } from "../../tools/stack/index.ts";
import { httpOk, startProcess, waitReady } from "../../tools/stack/supervisor.ts";
import { profArgs } from "./harness.ts";

export const GATEWAY_MAIN = resolve(REPO_ROOT, "apps/gateway/src/main.ts");

export interface GatewayProc {
  pid: number;
  url: string;
}

/**
 * Starts a gateway serving `routes` (a routes file) on `port`, in front of the
 * auth-service at `authUrl`, trusting only 127.0.0.1, LOG_LEVEL=info (the production
 * default); `env` overrides. `name` names its log and its CPU profile.
 */
export async function startGateway(
  cfg: StackConfig,
  o: { name: string; port: number; routes: string; authUrl: string; main?: string; env?: Record<string, string> },
): Promise<GatewayProc> {
  const log = join(cfg.logDir, `${o.name}.log`);
  const urls = internalUrls(cfg);
  const pid = startProcess({
    name: o.name,
    command: process.execPath,
    args: [...profArgs(o.name), o.main ?? GATEWAY_MAIN],
    log,
    env: {
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_PORT: String(o.port),
      ROUTES_FILE: o.routes,
      AUTH_SERVICE_URL: o.authUrl,
      TOKEN_ISSUER: o.authUrl,
      KRATOS_PUBLIC_URL: urls.kratosPublic,
      REDIS_URL: urls.redis,
      TRUSTED_PROXIES: "127.0.0.1",
      // The benches' /decisions requests are nginx auth_request's (gateway-requests.ts).
      FORWARD_AUTH_PROXY: "nginx",
      LOG_LEVEL: "info",
      ...o.env,
    },
  });
  const url = `http://127.0.0.1:${o.port}`;
  await waitReady(o.name, pid, log, () => httpOk(`${url}/health/ready`), 60_000);
  return { pid, url };
}
