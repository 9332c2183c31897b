// docker-compose.yml and the Dockerfiles. No Docker engine runs here, so compose is
// validated by compose-go's own loader (the one `docker compose config` uses, built by
// scripts/build-deploy-checks.sh), plus `docker compose config` when the client has
// the compose plugin; and it is held to the Helm values: same images, ports, env and
// hardening, so a laptop runs what the cluster runs.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { compileRoutes } from "../../apps/gateway/src/routes/schema.ts";
import { environmentNames, kratosValuesFile, loadEnvironment } from "../../deploy/lib/environments.ts";
import { envToConfigPath, getPath } from "../../deploy/lib/kratos-env.ts";
import { containersOf, podSpecOf } from "../../deploy/lib/policies.ts";
import { composeSpecBinary, find, must, REPO_ROOT, type Rendering, renderEnvironment } from "./support.ts";

type Obj = Record<string, unknown>;
type Service = {
  image: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: { target: number; published?: string; host_ip?: string }[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: Obj;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  volumes?: { source: string; target: string; read_only?: boolean }[];
  build?: { dockerfile: string };
};

const COMPOSE = resolve(REPO_ROOT, "docker-compose.yml");
let compose: { services: Record<string, Service> };
let prod: Rendering;
const svc = (n: string) => must(compose.services[n], `compose service ${n}`);

function composeSpec(file: string) {
  return spawnSync(composeSpecBinary(), ["--format", "json", file], { cwd: REPO_ROOT, encoding: "utf8" });
}

beforeAll(() => {
  const r = composeSpec(COMPOSE);
  if (r.status !== 0) throw new Error(`compose-spec rejected docker-compose.yml:\n${r.stderr}`);
  compose = JSON.parse(r.stdout);
  prod = renderEnvironment(loadEnvironment("prod"));
});

const container = (comp: string) =>
  containersOf(podSpecOf(must(find(prod, "Deployment", comp), comp)) ?? {})[0] as Obj & {
    env: Obj[];
    ports: Obj[];
    image: string;
    securityContext: Obj;
  };

describe("docker-compose.yml", () => {
  it("is a valid Compose file (compose-go's loader; docker compose config when available)", () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        "auth-migrate",
        "auth-service",
        "example-api",
        "gateway",
        "kratos",
        "kratos-migrate",
        "mailpit",
        "postgres",
        "redis",
      ].sort(),
    );
    // Not vacuous: a misspelt key is refused.
    const bad = resolve(REPO_ROOT, `.compose-typo-${process.pid}.test.yml`);
    writeFileSync(bad, readFileSync(COMPOSE, "utf8").replace("    healthcheck:", "    helthcheck:"));
    try {
      const r = composeSpec(bad);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain("helthcheck");
    } finally {
      rmSync(bad, { force: true });
    }
    const plugin = spawnSync("docker", ["compose", "version"], { encoding: "utf8" });
    if (plugin.status === 0)
      execFileSync("docker", ["compose", "-f", COMPOSE, "config", "--quiet"], { cwd: REPO_ROOT });
    // Every dependency names a service that exists.
    for (const [name, s] of Object.entries(compose.services))
      for (const dep of Object.keys(s.depends_on ?? {}))
        expect(compose.services, `${name} → ${dep}`).toHaveProperty(dep);
  });

  it("runs the images the Helm values deploy", () => {
    const repo = (image: string) => image.replace(/:[^:/]+$/, "");
    expect(repo(svc("auth-service").image)).toBe(repo(container("auth-service").image));
    expect(repo(svc("auth-migrate").image)).toBe(repo(container("auth-service").image));
    expect(repo(svc("gateway").image)).toBe(repo(container("gateway").image));
    for (const n of environmentNames()) {
      const kv = parse(readFileSync(kratosValuesFile(loadEnvironment(n)), "utf8")) as { image: Obj };
      const kratosImage = `${kv.image.repository}:${kv.image.tag}`;
      expect(svc("kratos").image).toBe(kratosImage);
      expect(svc("kratos-migrate").image).toBe(kratosImage);
    }
    expect(svc("kratos").image).toBe("oryd/kratos:v1.3.1");
    expect(svc("mailpit").image).toMatch(/^axllent\/mailpit:v\d/);
  });

  it("listens on the same container ports as the Helm chart and publishes them on loopback only", () => {
    const ports = (s: Service) => (s.ports ?? []).map((p) => p.target).sort();
    const helmPorts = (comp: string) =>
      container(comp)
        .ports.map((p) => p.containerPort as number)
        .sort();
    expect(ports(svc("auth-service"))).toEqual(helmPorts("auth-service"));
    expect(ports(svc("gateway"))).toEqual(helmPorts("gateway"));
    const kv = parse(readFileSync(kratosValuesFile(loadEnvironment("prod")), "utf8")) as {
      kratos: { config: { serve: { public: { port: number }; admin: { port: number } } } };
    };
    expect(ports(svc("kratos"))).toEqual([kv.kratos.config.serve.public.port, kv.kratos.config.serve.admin.port]);
    for (const [name, s] of Object.entries(compose.services))
      for (const p of s.ports ?? []) expect(p.host_ip, `${name}:${p.target}`).toBe("127.0.0.1");
  });

  it("sets the same variables as the Helm chart for the auth-service and the gateway", () => {
    for (const comp of ["auth-service", "gateway"]) {
      const helmEnv = container(comp)
        .env.map((e) => String(e.name))
        .filter((n) => n !== "NODE_OPTIONS")
        .sort();
      expect(Object.keys(svc(comp).environment ?? {}).sort(), comp).toEqual(helmEnv);
    }
    expect(svc("auth-service").environment?.MIGRATE_ON_START).toBe("false");
    expect(svc("auth-migrate").command).toEqual(["apps/auth-service/src/cli.ts", "migrate"]);
  });

  it("configures Kratos from kratos-config/ with overrides the Helm values also set", () => {
    const k = svc("kratos");
    expect(k.volumes?.find((v) => v.target === "/etc/config/kratos")).toMatchObject({
      source: resolve(REPO_ROOT, "kratos-config"),
      read_only: true,
    });
    expect(k.command?.slice(0, 3)).toEqual(["serve", "-c", "/etc/config/kratos/kratos.yml"]);
    expect(svc("kratos-migrate").command).toEqual(["migrate", "sql", "-e", "--yes"]);
    const values = parse(readFileSync(kratosValuesFile(loadEnvironment("prod")), "utf8")) as {
      kratos: { config: Obj };
      deployment: { extraEnv: Obj[] };
    };
    const fromSecret = new Set([
      "DSN",
      "COURIER_SMTP_CONNECTION_URI",
      ...values.deployment.extraEnv.map((e) => e.name),
    ]);
    for (const name of Object.keys(k.environment ?? {})) {
      if (fromSecret.has(name) || name === "SQA_OPT_OUT") continue;
      const path = envToConfigPath(values.kratos.config, name);
      expect(path, `${name} has no counterpart in the Helm values' kratos.config`).toBeDefined();
      expect(getPath(values.kratos.config, path ?? []), name).toBeTruthy();
    }
    expect(k.environment?.SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_AUTH_CONFIG_VALUE).toBe(
      svc("auth-service").environment?.WEBHOOK_SECRET,
    );
  });

  it("hardens the Gatehouse containers as the chart does, and orders migrations first", () => {
    const helmSc = container("auth-service").securityContext;
    for (const n of ["auth-migrate", "auth-service", "gateway", "example-api"]) {
      const s = svc(n);
      expect(s.user, n).toBe(`${helmSc.runAsUser}:${helmSc.runAsGroup}`);
      expect(s.read_only, n).toBe(true);
      expect(s.cap_drop, n).toEqual(["ALL"]);
      expect(s.security_opt, n).toContain("no-new-privileges:true");
    }
    expect(svc("auth-service").depends_on?.["auth-migrate"]?.condition).toBe("service_completed_successfully");
    expect(svc("kratos").depends_on?.["kratos-migrate"]?.condition).toBe("service_completed_successfully");
    expect(svc("gateway").depends_on?.["auth-service"]?.condition).toBe("service_healthy");
    for (const n of ["postgres", "redis"]) expect(svc(n).healthcheck, n).toBeDefined();
  });

  it("mounts a routes file the gateway accepts", () => {
    const mount = must(
      svc("gateway").volumes?.find((v) => v.target === svc("gateway").environment?.ROUTES_FILE),
      "routes mount",
    );
    expect(() => compileRoutes(parse(readFileSync(mount.source, "utf8")))).not.toThrow();
  });
});

