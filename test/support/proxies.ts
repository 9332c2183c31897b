// Real nginx, Traefik and Caddy in front of the gateway's /decisions, each running the
// configuration deploy/README.md documents, read from that file (the comment line
// `<!-- forward-auth-config: NAME -->` before each block), so the docs are what runs.
// The placeholders of the docs become real addresses; a placeholder missing from a
// block fails the start, so the docs and this file cannot drift apart silently.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { portFree } from "../../tools/stack/supervisor.ts";

const README = join(import.meta.dirname, "../../deploy/README.md");
const CACHE = process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/gatehouse");
export const TRAEFIK_BIN = join(CACHE, "traefik/v3.6.12/traefik");
export const CADDY_BIN = join(CACHE, "caddy/v2.11.9/caddy");
const NGINX_MODULE = "/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so";

export type RealProxy = "nginx" | "traefik" | "caddy";

/** The fenced block deploy/README.md names `name`. */
export function documentedConfig(name: string): string {
  const md = readFileSync(README, "utf8");
  const marker = `<!-- forward-auth-config: ${name} -->`;
  const at = md.indexOf(marker);
  if (at === -1) throw new Error(`deploy/README.md has no block marked ${marker}`);
  const m = /^\s*```[a-z]*\n([\s\S]*?)\n```/.exec(md.slice(at + marker.length));
  if (!m?.[1]) throw new Error(`no fenced block after ${marker} in deploy/README.md`);
  return m[1];
}

/** Replaces each placeholder, failing when the documented block no longer has it. */
function fill(name: string, text: string, values: Record<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(values)) {
    if (!out.includes(from)) throw new Error(`deploy/README.md block ${name} no longer contains ${from}`);
    out = out.replaceAll(from, to);
  }
  return out;
}

const claimed = new Set<number>();
/** A free port above the test stacks' blocks (17400–27400) and below the ephemeral range (32768+). */
async function freePort(): Promise<number> {
  for (let p = 28_000 + ((process.pid * 7) % 2_000); p < 32_000; p++) {
    if (claimed.has(p)) continue;
    if (await portFree(p)) {
      claimed.add(p);
      return p;
    }
  }
  throw new Error("no free port for a proxy");
}

export interface Running {
  port: number;
  stop(): Promise<void>;
  /** What the proxy wrote to stdout/stderr, for failure messages. */
  output(): string;
}

async function run(what: string, cmd: string, args: string[], port: number, dir: string): Promise<Running> {
  let out = "";
  const child: ChildProcess = spawn(cmd, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  child.stderr?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  for (let i = 0; i < 300 && (await portFree(port)); i++) {
    if (exited) throw new Error(`${what} exited at start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (await portFree(port)) throw new Error(`${what} did not listen on ${port}:\n${out}`);
  return {
    port,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/**
 * Starts `proxy` with its documented configuration in front of the gateway at
 * `gatewayPort` and a backend at `backendPort`.
 */
export async function startProxy(proxy: RealProxy, gatewayPort: number, backendPort: number): Promise<Running> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `${proxy}-`));
  const places = {
    "gatehouse-gateway.gatehouse-auth.svc:80": `127.0.0.1:${gatewayPort}`,
    "backend.example-apps.svc:80": `127.0.0.1:${backendPort}`,
  };
  if (proxy === "nginx") {
    const http = fill("nginx", documentedConfig("nginx"), {
      ...places,
      "listen 8080;": `listen 127.0.0.1:${port};`,
    });
    writeFileSync(
      join(dir, "nginx.conf"),
      `load_module ${NGINX_MODULE};
daemon off;
master_process off;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
${http}
}
`,
    );
    if (!existsSync(NGINX_MODULE))
      throw new Error(
        `${NGINX_MODULE} is missing: scripts/bootstrap.sh installs libnginx-mod-http-headers-more-filter`,
      );
    const r = await run("nginx", "nginx", ["-p", dir, "-c", join(dir, "nginx.conf")], port, dir);
    const out = r.output;
    return { ...r, output: () => `${out()}${readIf(join(dir, "error.log"))}` };
  }
  if (proxy === "traefik") {
    if (!existsSync(TRAEFIK_BIN)) throw new Error(`${TRAEFIK_BIN} is missing: run scripts/build-traefik.sh`);
    const dynamic = fill("traefik-dynamic", documentedConfig("traefik-dynamic"), places);
    writeFileSync(join(dir, "dynamic.yml"), dynamic);
    const entry = fill("traefik-static", documentedConfig("traefik-static"), {
      'address: ":8080"': `address: "127.0.0.1:${port}"`,
    });
    // What the docs leave to the operator: where the dynamic file is, no calls home, logs.
    writeFileSync(
      join(dir, "traefik.yml"),
      `${entry}
providers:
  file: { filename: ${join(dir, "dynamic.yml")} }
global: { checkNewVersion: false, sendAnonymousUsage: false }
log: { level: WARN }
`,
    );
    return run("traefik", TRAEFIK_BIN, [`--configFile=${join(dir, "traefik.yml")}`], port, dir).then(async (r) => {
      await traefikRouterReady(port);
      return r;
    });
  }
  if (!existsSync(CADDY_BIN)) throw new Error(`${CADDY_BIN} is missing: run scripts/build-caddy.sh`);
  const caddyfile = fill("caddy", documentedConfig("caddy"), { ...places, ":8080 {": `http://:${port} {` });
  // No admin endpoint, no certificates or calls home: a test instance only.
  writeFileSync(
    join(dir, "Caddyfile"),
    `{\n\tadmin off\n\tpersist_config off\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n}\n\n${caddyfile}\n`,
  );
  return run("caddy", CADDY_BIN, ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], port, dir);
}

const readIf = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");

/** Traefik listens before the file provider's routers are in place: wait until a request is routed. */
async function traefikRouterReady(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/public/traefik-ready`, {
        headers: { accept: "application/json" },
      });
      await r.arrayBuffer();
      if (r.status !== 404) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("Traefik never routed a request (dynamic configuration not loaded)");
}
