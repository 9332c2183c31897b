// docker-compose.yml and the Dockerfiles. No Docker engine runs here, so compose is
// validated by compose-go's own loader (the one `docker compose config` uses, built by
// scripts/build-deploy-checks.sh), plus `docker compose config` when the client has
// the compose plugin; and it is held to the Helm values: same images, ports, env and
// hardening, so a laptop runs what the cluster runs.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { webConfig } from "../../apps/example-web/lib/config.ts";
import { KRATOS_PATHS } from "../../apps/gateway/src/kratos/passthrough.ts";
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
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: Obj;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  volumes?: { source: string; target: string; read_only?: boolean }[];
  tmpfs?: string[];
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
        "web",
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
    // Kratos listens on the chart's ports but publishes none (the next test).
    expect((svc("kratos").expose ?? []).map(Number).sort()).toEqual([
      kv.kratos.config.serve.public.port,
      kv.kratos.config.serve.admin.port,
    ]);
    for (const [name, s] of Object.entries(compose.services))
      for (const p of s.ports ?? []) expect(p.host_ip, `${name}:${p.target}`).toBe("127.0.0.1");
  });

  it("publishes no Kratos port: browsers reach its public API through the gateway, services call kratos:4433", () => {
    const k = svc("kratos");
    const gw = svc("gateway");
    // As in the cluster (no Ingress for Kratos, its admin API never public): nothing on the host.
    expect(k.ports ?? []).toEqual([]);
    // Kratos' base URL, where its flows' form actions point, is the gateway's published origin.
    const gwPort = must(
      gw.ports?.find((p) => p.target === Number(gw.environment?.GATEWAY_PORT)),
      "gateway port",
    );
    expect(k.environment?.SERVE_PUBLIC_BASE_URL).toBe(`http://localhost:${gwPort.published}/`);
    // The gateway passes Kratos' public paths to Kratos' public port; the services call it (and admin) by name.
    const [publicPort, adminPort] = (k.expose ?? []).map(Number).sort();
    expect(gw.environment?.KRATOS_PUBLIC_URL).toBe(`http://kratos:${publicPort}`);
    expect(
      KRATOS_PATHS.test(new URL("/self-service/login/browser", k.environment?.SERVE_PUBLIC_BASE_URL).pathname),
    ).toBe(true);
    expect(svc("auth-service").environment?.KRATOS_PUBLIC_URL).toBe(`http://kratos:${publicPort}`);
    expect(svc("auth-service").environment?.KRATOS_ADMIN_URL).toBe(`http://kratos:${adminPort}`);
    expect(svc("web").environment?.KRATOS_PUBLIC_URL).toBe(`http://kratos:${publicPort}`);
    // Nothing hands a browser a Kratos URL other than the gateway's.
    for (const [name, s] of Object.entries(compose.services))
      for (const [key, value] of Object.entries(s.environment ?? {}))
        expect(String(value), `${name} ${key}`).not.toMatch(/localhost:7433|localhost:7434|127\.0\.0\.1:743[34]/);
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
    for (const n of ["auth-migrate", "auth-service", "gateway", "example-api", "web"]) {
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

  it("wires the web app to Kratos, the auth-service and the gateway as the other services are", () => {
    const web = svc("web");
    const env = web.environment ?? {};
    const auth = svc("auth-service").environment ?? {};
    const gw = svc("gateway").environment ?? {};
    const kratos = svc("kratos").environment ?? {};
    const published = (s: Service, target: string | undefined) =>
      s.ports?.find((p) => p.target === Number(target))?.published;
    // The app's own parser accepts it (a bad URL stops the server at start).
    const c = webConfig(env);
    // Both listeners on all interfaces, published; browsers use localhost like `pnpm stack up`.
    expect(env.WEB_HOST).toBe("0.0.0.0");
    expect((web.ports ?? []).map((p) => p.target).sort()).toEqual(
      [Number(env.WEB_PORT), Number(env.MARKETING_PORT)].sort(),
    );
    expect(c.webUrl).toBe(`http://localhost:${published(web, env.WEB_PORT)}`);
    expect(c.marketingUrl).toBe(`http://localhost:${published(web, env.MARKETING_PORT)}`);
    // Server to server: service names and container ports, as the gateway calls them.
    expect(c.authServiceUrl).toBe(gw.AUTH_SERVICE_URL);
    expect(c.authServiceUrl).toBe(`http://auth-service:${auth.AUTH_PUBLIC_PORT}`);
    expect(c.kratosUrl).toBe(auth.KRATOS_PUBLIC_URL);
    expect(c.gatewayInternalUrl).toBe(`http://gateway:${gw.GATEWAY_PORT}`);
    // For the browser: Kratos' own base URL (flow actions are mapped back to kratosUrl), which
    // is the gateway's origin: the browser reaches Kratos through the gateway only.
    expect(`${c.kratosBrowserUrl}/`).toBe(kratos.SERVE_PUBLIC_BASE_URL);
    expect(c.kratosBrowserUrl).toBe(c.gatewayUrl);
    expect(c.gatewayUrl).toBe(`http://localhost:${published(svc("gateway"), gw.GATEWAY_PORT)}`);
    // It verifies the auth-service's tokens and reads Kratos' cookie (host-only on localhost).
    expect(c.issuer).toBe(auth.TOKEN_ISSUER);
    expect(c.audience).toBe(auth.TOKEN_AUDIENCE);
    expect(c.cookieName).toBe(auth.KRATOS_COOKIE_NAME);
    expect(c.cookieDomain).toBe("");
    // …and the others send browsers to it: Kratos' UI URLs, return URLs and CORS, the gateway's login.
    const kratosYml = parse(readFileSync(resolve(REPO_ROOT, "kratos-config/kratos.yml"), "utf8")) as {
      selfservice: { flows: Record<string, { ui_url?: string }> };
    };
    const uiFlows = Object.entries(kratosYml.selfservice.flows).filter(([, f]) => f.ui_url);
    expect(uiFlows.length).toBeGreaterThan(0);
    for (const [flow, f] of uiFlows) expect(f.ui_url, flow).toBe(`${c.webUrl}/auth/${flow}`);
    for (const origin of [c.webUrl, c.marketingUrl]) {
      expect(kratos.SELFSERVICE_ALLOWED_RETURN_URLS?.split(","), origin).toContain(origin);
      expect(kratos.SERVE_PUBLIC_CORS_ALLOWED_ORIGINS?.split(","), origin).toContain(origin);
      expect(auth.CORS_ALLOWED_ORIGINS?.split(","), origin).toContain(origin);
      expect(svc("example-api").environment?.CORS_ALLOWED_ORIGINS?.split(","), origin).toContain(origin);
    }
    expect(gw.LOGIN_URL).toBe(`${c.webUrl}/auth/login`);
    expect(gw.ALLOWED_RETURN_HOSTS?.split(",")).toContain(new URL(c.webUrl).hostname);
    expect(web.depends_on?.["auth-service"]?.condition).toBe("service_healthy");
    expect(web.depends_on?.gateway?.condition).toBe("service_healthy");
  });

  it("gives Next's run-time cache a tmpfs where the web image links it; nothing else is writable", () => {
    const web = svc("web");
    expect(web.read_only).toBe(true);
    // The build lives in .next/b-<source hash>/; the image links its cache/ to one fixed directory.
    const df = readFileSync(resolve(REPO_ROOT, "apps/example-web/Dockerfile"), "utf8");
    expect(df).toMatch(/^WORKDIR \/app$/m);
    expect(df).toContain("mkdir apps/example-web/.next/cache");
    expect(df).toContain('ln -s ../cache "apps/example-web/.next/b-$hash/cache"');
    expect(df).toMatch(/^RUN chown 10001:10001 apps\/example-web\/\.next\/cache$/m);
    expect([...(web.tmpfs ?? [])].sort()).toEqual(["/app/apps/example-web/.next/cache", "/tmp"]);
  });
});

describe("Dockerfiles", () => {
  const nodeVersion = readFileSync(resolve(REPO_ROOT, ".nvmrc"), "utf8").trim();
  const pnpmVersion = (
    JSON.parse(readFileSync(resolve(REPO_ROOT, "package.json"), "utf8")) as { packageManager: string }
  ).packageManager;
  // service: the compose service that runs the image; health: the variables of the ports
  // its HEALTHCHECK asks, and the path; main: what `node` runs.
  const apps: Record<string, { service: string; health: [string[], string]; main: string }> = {
    "auth-service": { service: "auth-service", health: [["AUTH_ADMIN_PORT"], "/health/alive"], main: "src/main.ts" },
    gateway: { service: "gateway", health: [["GATEWAY_PORT"], "/health/alive"], main: "src/main.ts" },
    "example-api": { service: "example-api", health: [["API_PORT"], "/health/alive"], main: "src/main.ts" },
    // One Next.js process with two listeners (app, marketing): the check asks both.
    "example-web": { service: "web", health: [["WEB_PORT", "MARKETING_PORT"], "/healthz"], main: "server.ts" },
  };

  for (const [app, { service, health, main }] of Object.entries(apps)) {
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
      const [portVars, path] = health;
      const check = must(/^HEALTHCHECK .*\\\n.*$/m.exec(runtime)?.[0], "HEALTHCHECK");
      for (const v of portVars) expect(check).toContain(`process.env.${v}`);
      expect(check).toContain(`${path}'`);
      expect(runtime).toContain(`CMD ["apps/${app}/${main}"]`);
      expect(existsSync(resolve(REPO_ROOT, `apps/${app}/${main}`))).toBe(true);
      // The compose service runs this Dockerfile, named like the others, on the ports it exposes.
      const s = svc(service);
      expect(s.build?.dockerfile).toBe(`apps/${app}/Dockerfile`);
      expect(s.image).toMatch(new RegExp(`^ghcr\\.io/gatehouse/gatehouse-${app}:`));
      expect(s.image.split(":").pop()).toBe(svc("auth-service").image.split(":").pop());
      const exposed = must(/^EXPOSE (.+)$/m.exec(runtime)?.[1], "EXPOSE")
        .split(/\s+/)
        .map(Number);
      expect((s.ports ?? []).map((p) => p.target).sort()).toEqual(exposed.sort());
    });
  }

  it("example-web: `next build` with the development dependencies, and the runtime gets the build its sources hash to", () => {
    const df = readFileSync(resolve(REPO_ROOT, "apps/example-web/Dockerfile"), "utf8");
    const stages = df.split(/^(?=FROM )/m).slice(1);
    const stage = (name: string) =>
      must(
        stages.find((s) => s.split("\n", 1)[0]?.endsWith(` AS ${name}`)),
        name,
      );
    const [build, deps, runtime] = [stage("build"), stage("deps"), stage("runtime")];
    expect(stages.at(-1)).toBe(runtime);
    // next build needs typescript and the @types (devDependencies); it runs the same cached build script as the stack.
    expect(build).toContain('pnpm install --frozen-lockfile --filter "@gatehouse/example-web..."');
    expect(build).not.toContain("--prod");
    expect(build).toMatch(/^RUN node apps\/example-web\/scripts\/build\.ts /m);
    expect(build).toContain("rm -rf apps/example-web/.next/b-*/cache");
    // The production install takes the build, and refuses to make an image whose server
    // would rebuild at start: its own source hash must name a finished build.
    expect(deps).toContain('pnpm install --frozen-lockfile --prod --filter "@gatehouse/example-web..."');
    expect(deps).toMatch(/^COPY --from=build \/app\/apps\/example-web\/\.next \.\/apps\/example-web\/\.next$/m);
    expect(deps).toContain('hash="$(node apps/example-web/scripts/build.ts --hash)"');
    expect(deps).toContain('"apps/example-web/.next/b-$hash/GATEHOUSE_BUILD_COMPLETE"');
    const script = readFileSync(resolve(REPO_ROOT, "apps/example-web/scripts/build.ts"), "utf8");
    expect(script).toContain('"GATEHOUSE_BUILD_COMPLETE"');
    expect(script).toContain('process.argv.includes("--hash")');
    // Next loads next.config.ts with typescript at run time too: the lockfile's copy, from the build.
    if (existsSync(resolve(REPO_ROOT, "apps/example-web/next.config.ts"))) {
      expect(build).toContain("cp -RL node_modules/typescript /opt/typescript");
      expect(deps).toMatch(/^COPY --from=build \/opt\/typescript \.\/node_modules\/typescript$/m);
    }
    // The runtime copies the result (repository layout, as the other images) and builds nothing.
    for (const from of runtime.match(/^COPY --from=\S+/gm) ?? []) expect(from).toBe("COPY --from=deps");
    expect(runtime).toMatch(/^COPY --from=deps \/app\/node_modules \.\/node_modules$/m);
    expect(runtime).not.toContain("scripts/build.ts");
  });

  it(".dockerignore keeps local installs, data, secrets and VCS metadata out of the build context", () => {
    const ignore = readFileSync(resolve(REPO_ROOT, ".dockerignore"), "utf8").split("\n");
    for (const p of ["**/node_modules", ".git", ".stack", ".env", ".env.*"]) expect(ignore).toContain(p);
    // Local Next.js builds either: the web image builds its own from the sources.
    expect(ignore).toContain("**/.next");
    // …but not what the image needs.
    for (const p of ["packages", "apps", "pnpm-lock.yaml", "package.json", "pnpm-workspace.yaml"])
      expect(ignore).not.toContain(p);
  });
});