describe("Dockerfiles", () => {
  const nodeVersion = readFileSync(resolve(REPO_ROOT, ".nvmrc"), "utf8").trim();
  const pnpmVersion = (
    JSON.parse(readFileSync(resolve(REPO_ROOT, "package.json"), "utf8")) as { packageManager: string }
  ).packageManager;
  const apps = { "auth-service": "AUTH_ADMIN_PORT", gateway: "GATEWAY_PORT", "example-api": "API_PORT" };

  for (const [app, portVar] of Object.entries(apps)) {
    it(`${app}: multi-stage, Node ${nodeVersion} slim, production dependencies only, non-root, health check`, () => {
      const df = readFileSync(resolve(REPO_ROOT, `apps/${app}/Dockerfile`), "utf8");
      const froms = df.match(/^FROM .*/gm) ?? [];
      expect(froms.length).toBeGreaterThanOrEqual(2);
      expect(df).toContain(`ARG NODE_VERSION=${nodeVersion}`);
      for (const f of froms) expect(f).toMatch(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim AS \w+$/);
      expect(df).toContain(`pnpm@${pnpmVersion.replace("pnpm@", "")}`);
      expect(df).toMatch(new RegExp(`pnpm install --frozen-lockfile --prod --filter "@gatehouse/${app}\\.\\.\\."`));
      const runtime = df.slice(df.lastIndexOf("FROM "));
      expect(runtime).not.toMatch(/^RUN .*\b(pnpm|npm)\b/m);
      expect(runtime).toMatch(/^USER 10001:10001$/m);
      expect(runtime).toMatch(new RegExp(`^HEALTHCHECK .*\\n.*process\\.env\\.${portVar}.*/health/alive`, "m"));
      expect(runtime).toContain(`CMD ["apps/${app}/src/main.ts"]`);
      // The compose service runs this Dockerfile.
      expect(svc(app).build?.dockerfile).toBe(`apps/${app}/Dockerfile`);
    });
  }

  it(".dockerignore keeps local installs, data, secrets and VCS metadata out of the build context", () => {
    const ignore = readFileSync(resolve(REPO_ROOT, ".dockerignore"), "utf8").split("\n");
    for (const p of ["**/node_modules", ".git", ".stack", ".env", ".env.*"]) expect(ignore).toContain(p);
    // …but not what the image needs.
    for (const p of ["packages", "apps", "pnpm-lock.yaml", "package.json", "pnpm-workspace.yaml"])
      expect(ignore).not.toContain(p);
  });
});
