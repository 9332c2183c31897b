// The auth-service as a child process of a bench, on the bench stack's auth ports.
import { join, resolve } from "node:path";
import { REPO_ROOT, type StackConfig } from "../../tools/stack/index.ts";
import { authServiceEnv } from "../../tools/stack/services.ts";
import { httpOk, startProcess, waitReady } from "../../tools/stack/supervisor.ts";
import { profArgs } from "./harness.ts";

export interface AuthProc {
  pid: number;
  url: string;
  admin: string;
}

export const AUTH_MAIN = resolve(REPO_ROOT, "apps/auth-service/src/main.ts");

/**
 * Starts the auth-service with the stack's usual environment plus
 * RATE_LIMIT_PER_MINUTE=1000000 (one client sends everything) and LOG_LEVEL=info
 * (the production default), then `extra`; waits for /health/ready.
 */
export async function startAuth(
  cfg: StackConfig,
  extra: Record<string, string>,
  logName: string,
  opts: { main?: string; portOffset?: number; cpuProf?: boolean } = {},
): Promise<AuthProc> {
  const off = opts.portOffset ?? 0;
  const publicPort = cfg.ports.authPublic + off;
  const adminPort = cfg.ports.authAdmin + off;
  const log = join(cfg.logDir, logName);
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the auth-service there (on exit),
  // named after its log (auth.cpuprofile, auth-es256.cpuprofile, …).
  const prof = (opts.cpuProf ?? true) ? profArgs(logName.replace(/\.log$/, "")) : [];
  const pid = startProcess({
    name: "auth",
    command: process.execPath,
    args: [...prof, opts.main ?? AUTH_MAIN],
    env: {
      ...authServiceEnv(cfg, {}),
      AUTH_PUBLIC_PORT: String(publicPort),
      AUTH_ADMIN_PORT: String(adminPort),
      // One client (the load generator) sends everything: the per-IP limit would
      // otherwise answer 429 after 600 requests.
      RATE_LIMIT_PER_MINUTE: "1000000",
      LOG_LEVEL: "info", // production default: one access-log line per request, to a file
      ...extra,
    },
    log,
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  await waitReady("auth-service", pid, log, () => httpOk(`${admin}/health/ready`), 60_000);
  return { pid, url: `http://127.0.0.1:${publicPort}`, admin };
}

/** A Gatehouse access token for a Kratos session token, from the auth-service's POST /v1/token. */
export async function accessToken(authUrl: string, sessionToken: string): Promise<string> {
  const r = await fetch(`${authUrl}/v1/token`, {
    method: "POST",
    headers: { "x-session-token": sessionToken, "content-type": "application/json" },
    body: "{}",
  });
  const body = (await r.json()) as { access_token?: string };
  if (r.status !== 200 || !body.access_token) throw new Error(`POST /v1/token answered ${r.status}`);
  return body.access_token;
}
