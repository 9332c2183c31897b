// The Gatehouse Helm chart (deploy/helm/gatehouse), as CI checks it: helm lint and
// helm template with the default values, the prod profile and every environment;
// every rendered manifest validated offline against Kubernetes' own OpenAPI schemas
// (oldest and newest supported Kubernetes) and the ServiceMonitor CRD; the policies a
// platform team enforces; and what the apps themselves accept (env, routes file).
// Needs helm (scripts/build-helm.sh) and the schemas (scripts/build-deploy-checks.sh):
// without them it fails, naming the script.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig as loadAuthConfig } from "../../apps/auth-service/src/config.ts";
import { loadConfig as loadGatewayConfig } from "../../apps/gateway/src/config.ts";
import { compileRoutes } from "../../apps/gateway/src/routes/schema.ts";
import { environmentNames, GATEHOUSE_CHART, loadEnvironment } from "../../deploy/lib/environments.ts";
import { K8S_VERSIONS, k8sValidator, missingSchemas } from "../../deploy/lib/k8s-schemas.ts";
import { allows, type Pod, podOf } from "../../deploy/lib/network-policy.ts";
import {
  containersOf,
  coverageViolations,
  type Manifest,
  podSpecOf,
  policyViolations,
} from "../../deploy/lib/policies.ts";
import { SERVICE_NODE_OPTIONS } from "../../tools/stack/services.ts";
import {
  allRenderings,
  DEFAULT_VALUES,
  find,
  helm,
  helmBinary,
  kratosPods,
  must,
  PRODUCTION_VALUES,
  REPO_ROOT,
  type Rendering,
  renderChart,
  renderEnvironment,
} from "./support.ts";

type Obj = Record<string, unknown>;
const o = (v: unknown) => (v ?? {}) as Obj;
const clone = <T>(v: T): T => structuredClone(v);

let renderings: Rendering[] = [];
const byName = (n: string) =>
  must(
    renderings.find((r) => r.name === n),
    n,
  );

beforeAll(() => {
  helmBinary(); // throws, naming scripts/build-helm.sh, when helm is missing
  const missing = missingSchemas();
  if (missing) throw new Error(missing);
  renderings = allRenderings(environmentNames());
});

describe("helm lint and helm template", () => {
  it("lints clean (--strict) with the default values and with the prod profile", () => {
    helm(["lint", "--strict", GATEHOUSE_CHART, "--values", DEFAULT_VALUES]);
    helm(["lint", "--strict", GATEHOUSE_CHART, "--values", DEFAULT_VALUES, "--values", PRODUCTION_VALUES]);
    for (const n of environmentNames()) {
      const env = loadEnvironment(n);
      helm(["lint", "--strict", GATEHOUSE_CHART, "--namespace", env.namespaces.auth, "--values", env.gatehouseValues]);
    }
  });

  it("renders the default values, the prod profile and every environment", () => {
    expect(renderings.map((r) => r.name)).toEqual([
      "default values",
      "production values",
      ...environmentNames().map((n) => `environment ${n}`),
    ]);
    for (const r of renderings) {
      const kinds = r.manifests.map((m) => m.kind);
      for (const k of ["Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap", "Job"])
        expect(kinds, r.name).toContain(k);
    }
    expect(byName("production values").manifests.map((m) => m.kind)).toEqual(
      expect.arrayContaining(["HorizontalPodAutoscaler", "ServiceMonitor", "CronJob"]),
    );
  });
});

describe("capabilities of the target cluster", () => {
  it("ServiceMonitors only where the cluster serves prometheus-operator's API (else the install would fail)", () => {
    const kinds = (r: Rendering) => r.manifests.map((m) => m.kind);
    const withApi = byName("production values");
    expect(kinds(withApi).filter((k) => k === "ServiceMonitor")).toHaveLength(2);
    const without = renderChart("prod, no prometheus-operator", [DEFAULT_VALUES, PRODUCTION_VALUES], {
      apiVersions: [],
    });
    expect(kinds(without)).not.toContain("ServiceMonitor");
    // Everything else is the same: the gate drops the monitors and nothing more.
    expect(kinds(without).length).toBe(kinds(withApi).length - 2);
  });
});

describe("every rendered manifest is valid Kubernetes (offline schemas, strict)", () => {
  for (const version of K8S_VERSIONS) {
    it(`against Kubernetes ${version}'s OpenAPI spec`, () => {
      const v = k8sValidator(version);
      for (const r of renderings) {
        expect(r.manifests.length, r.name).toBeGreaterThan(5);
        expect(
          r.manifests.flatMap((m) => v.validate(m)),
          r.name,
        ).toEqual([]);
      }
    });
  }

  it("the validator is not vacuous: a typo'd field, a wrong type, a duplicate env var, an unknown kind", () => {
    const v = k8sValidator(K8S_VERSIONS[0]);
    const d = clone(must(find(byName("default values"), "Deployment", "auth-service"), "auth-service"));
    const c = containersOf(podSpecOf(d) ?? {})[0] as Obj;
    c.readinessprobe = c.readinessProbe;
    o(d.spec).replicas = "3";
    (c.env as Obj[]).push({ name: "LOG_LEVEL", value: "debug" });
    const errors = v.validate(d).join("\n");
    expect(errors).toContain("readinessprobe");
    expect(errors).toContain("/spec/replicas");
    expect(errors).toContain('duplicate entry for key (name) = ["LOG_LEVEL"]');
    const sm = clone(must(find(byName("production values"), "ServiceMonitor", "gateway"), "ServiceMonitor"));
    o(sm.spec).endpoint = [];
    expect(v.validate(sm).join("\n")).toContain("endpoint");
    expect(v.validate({ ...d, apiVersion: "extensions/v1beta1" }).join()).toContain("no schema");
    const es = clone(must(find(byName("environment prod"), "ExternalSecret", "auth-service"), "ExternalSecret"));
    expect(v.validate(es)).toEqual([]);
    o(o(es.spec).target).creationPolicy = "Sometimes";
    o(es.spec).refreshIntervall = "1h";
    const esErrors = v.validate(es).join("\n");
    expect(esErrors).toContain("/spec/target/creationPolicy");
    expect(esErrors).toContain("refreshIntervall");
  });
});

describe("policies", () => {
  it("no container runs as root, without limits, writable, privileged, with capabilities or without seccomp", () => {
    for (const r of renderings) expect(policyViolations(r.manifests), r.name).toEqual([]);
  });

  it("every Deployment has a Service, a PodDisruptionBudget and a NetworkPolicy", () => {
    for (const r of renderings) expect(coverageViolations(r.manifests), r.name).toEqual([]);
  });

  it("the policy check catches a container made root, one without limits, and a literal secret", () => {
    const r = byName("production values");
    const bad = clone(r.manifests);
    const dep = must(
      bad.find((m) => m.kind === "Deployment"),
      "Deployment",
    );
    const c = containersOf(podSpecOf(dep) ?? {})[0] as Obj;
    o(c.securityContext).runAsUser = 0;
    delete o(c.resources).limits;
    o(c.securityContext).capabilities = { add: ["NET_ADMIN"] };
    (c.env as Obj[]).push({ name: "WEBHOOK_SECRET", value: "hunter2" });
    const job = must(
      bad.find((m) => m.kind === "CronJob"),
      "CronJob",
    );
    o(containersOf(podSpecOf(job) ?? {})[0]).securityContext = {};
    const v = policyViolations(bad).join("\n");
    expect(v).toContain("runs as root (runAsUser 0)");
    expect(v).toContain("no limits.cpu");
    expect(v).toContain("no limits.memory");
    expect(v).toContain("capabilities not dropped");
    expect(v).toContain('adds capabilities ["NET_ADMIN"]');
    expect(v).toContain("WEBHOOK_SECRET is a literal value");
    expect(v).toMatch(/CronJob\/.* root filesystem is writable/);
    bad.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "x" } });
    expect(policyViolations(bad).join("\n")).toContain("must not create Secrets");
    const noPdb = r.manifests.filter((m) => m.kind !== "PodDisruptionBudget");
    expect(coverageViolations(noPdb)).toHaveLength(r.manifests.filter((m) => m.kind === "Deployment").length);
  });
});

describe("workloads", () => {
  it("3 replicas by default with rolling updates that never drop below them; HPA from 3 in prod", () => {
    const d = byName("default values");
    for (const comp of ["auth-service", "gateway"]) {
      const dep = must(find(d, "Deployment", comp), comp);
      expect(o(dep.spec).replicas, comp).toBe(3);
      expect(o(dep.spec).strategy).toEqual({
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      });
      expect(find(d, "HorizontalPodAutoscaler", comp)).toBeUndefined();
      const pdb = must(find(d, "PodDisruptionBudget", comp), "pdb");
      expect(o(pdb.spec).maxUnavailable).toBe(1);

      const p = byName("production values");
      const hpa = must(find(p, "HorizontalPodAutoscaler", comp), "hpa");
      expect(o(hpa.spec).minReplicas).toBeGreaterThanOrEqual(3);
      expect(o(o(hpa.spec).scaleTargetRef).name).toBe(must(find(p, "Deployment", comp), comp).metadata.name);
      // The HPA owns the replica count: the Deployment must not fight it on every upgrade.
      expect(o(must(find(p, "Deployment", comp), comp).spec).replicas).toBeUndefined();
    }
  });

  it("the gateway and the auth-service bound V8's young generation wherever they run, as the local stack does", () => {
    // The images set it (compose and the default values use them as they are)…
    for (const app of ["gateway", "auth-service"]) {
      const dockerfile = readFileSync(resolve(REPO_ROOT, `apps/${app}/Dockerfile`), "utf8");
      expect(dockerfile, app).toContain(`ENV NODE_OPTIONS=${SERVICE_NODE_OPTIONS}`);
    }
    // …and the prod profile, whose NODE_OPTIONS replaces the image's, says it again beside the heap limit.
    for (const r of renderings.filter((x) => x.name !== "default values")) {
      for (const comp of ["gateway", "auth-service"]) {
        const dep = find(r, "Deployment", comp);
        if (dep === undefined) continue;
        const c = containersOf(podSpecOf(dep) ?? {})[0] as Obj;
        const nodeOptions = (c.env as Obj[]).find((e) => e.name === "NODE_OPTIONS")?.value;
        if (nodeOptions !== undefined) expect(String(nodeOptions), `${r.name} ${comp}`).toContain(SERVICE_NODE_OPTIONS);
      }
    }
    const prod = byName("production values");
    const gw = containersOf(podSpecOf(must(find(prod, "Deployment", "gateway"), "gw")) ?? {})[0] as Obj;
    expect((gw.env as Obj[]).find((e) => e.name === "NODE_OPTIONS")?.value).toBe(
      `--max-old-space-size=576 ${SERVICE_NODE_OPTIONS}`,
    );
  });

  it("probes hit the real health endpoints on the ports the apps listen on", () => {
    const d = byName("default values");
    const auth = containersOf(podSpecOf(must(find(d, "Deployment", "auth-service"), "auth")) ?? {})[0] as Obj;
    const gw = containersOf(podSpecOf(must(find(d, "Deployment", "gateway"), "gw")) ?? {})[0] as Obj;
    const env = (c: Obj) => Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.value]));
    const portOf = (c: Obj, name: unknown) => (c.ports as Obj[]).find((p) => p.name === name)?.containerPort;
    const probe = (c: Obj, p: string) => o(o(c[p]).httpGet);

    expect(probe(auth, "readinessProbe").path).toBe("/health/ready");
    expect(probe(auth, "livenessProbe").path).toBe("/health/alive");
    for (const p of ["readinessProbe", "livenessProbe"])
      expect(String(portOf(auth, probe(auth, p).port))).toBe(env(auth).AUTH_ADMIN_PORT);
    expect(probe(gw, "readinessProbe").path).toBe("/health/ready");
    expect(probe(gw, "livenessProbe").path).toBe("/health/alive");
    expect(String(portOf(gw, probe(gw, "readinessProbe").port))).toBe(env(gw).GATEWAY_PORT);
    // The endpoints exist where the probes look: the admin app mounts the health routes.
    expect(readFileSync(resolve(REPO_ROOT, "apps/auth-service/src/http/admin.ts"), "utf8")).toContain(
      "e.use(healthRoutes(app))",
    );
    // Its paths are the route table's (routes.ts), which health.ts registers through `on()`.
    const health = readFileSync(resolve(REPO_ROOT, "apps/auth-service/src/http/health.ts"), "utf8");
    expect(health).toContain("on(r, ROUTES.ready,");
    expect(health).toContain("on(r, ROUTES.alive,");
    const table = readFileSync(resolve(REPO_ROOT, "apps/auth-service/src/http/routes.ts"), "utf8");
    expect(table).toMatch(/ready: spec\(\{\s+method: "get",\s+path: "\/health\/ready",/);
    expect(table).toMatch(/alive: spec\(\{\s+method: "get",\s+path: "\/health\/alive",/);
    const server = readFileSync(resolve(REPO_ROOT, "apps/gateway/src/server.ts"), "utf8");
    expect(server).toContain('path === "/health/ready"');
    expect(server).toContain('path === "/health/alive"');
  });

  it("a deleted pod drains before Kubernetes kills it: preStop sleep + SHUTDOWN_GRACE_SECONDS fit in terminationGracePeriodSeconds", () => {
    for (const r of renderings) {
      for (const comp of ["auth-service", "gateway"]) {
        const d = find(r, "Deployment", comp);
        if (!d) continue;
        const pod = podSpecOf(d) ?? {};
        const c = containersOf(pod)[0] as Obj;
        const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.value]));
        const sleep = Number(o(o(o(c.lifecycle).preStop).sleep).seconds);
        const grace = Number(env.SHUTDOWN_GRACE_SECONDS);
        expect(sleep, `${r.name} ${comp}`).toBeGreaterThan(0);
        expect(grace, `${r.name} ${comp}`).toBeGreaterThan(0);
        // The app's default too, so a pod without the variable drains the same.
        expect(grace, `${r.name} ${comp}`).toBeLessThan(30);
        expect(Number(pod.terminationGracePeriodSeconds), `${r.name} ${comp}`).toBeGreaterThanOrEqual(
          sleep + grace + 1,
        );
      }
    }
    expect(() =>
      renderChart("grace too long", [DEFAULT_VALUES], { setJson: ["gateway.shutdown.graceSeconds=40"] }),
    ).toThrow(/gateway: terminationGracePeriodSeconds \(30\) must be at least .* \(46\)/);
  });

  it("the env each Deployment gets is accepted by the app's own configuration parser", () => {
    const fakeSecrets: Record<string, string> = {
      DATABASE_URL: "postgres://gatehouse:pw@postgres.data:5432/gatehouse",
      REDIS_URL: "redis://redis.data:6379",
      SIGNING_KEY_KEK: "ab".repeat(32),
      WEBHOOK_SECRET: "w".repeat(40),
      ADMIN_API_TOKEN: "a".repeat(40),
      LOCKOUT_REPORT_TOKEN: "l".repeat(40),
    };
    for (const r of renderings) {
      for (const [comp, load] of [
        ["auth-service", loadAuthConfig],
        ["gateway", loadGatewayConfig],
      ] as const) {
        const c = containersOf(podSpecOf(must(find(r, "Deployment", comp), comp)) ?? {})[0] as Obj;
        const env: Record<string, string> = {};
        for (const e of c.env as Obj[]) {
          const ref = o(o(e.valueFrom).secretKeyRef);
          // An optional key the Secret lacks leaves the variable unset, as Kubernetes does.
          if (ref.key && ref.optional === true && fakeSecrets[String(ref.key)] === undefined) continue;
          env[String(e.name)] = ref.key ? must(fakeSecrets[String(ref.key)], `secret key ${ref.key}`) : String(e.value);
        }
        expect(() => load(env), `${r.name} ${comp}`).not.toThrow();
      }
      // The gateway verifies what the auth-service signs, and calls its Service.
      const envOf = (comp: string) =>
        Object.fromEntries(
          ((containersOf(podSpecOf(must(find(r, "Deployment", comp), comp)) ?? {})[0] as Obj).env as Obj[]).map((e) => [
            e.name,
            e.value,
          ]),
        );
      expect(envOf("gateway").TOKEN_ISSUER).toBe(envOf("auth-service").TOKEN_ISSUER);
      expect(envOf("gateway").TOKEN_AUDIENCE).toBe(envOf("auth-service").TOKEN_AUDIENCE);
      const svc = must(find(r, "Service", "auth-service"), "auth Service");
      expect(envOf("gateway").AUTH_SERVICE_URL).toBe(
        `http://${svc.metadata.name}.${r.namespace}.svc.cluster.local:${envOf("auth-service").AUTH_PUBLIC_PORT}`,
      );
      // Account locks are reported to the admin port, with the narrow token (never the operator's).
      expect(envOf("gateway").AUTH_ADMIN_URL).toBe(
        `http://${svc.metadata.name}.${r.namespace}.svc.cluster.local:${envOf("auth-service").AUTH_ADMIN_PORT}`,
      );
      expect(Object.keys(envOf("gateway"))).not.toContain("ADMIN_API_TOKEN");
    }
  });

  it("redis.mode sentinel and cluster: each app accepts its env, passwords come from the Secrets, egress reaches the sentinels", () => {
    const secrets: Record<string, string> = {
      DATABASE_URL: "postgres://gatehouse:pw@postgres.data:5432/gatehouse",
      SIGNING_KEY_KEK: "ab".repeat(32),
      WEBHOOK_SECRET: "w".repeat(40),
      ADMIN_API_TOKEN: "a".repeat(40),
      LOCKOUT_REPORT_TOKEN: "l".repeat(40),
      REDIS_PASSWORD: "data-node-password",
      REDIS_SENTINEL_PASSWORD: "sentinel-password",
    };
    const modes = {
      sentinel: [
        'redis.mode="sentinel"',
        'redis.sentinel.nodes=["redis-node-0.redis-headless.data:26379","redis-node-1.redis-headless.data"]',
        'redis.sentinel.masterName="mymaster"',
      ],
      cluster: [
        'redis.mode="cluster"',
        'redis.cluster.nodes=["redis-cluster-0.data:6379","redis-cluster-1.data:6379"]',
      ],
    };
    for (const [mode, setJson] of Object.entries(modes)) {
      const r = renderChart(mode, [DEFAULT_VALUES, PRODUCTION_VALUES], { setJson });
      const valid = k8sValidator(K8S_VERSIONS[0]);
      expect(
        r.manifests.flatMap((m) => valid.validate(m)),
        mode,
      ).toEqual([]);
      expect(policyViolations(r.manifests), mode).toEqual([]);
      for (const [comp, load] of [
        ["auth-service", loadAuthConfig],
        ["gateway", loadGatewayConfig],
      ] as const) {
        const c = containersOf(podSpecOf(must(find(r, "Deployment", comp), comp)) ?? {})[0] as Obj;
        const env: Record<string, string> = {};
        for (const e of c.env as Obj[]) {
          const ref = o(o(e.valueFrom).secretKeyRef);
          // An optional key the Secret lacks leaves the variable unset, as Kubernetes does.
          if (ref.key && ref.optional === true && secrets[String(ref.key)] === undefined) continue;
          env[String(e.name)] = ref.key ? must(secrets[String(ref.key)], `secret key ${ref.key}`) : String(e.value);
        }
        expect(env.REDIS_URL, `${mode} ${comp}`).toBeUndefined();
        const redis = load(env).redis;
        expect(redis, `${mode} ${comp}`).toMatchObject({ mode, password: "data-node-password" });
        if (mode === "sentinel")
          expect(redis).toMatchObject({ name: "mymaster", sentinelPassword: "sentinel-password" });
        const np = must(find(r, "NetworkPolicy", comp), `${comp} np`);
        const ports = (o(np.spec).egress as Obj[]).flatMap((rule) => (rule.ports as Obj[]).map((p) => p.port));
        expect(ports.includes(26379), `${mode} ${comp}`).toBe(mode === "sentinel");
        expect(ports, `${mode} ${comp}`).toContain(6379);
      }
    }
    const refused = (setJson: string[]) => {
      try {
        renderChart("bad redis", [DEFAULT_VALUES], { setJson });
      } catch (e) {
        return String((e as Error).message);
      }
      throw new Error("expected rendering to fail");
    };
    expect(refused(['redis.mode="sentinel"', 'redis.sentinel.nodes=["s:26379"]'])).toMatch(
      /redis\.sentinel\.masterName/,
    );
    expect(refused(['redis.mode="cluster"'])).toMatch(/redis\.cluster\.nodes/);
    expect(refused(['redis.mode="replicated"'])).toMatch(
      /at '\/redis\/mode': value must be one of 'standalone', 'sentinel', 'cluster'/,
    );
  });

  it("no component logs at debug or trace in any rendering (the env var each app reads, LOG_LEVEL)", () => {
    const levels = (ms: Manifest[]) =>
      ms.flatMap((m) =>
        containersOf(podSpecOf(m) ?? {}).flatMap((c) =>
          ((c.env ?? []) as Obj[])
            .filter((e) => e.name === "LOG_LEVEL")
            .map((e) => `${m.kind}/${m.metadata.name} ${String(e.value)}`),
        ),
      );
    for (const r of renderings) {
      const found = levels(r.manifests);
      expect(found.length, r.name).toBeGreaterThanOrEqual(2);
      expect(
        found.filter((l) => /\s(trace|debug)$/.test(l)),
        r.name,
      ).toEqual([]);
    }
    const debug = renderChart("debug", [DEFAULT_VALUES], { setJson: ['gateway.logLevel="debug"'] });
    expect(levels(debug.manifests).filter((l) => / debug$/.test(l))).toHaveLength(1);
  });

  it("gateway.forwardAuthProxy names the one proxy whose headers /decisions reads; off when empty", () => {
    const envOf = (r: ReturnType<typeof renderChart>) =>
      Object.fromEntries(
        ((containersOf(podSpecOf(must(find(r, "Deployment", "gateway"), "gateway")) ?? {})[0] as Obj).env as Obj[]).map(
          (e) => [e.name, e.value],
        ),
      );
    for (const r of renderings) expect(envOf(r).FORWARD_AUTH_PROXY, r.name).toBeUndefined();
    const traefik = renderChart("traefik", [DEFAULT_VALUES], {
      setJson: ['gateway.forwardAuthProxy="traefik"', 'gateway.trustedProxies=["10.42.0.0/16"]'],
    });
    expect(envOf(traefik)).toMatchObject({ FORWARD_AUTH_PROXY: "traefik", TRUSTED_PROXIES: "10.42.0.0/16" });
    expect(() =>
      renderChart("bad proxy", [DEFAULT_VALUES], {
        setJson: ['gateway.forwardAuthProxy="haproxy"', 'gateway.trustedProxies=["10.42.0.0/16"]'],
      }),
    ).toThrow(/at '\/gateway\/forwardAuthProxy': value must be one of '', 'nginx', 'traefik', 'caddy', 'envoy'/);
    expect(() =>
      renderChart("no trusted proxy", [DEFAULT_VALUES], { setJson: ['gateway.forwardAuthProxy="nginx"'] }),
    ).toThrow(/gateway.trustedProxies is required with gateway.forwardAuthProxy/);
  });

  it("secrets come only from existing Secrets, and rendering fails without a Secret name", () => {
    for (const r of renderings) {
      const auth = containersOf(podSpecOf(must(find(r, "Deployment", "auth-service"), "a")) ?? {})[0] as Obj;
      const refs = (auth.env as Obj[]).filter((e) => o(e.valueFrom).secretKeyRef);
      const fromSecret = refs.filter((e) => o(o(e.valueFrom).secretKeyRef).optional !== true).map((e) => e.name);
      expect(fromSecret.sort(), r.name).toEqual(
        [
          "ADMIN_API_TOKEN",
          "DATABASE_URL",
          "LOCKOUT_REPORT_TOKEN",
          "REDIS_URL",
          "SIGNING_KEY_KEK",
          "WEBHOOK_SECRET",
        ].sort(),
      );
      // Only the previous KEK (during a KEK rotation) may be missing from the Secret.
      const optional = refs.filter((e) => o(o(e.valueFrom).secretKeyRef).optional === true).map((e) => e.name);
      expect(optional, r.name).toEqual(["SIGNING_KEY_KEK_PREVIOUS"]);
      // The scheduled key rotation decrypts keys too: it gets the previous KEK as well.
      const cron = r.manifests.find((m) => m.kind === "CronJob");
      if (cron) {
        const env = (containersOf(podSpecOf(cron) ?? {})[0] as Obj).env as Obj[];
        const kek = env.filter((e) => String(e.name).startsWith("SIGNING_KEY_KEK"));
        expect(
          kek.map((e) => [e.name, o(o(e.valueFrom).secretKeyRef).optional === true]),
          r.name,
        ).toEqual([
          ["SIGNING_KEY_KEK", false],
          ["SIGNING_KEY_KEK_PREVIOUS", true],
        ]);
      }
      expect(r.manifests.filter((m) => m.kind === "Secret")).toEqual([]);
    }
    // The schema refuses an empty name first; the template's own check stays for --skip-schema-validation.
    expect(() => renderChart("no secret", [DEFAULT_VALUES], { setJson: ['authService.existingSecret=""'] })).toThrow(
      /authService\/existingSecret/,
    );
  });

  it("the migration Job is a pre-install/pre-upgrade hook running `node apps/auth-service/src/cli.ts migrate`", () => {
    const job = must(find(byName("default values"), "Job", "migrate"), "Job");
    const ann = o(job.metadata.annotations);
    expect(String(ann["helm.sh/hook"]).split(",")).toEqual(["pre-install", "pre-upgrade"]);
    expect(String(ann["helm.sh/hook-delete-policy"])).toContain("before-hook-creation");
    const c = containersOf(podSpecOf(job) ?? {})[0] as Obj;
    expect(c.args).toEqual(["apps/auth-service/src/cli.ts", "migrate"]);
    // The image runs `node <args>` from /app, where the repository layout is kept.
    const dockerfile = readFileSync(resolve(REPO_ROOT, "apps/auth-service/Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node"\]$/m);
    expect(readFileSync(resolve(REPO_ROOT, "apps/auth-service/src/cli.ts"), "utf8")).toContain('case "migrate":');
    expect((c.env as Obj[]).map((e) => e.name)).toEqual(["DATABASE_URL"]);
    // The pods start with migrations already applied, not each on its own.
    const [auth] = containersOf(
      podSpecOf(must(find(byName("default values"), "Deployment", "auth-service"), "a")) ?? {},
    );
    const env = (must(auth, "auth-service container").env ?? []) as Obj[];
    expect(env.find((e) => e.name === "MIGRATE_ON_START")?.value).toBe("false");
  });

  it("each component can be turned off", () => {
    const elsewhere = ["authService.enabled=false", 'gateway.authServiceUrl="http://auth.elsewhere:7410"'];
    // Lock reports need the auth-service's admin URL too when it lives elsewhere.
    expect(() => renderChart("no admin url", [DEFAULT_VALUES], { setJson: elsewhere })).toThrow(
      /gateway.lockoutReports.authAdminUrl is required when authService.enabled is false/,
    );
    const noAuth = renderChart("no auth", [DEFAULT_VALUES], {
      setJson: [...elsewhere, 'gateway.lockoutReports.authAdminUrl="http://auth.elsewhere:7411"'],
    });
    // Besides the gateway's (and the web app's) objects, only Kratos' policies, which then admit the gateway alone.
    const component = (m: Manifest) => String(o(m.metadata.labels)["app.kubernetes.io/component"]);
    expect(
      noAuth.manifests
        .filter((m) => !["gateway", "web", "marketing"].includes(component(m)))
        .map((m) => `${m.kind}/${component(m)}`)
        .sort(),
    ).toEqual(["NetworkPolicy/kratos", "NetworkPolicy/kratos-courier", "NetworkPolicy/kratos-jobs"]);
    const kratosNp = must(find(noAuth, "NetworkPolicy", "kratos"), "kratos np");
    // The public port for the gateway; the admin port for Kratos' own pods alone.
    expect((o(kratosNp.spec).ingress as Obj[]).map((rule) => (rule.ports as Obj[]).map((p) => p.port))).toEqual([
      [4433],
      [4434],
    ]);
    const adminPeers = ((o(kratosNp.spec).ingress as Obj[])[1]?.from ?? []) as Obj[];
    expect(adminPeers.map((p) => o(o(p.podSelector).matchLabels)["app.kubernetes.io/name"])).toEqual(["kratos"]);
    expect(find(noAuth, "Deployment", "gateway")).toBeDefined();
    // The web app reaches Kratos through the gateway: it cannot run without it.
    expect(() => renderChart("web, no gateway", [DEFAULT_VALUES], { setJson: ["gateway.enabled=false"] })).toThrow(
      /web.enabled needs gateway.enabled/,
    );
    const noGw = renderChart("no gateway", [DEFAULT_VALUES], {
      setJson: ["gateway.enabled=false", "web.enabled=false"],
    });
    expect(noGw.manifests.some((m) => o(m.metadata.labels)["app.kubernetes.io/component"] === "gateway")).toBe(false);
    expect(find(noGw, "Deployment", "auth-service")).toBeDefined();
  });
});

describe("the gateway's routes", () => {
  const routesOf = (r: Rendering) =>
    String(o(must(find(r, "ConfigMap", "gateway"), "routes ConfigMap").data)["routes.yaml"]);

  it("the ConfigMap is a routes file the gateway itself accepts, in every environment", () => {
    for (const r of renderings) expect(() => compileRoutes(parse(routesOf(r)), r.name), r.name).not.toThrow();
    const prod = renderEnvironment(loadEnvironment("prod"));
    expect(compileRoutes(parse(routesOf(prod))).routes.length).toBeGreaterThan(0);
  });

  it("pods carry the routes' checksum, so a routes change rolls them", () => {
    const r = byName("default values");
    const sum = (x: Rendering) =>
      o(o(o(o(must(find(x, "Deployment", "gateway"), "gw").spec).template).metadata).annotations)["checksum/routes"];
    expect(sum(r)).toBe(createHash("sha256").update(routesOf(r).replace(/\n$/, "")).digest("hex"));
    const changed = renderChart("changed routes", [DEFAULT_VALUES], {
      setJson: ['gateway.routes={"routes":[{"name":"x","match":{"path":"/x/**"},"upstream":"http://x:80"}]}'],
    });
    expect(sum(changed)).not.toBe(sum(r));
    // The file is mounted as a directory (no subPath), so the gateway also sees updates without a restart.
    const pod = podSpecOf(must(find(r, "Deployment", "gateway"), "gw")) ?? {};
    const mount = ((containersOf(pod)[0] as Obj).volumeMounts as Obj[]).find((m) => m.name === "routes");
    expect(mount).toMatchObject({ mountPath: "/etc/gatehouse", readOnly: true });
    expect(mount?.subPath).toBeUndefined();
  });

  it("every route upstream in an environment is reachable under the gateway's NetworkPolicy", () => {
    for (const n of environmentNames()) {
      const r = renderEnvironment(loadEnvironment(n));
      const np = must(find(r, "NetworkPolicy", "gateway"), "gateway NetworkPolicy");
      const egress = o(np.spec).egress as Obj[];
      for (const route of (parse(routesOf(r)) as { routes: { upstream: string }[] }).routes) {
        const u = new URL(route.upstream);
        const ns = /^[^.]+\.([^.]+)\.svc(\.cluster\.local)?$/.exec(u.hostname)?.[1];
        const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
        const ok = egress.some(
          (rule) =>
            (rule.ports as Obj[]).some((p) => p.port === port) &&
            (!rule.to ||
              (rule.to as Obj[]).some(
                (peer) => o(o(peer.namespaceSelector).matchLabels)["kubernetes.io/metadata.name"] === ns,
              )),
        );
        expect(ok, `${n}: upstream ${route.upstream} not allowed by the gateway's egress`).toBe(true);
      }
    }
  });
});

describe("NetworkPolicy", () => {
  const ingressPeers = (np: Manifest) => (o(np.spec).ingress as Obj[]).flatMap((rule) => rule.from as Obj[]);
  const nsOf = (peer: Obj) => o(o(peer.namespaceSelector).matchLabels)["kubernetes.io/metadata.name"];

  it("only the gateway is reachable from the ingress controller", () => {
    for (const r of renderings) {
      const gw = must(find(r, "NetworkPolicy", "gateway"), "gw np");
      const auth = must(find(r, "NetworkPolicy", "auth-service"), "auth np");
      expect(o(gw.spec).policyTypes).toEqual(["Ingress", "Egress"]);
      expect(ingressPeers(gw).map(nsOf), r.name).toContain("ingress-nginx");
      expect(ingressPeers(auth).map(nsOf), r.name).not.toContain("ingress-nginx");
    }
  });

  it("the auth-service accepts the gateway and named namespaces on its public port, Kratos on its admin port", () => {
    const r = renderEnvironment(loadEnvironment("prod"));
    const np = must(find(r, "NetworkPolicy", "auth-service"), "auth np");
    const [pub, webhook, lockouts, metrics] = (o(np.spec).ingress as Obj[]).map((rule) => ({
      ports: (rule.ports as Obj[]).map((p) => p.port),
      from: rule.from as Obj[],
    }));
    expect(pub?.ports).toEqual([7410]);
    const peers = pub?.from ?? [];
    expect(o(o(peers[0]?.podSelector).matchLabels)["app.kubernetes.io/component"]).toBe("gateway");
    // The web app's server (in the product's namespace), then the namespaces named in the values.
    expect(o(o(peers[1]?.podSelector).matchLabels)["app.kubernetes.io/component"]).toBe("web");
    expect(peers.slice(1).map(nsOf)).toEqual(["example-apps", "example-apps"]);
    expect(webhook?.ports).toEqual([7411]);
    expect(nsOf(webhook?.from[0] ?? {})).toBe(loadEnvironment("prod").namespaces.kratos);
    // The gateway's account-lock reports (POST /admin/lockouts, its LOCKOUT_REPORT_TOKEN).
    expect(lockouts?.ports).toEqual([7411]);
    expect(lockouts?.from.map((p) => o(o(p.podSelector).matchLabels)["app.kubernetes.io/component"])).toEqual([
      "gateway",
    ]);
    expect(metrics?.ports).toEqual([7411]);
  });

  it("gateway.lockoutReports: on by default (env, both policies); off renders none of it; misconfigurations fail", () => {
    const egressPorts = (r: Rendering) =>
      (o(must(find(r, "NetworkPolicy", "gateway"), "gw np").spec).egress as Obj[])
        .filter((rule) =>
          ((rule.to ?? []) as Obj[]).some(
            (p) => o(o(p.podSelector).matchLabels)["app.kubernetes.io/component"] === "auth-service",
          ),
        )
        .flatMap((rule) => (rule.ports as Obj[]).map((p) => p.port));
    const gwEnv = (r: Rendering) =>
      ((containersOf(podSpecOf(must(find(r, "Deployment", "gateway"), "gw")) ?? {})[0] as Obj).env as Obj[]).map(
        (e) => [e.name, o(o(e.valueFrom).secretKeyRef).name ?? null],
      );
    const authIngressFromGateway = (r: Rendering) =>
      (o(must(find(r, "NetworkPolicy", "auth-service"), "auth np").spec).ingress as Obj[])
        .filter((rule) =>
          (rule.from as Obj[]).some(
            (p) => o(o(p.podSelector).matchLabels)["app.kubernetes.io/component"] === "gateway",
          ),
        )
        .flatMap((rule) => (rule.ports as Obj[]).map((p) => p.port));
    const on = renderChart("default", [DEFAULT_VALUES]);
    expect(egressPorts(on)).toEqual([7410, 7411]);
    expect(authIngressFromGateway(on)).toEqual([7410, 7411]);
    expect(gwEnv(on)).toContainEqual(["LOCKOUT_REPORT_TOKEN", "gatehouse-gateway"]);
    const off = renderChart("no reports", [DEFAULT_VALUES], { setJson: ["gateway.lockoutReports.enabled=false"] });
    expect(egressPorts(off)).toEqual([7410]);
    expect(authIngressFromGateway(off)).toEqual([7410]);
    expect(gwEnv(off).map(([n]) => n)).not.toContain("AUTH_ADMIN_URL");
    expect(gwEnv(off).map(([n]) => n)).not.toContain("LOCKOUT_REPORT_TOKEN");
    expect(() =>
      renderChart("no gateway secret", [DEFAULT_VALUES], { setJson: ['gateway.existingSecret=""'] }),
    ).toThrow(/gateway.existingSecret is required with gateway.lockoutReports.enabled/);
    expect(() => renderChart("bad key", [DEFAULT_VALUES], { setJson: ["gateway.lockoutReports.token=1"] })).toThrow(
      /lockoutReports/,
    );
  });

  it("the gateway's /metrics is on its own port: only Prometheus' namespace reaches it, the ingress does not", () => {
    const r = renderEnvironment(loadEnvironment("prod"));
    const np = must(find(r, "NetworkPolicy", "gateway"), "gw np");
    const rules = (o(np.spec).ingress as Obj[]).map((rule) => ({
      ports: (rule.ports as Obj[]).map((p) => p.port),
      from: (rule.from as Obj[]).map(nsOf),
    }));
    expect(rules).toEqual([
      { ports: [7400], from: ["ingress-nginx"] },
      { ports: [7400], from: ["example-apps"] }, // the web app's server
      { ports: [7431], from: ["monitoring"] },
      { ports: [7400], from: [undefined] }, // the `helm test` pod, in the release's namespace
    ]);
    const c = containersOf(podSpecOf(must(find(r, "Deployment", "gateway"), "gw")) ?? {})[0] as Obj;
    expect((c.ports as Obj[]).map((p) => [p.name, p.containerPort])).toEqual([
      ["http", 7400],
      ["metrics", 7431],
    ]);
    expect((c.env as Obj[]).find((e) => e.name === "METRICS_PORT")?.value).toBe("7431");
    const sm = must(find(r, "ServiceMonitor", "gateway"), "gw ServiceMonitor");
    expect((o(sm.spec).endpoints as Obj[]).map((e) => [e.port, e.path])).toEqual([["metrics", "/metrics"]]);
    const svc = must(find(r, "Service", "gateway"), "gw Service");
    expect((o(svc.spec).ports as Obj[]).map((p) => p.name)).toEqual(["http", "metrics"]);
  });

  it("egress goes only to DNS, Kratos, Postgres and Redis (and the gateway's upstreams, the trace collector when tracing is on), always port-bound", () => {
    for (const r of renderings) {
      // The environments trace (tracing.enabled, the collector on 4318); the chart's defaults do not.
      const traced = r.name.startsWith("environment ");
      for (const comp of ["auth-service", "gateway", "migrate"]) {
        const np = must(find(r, "NetworkPolicy", comp), `${comp} np`);
        const rules = o(np.spec).egress as Obj[];
        for (const rule of rules) expect((rule.ports as Obj[]).length, `${r.name} ${comp}`).toBeGreaterThan(0);
        const ports = rules.flatMap((rule) => (rule.ports as Obj[]).map((p) => p.port));
        const allowed = new Set([
          53,
          4433,
          4434,
          5432,
          6379,
          7410,
          7411, // the gateway's account-lock reports to the auth-service's admin port
          7403,
          ...(traced && comp !== "migrate" ? [4318] : []),
        ]);
        expect(
          ports.filter((p) => !allowed.has(Number(p))),
          `${r.name} ${comp}`,
        ).toEqual([]);
        if (comp === "migrate") expect([...new Set(ports)].sort()).toEqual([53, 5432]);
        if (comp === "auth-service")
          expect([...new Set(ports)].sort()).toEqual([...(traced ? [4318] : []), 4433, 4434, 53, 5432, 6379]);
      }
    }
  });

  it("tracing: off by default; on, each service gets the OTEL_* of one collector and egress to it", () => {
    const otel = (r: Rendering, comp: string) =>
      Object.fromEntries(
        ((containersOf(podSpecOf(must(find(r, "Deployment", comp), comp)) ?? {})[0] as Obj).env as Obj[])
          .filter((e) => String(e.name).startsWith("OTEL_"))
          .map((e) => [e.name, e.value]),
      );
    const off = renderChart("default", [DEFAULT_VALUES]);
    for (const comp of ["auth-service", "gateway"]) expect(otel(off, comp), comp).toEqual({});
    const endpoint = "http://otel-collector.observability.svc.cluster.local:4318";
    const on = renderChart("traced", [DEFAULT_VALUES], {
      setJson: [`tracing={"enabled":true,"otlpEndpoint":"${endpoint}","samplerRatio":0.25}`],
    });
    for (const comp of ["auth-service", "gateway"]) {
      expect(otel(on, comp), comp).toEqual({
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_SERVICE_NAME: comp,
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.25",
        OTEL_RESOURCE_ATTRIBUTES: "service.namespace=gatehouse,k8s.namespace.name=gatehouse-auth",
      });
      const rules = o(must(find(on, "NetworkPolicy", comp), comp).spec).egress as Obj[];
      expect(
        rules.some((rule) => (rule.ports as Obj[]).some((p) => p.port === 4318)),
        comp,
      ).toBe(true);
    }
    expect(() => renderChart("no endpoint", [DEFAULT_VALUES], { setJson: ["tracing.enabled=true"] })).toThrow(
      /tracing\.otlpEndpoint/,
    );
    expect(() =>
      renderChart("bad ratio", [DEFAULT_VALUES], {
        setJson: [`tracing={"enabled":true,"otlpEndpoint":"${endpoint}","samplerRatio":2}`],
      }),
    ).toThrow(/at '\/tracing\/samplerRatio': maximum: got 2, want 1/);
  });
});

describe("Kratos' NetworkPolicies (rendered by this chart into Kratos' namespace)", () => {
  const KRATOS = { public: 4433, admin: 4434, courierMetrics: 4434 };

  /** Where Kratos runs for a rendering: the environment's namespace and release, else the chart's defaults. */
  function kratosOf(r: Rendering) {
    const env = r.name.startsWith("environment ") ? loadEnvironment(r.name.slice("environment ".length)) : undefined;
    const values = parse(readFileSync(DEFAULT_VALUES, "utf8")) as { kratos: { namespace: string; release: string } };
    return {
      namespace: env?.namespaces.kratos ?? values.kratos.namespace,
      release: env?.releases.kratos ?? values.kratos.release,
    };
  }

  /** Every pod asked about: this release's as rendered, the official chart's as it labels them, and strangers. */
  function cast(r: Rendering, kratos = kratosOf(r)) {
    const pod = (comp: string, kind = "Deployment") => podOf(must(find(r, kind, comp), `${kind} ${comp}`), r.namespace);
    const k = kratosPods(kratos.release, kratos.namespace);
    return {
      gateway: pod("gateway"),
      authService: pod("auth-service"),
      migrate: pod("migrate", "Job"),
      kratos: must(k.serve, "serve"),
      courier: must(k.courier, "courier"),
      kratosMigrate: must(k.migrate, "migrate"),
      kratosCleanup: must(k.cleanup, "cleanup"),
      neighbour: { namespace: r.namespace, labels: { "app.kubernetes.io/name": "something-else" } },
      kratosNeighbour: { namespace: kratos.namespace, labels: { "app.kubernetes.io/name": "something-else" } },
      product: { namespace: "example-apps", labels: { "app.kubernetes.io/name": "example-api" } },
      ingressController: { namespace: "ingress-nginx", labels: { "app.kubernetes.io/name": "ingress-nginx" } },
      prometheus: { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus" } },
    } satisfies Record<string, Pod>;
  }

  const who = (r: Rendering, pods: Record<string, Pod>, to: Pod, port: number) =>
    Object.entries(pods)
      .filter(([, from]) => from !== to && allows(r.manifests, r.namespace, from, to, port))
      .map(([name]) => name)
      .sort();
  const scraped = (r: Rendering) => r.valuesFiles.includes(PRODUCTION_VALUES);

  /** The whole matrix for one rendering: who reaches Kratos' admin and public ports, the courier, and the webhook. */
  function expectLockedDown(r: Rendering, kratos = kratosOf(r)) {
    const pods = cast(r, kratos);
    const metrics = scraped(r) ? ["prometheus"] : [];
    expect(who(r, pods, pods.kratos, KRATOS.admin), `${r.name}: Kratos admin`).toEqual(
      ["authService", ...metrics].sort(),
    );
    expect(who(r, pods, pods.kratos, KRATOS.public), `${r.name}: Kratos public`).toEqual(
      ["authService", "gateway"].sort(),
    );
    expect(who(r, pods, pods.courier, KRATOS.courierMetrics), `${r.name}: courier`).toEqual(metrics);
    // The after-registration webhook still reaches the auth-service's admin port, from the serve pods only.
    const admin = 7411;
    expect(allows(r.manifests, r.namespace, pods.kratos, pods.authService, admin), r.name).toBe(true);
    expect(allows(r.manifests, r.namespace, pods.courier, pods.authService, admin), r.name).toBe(false);
  }

  it("admin only from the auth-service (and Prometheus in prod), public only from the gateway and the auth-service", () => {
    for (const r of renderings) expectLockedDown(r);
  });

  it("the policies live in Kratos' namespace and select the official chart's pods by name and release", () => {
    for (const r of renderings) {
      const k = kratosOf(r);
      const serve = must(find(r, "NetworkPolicy", "kratos"), `${r.name} kratos np`);
      expect(serve.metadata.namespace, r.name).toBe(k.namespace);
      expect(o(serve.spec).podSelector, r.name).toEqual({
        matchLabels: { "app.kubernetes.io/name": "kratos", "app.kubernetes.io/instance": k.release },
      });
      expect(o(serve.spec).policyTypes, r.name).toEqual(["Ingress"]);
      const courier = must(find(r, "NetworkPolicy", "kratos-courier"), `${r.name} courier np`);
      expect(courier.metadata.namespace, r.name).toBe(k.namespace);
      // No rule opens a port to everyone: every rule names peers and ports.
      for (const np of [serve, courier])
        for (const rule of (o(np.spec).ingress ?? []) as Obj[]) {
          expect((rule.from as Obj[]).length, r.name).toBeGreaterThan(0);
          expect((rule.ports as Obj[]).length, r.name).toBeGreaterThan(0);
        }
    }
  });

  it("also when Kratos runs in Gatehouse's own namespace: its neighbours there get nothing either", () => {
    const beside = [
      renderChart("kratos beside gatehouse", [DEFAULT_VALUES], { setJson: ['kratos.namespace="gatehouse-auth"'] }),
      renderChart("kratos beside gatehouse, prod", [DEFAULT_VALUES, PRODUCTION_VALUES], {
        setJson: ['kratos.namespace="gatehouse-auth"'],
      }),
    ];
    for (const r of beside) {
      const k = { namespace: r.namespace, release: "kratos" };
      expect(must(find(r, "NetworkPolicy", "kratos"), "np").metadata.namespace).toBe(r.namespace);
      expectLockedDown(r, k);
      const pods = cast(r, k);
      expect(pods.neighbour.namespace).toBe(pods.kratos.namespace);
    }
  });

  it("a release of another name, and Prometheus only where Kratos' values scrape it", () => {
    const r = renderChart("other kratos release", [DEFAULT_VALUES], {
      setJson: ['kratos.release="identity"', 'kratos.namespace="identity"'],
    });
    expectLockedDown(r, { namespace: "identity", release: "identity" });
    // The other release's pods are not the ones this policy protects: it selects by instance.
    const stranger = kratosPods("kratos", "identity").serve as Pod;
    const pods = cast(r, { namespace: "identity", release: "identity" });
    expect(allows(r.manifests, r.namespace, pods.product, stranger, KRATOS.admin)).toBe(true);
    for (const n of environmentNames()) {
      const env = loadEnvironment(n);
      const kv = parse(readFileSync(resolve(REPO_ROOT, `deploy/kratos/values.${n}.yaml`), "utf8")) as {
        serviceMonitor: { enabled: boolean };
      };
      const e = renderEnvironment(env);
      const p = cast(e);
      expect(allows(e.manifests, e.namespace, p.prometheus, p.kratos, KRATOS.admin), n).toBe(kv.serviceMonitor.enabled);
      expect(allows(e.manifests, e.namespace, p.prometheus, p.courier, KRATOS.courierMetrics), n).toBe(
        kv.serviceMonitor.enabled,
      );
    }
  });

  it("the check is not vacuous: it fails without the policy, with a peer that forgets its namespace or its pods", () => {
    const r = byName("environment prod");
    const pods = cast(r);
    const mutated = (change: (np: Manifest) => void): Rendering => {
      const manifests = clone(r.manifests);
      change(must(find({ ...r, manifests }, "NetworkPolicy", "kratos"), "kratos np"));
      return { ...r, manifests };
    };
    const peers = (np: Manifest) => (o(np.spec).ingress as Obj[]).flatMap((rule) => rule.from as Obj[]);
    // No policy: Kratos' pods are not isolated, anyone reaches the admin API.
    const without = { ...r, manifests: r.manifests.filter((m) => m !== find(r, "NetworkPolicy", "kratos")) };
    expect(who(without, pods, pods.kratos, KRATOS.admin)).toEqual(expect.arrayContaining(["product", "neighbour"]));
    expect(() => expectLockedDown(without)).toThrow(/Kratos admin/);
    // A peer with only a podSelector means "in Kratos' namespace": the auth-service next door is cut off.
    const noNs = mutated((np) => {
      for (const peer of peers(np)) if (peer.podSelector) delete peer.namespaceSelector;
    });
    expect(who(noNs, pods, pods.kratos, KRATOS.admin)).not.toContain("authService");
    expect(() => expectLockedDown(noNs)).toThrow();
    // A peer with only a namespaceSelector lets every pod of Gatehouse's namespace in.
    const noPods = mutated((np) => {
      for (const peer of peers(np)) if (peer.namespaceSelector && peer.podSelector) delete peer.podSelector;
    });
    expect(who(noPods, pods, pods.kratos, KRATOS.admin)).toContain("neighbour");
    expect(() => expectLockedDown(noPods)).toThrow(/Kratos admin/);
    // Opening the admin port to the gateway in Kratos' policy still leaves the gateway's own egress (public only).
    const gwToAdmin = mutated((np) => {
      delete ((o(np.spec).ingress as Obj[])[0] as Obj).ports;
    });
    expect(who(gwToAdmin, pods, pods.kratos, KRATOS.admin)).not.toContain("gateway");
    const gwEgress = must(find(r, "NetworkPolicy", "gateway"), "gateway np");
    const kratosPorts = (o(gwEgress.spec).egress as Obj[])
      .filter((rule) =>
        ((rule.to ?? []) as Obj[]).some(
          (peer) =>
            o(peer.podSelector).matchLabels !== undefined &&
            o(o(peer.podSelector).matchLabels)["app.kubernetes.io/name"] === "kratos",
        ),
      )
      .flatMap((rule) => (rule.ports as Obj[]).map((p) => p.port));
    expect(kratosPorts).toEqual([KRATOS.public]);
  });

  it("the evaluator follows Kubernetes' rules: isolation, peers, namespaces, ports, both directions", () => {
    const ns = "a";
    const x: Pod = { namespace: ns, labels: { app: "x" } };
    const y: Pod = { namespace: ns, labels: { app: "y" } };
    const z: Pod = { namespace: "b", labels: { app: "x" } };
    const np = (spec: Obj, namespace = ns) =>
      ({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "p", namespace },
        spec,
      }) as Manifest;
    const toY = (rules: Obj[]) => [
      np({ podSelector: { matchLabels: { app: "y" } }, policyTypes: ["Ingress"], ingress: rules }),
    ];
    expect(allows([], ns, x, y, 80)).toBe(true); // nothing selects y: not isolated
    expect(allows(toY([]), ns, x, y, 80)).toBe(false); // selected, no rule: nothing
    expect(allows(toY([{}]), ns, z, y, 80)).toBe(true); // a rule without from or ports: everyone, every port
    const podOnly = toY([{ from: [{ podSelector: { matchLabels: { app: "x" } } }], ports: [{ port: 80 }] }]);
    expect(allows(podOnly, ns, x, y, 80)).toBe(true);
    expect(allows(podOnly, ns, z, y, 80)).toBe(false); // podSelector alone: the policy's namespace
    expect(allows(podOnly, ns, x, y, 81)).toBe(false);
    const nsAndPod = toY([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "b" } },
            podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["x"] }] },
          },
        ],
      },
    ]);
    expect(allows(nsAndPod, ns, z, y, 80)).toBe(true);
    expect(allows(nsAndPod, ns, x, y, 80)).toBe(false);
    expect(allows(toY([{ from: [{ ipBlock: { cidr: "10.0.0.0/8" } }] }]), ns, z, y, 80)).toBe(true); // conservative
    // Egress counts too.
    const egress = [
      np({ podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: {} }], ports: [{ port: 53 }] }] }),
    ];
    expect(allows(egress, ns, x, y, 80)).toBe(false);
    expect(allows(egress, ns, x, y, 53)).toBe(true);
    expect(allows(egress, ns, z, y, 80)).toBe(true); // z's namespace has no policy
  });
});
