// Values for the official Ory Kratos chart (deploy/kratos/values.<env>.yaml): generated
// from kratos-config/, never stale, only keys the chart's values.yaml (0.59.0, copied in
// deploy/kratos/reference/) has, a kratos.config Kratos v1.3.1 accepts and that differs
// from kratos.yml only where an environment must, and in step with the Gatehouse chart.
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KRATOS_PATHS } from "../../apps/gateway/src/kratos/passthrough.ts";
import { gatehouseSecretNames } from "../../deploy/deploy.ts";
import {
  gatehouseTracing,
  KRATOS_LOG,
  kratosConfigFor,
  kratosValues,
  OIDC_SECRET_PLACEHOLDER,
  readKratosYml,
  renderValuesFile,
} from "../../deploy/kratos/generate-values.ts";
import {
  type Environment,
  environmentNames,
  gatehouseValuesFiles,
  kratosValuesFile,
  loadEnvironment,
  serviceUrls,
} from "../../deploy/lib/environments.ts";
import { envToConfigPath, getPath, kratosTracingConfig } from "../../deploy/lib/kratos-env.ts";
import { containersOf, type Manifest, podSpecOf } from "../../deploy/lib/policies.ts";
import { stackConfig } from "../../tools/stack/config.ts";
import { kratosEnv } from "../../tools/stack/services.ts";
import { find, must, REPO_ROOT, renderEnvironment } from "./support.ts";

type Obj = Record<string, unknown>;
const REFERENCE = resolve(REPO_ROOT, "deploy/kratos/reference");
const reference = () => parse(readFileSync(resolve(REFERENCE, "values.yaml"), "utf8")) as Obj;
const committed = (env: Environment) => parse(readFileSync(kratosValuesFile(env), "utf8")) as Obj;
const isMap = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

// Subtrees whose keys are not the chart's but Kratos' (checked against Kratos' own
// schema below) or file names the chart mounts.
const OPEN = ["kratos.config", "kratos.identitySchemas", "kratos.emailTemplates"];

/** `.Values.<path>` the chart's templates read (a few are in no values.yaml, e.g. podSecurityContext). */
function readByTemplates(): Set<string> {
  const dir = resolve(REFERENCE, "templates");
  const paths = new Set<string>();
  for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((x) => /\.(ya?ml|tpl)$/.test(x)))
    for (const m of readFileSync(resolve(dir, f), "utf8").matchAll(/\.Values\.([A-Za-z0-9_.]+)/g))
      paths.add(m[1] ?? "");
  return paths;
}
const READ = readByTemplates();

/** Keys set in `values` that the reference values.yaml does not have and no template reads. */
function unknownKeys(values: unknown, ref: unknown, path: string[] = []): string[] {
  if (!isMap(values)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const p = [...path, k];
    if (OPEN.includes(p.join("."))) continue;
    if (!isMap(ref) || !Object.hasOwn(ref, k)) {
      if (READ.has(p.join("."))) continue;
      out.push(p.join("."));
      continue;
    }
    const r = ref[k];
    // An empty map or a list in the chart's values is free-form there (resources: {}, extraEnv: []).
    if ((isMap(r) && Object.keys(r).length === 0) || Array.isArray(r)) continue;
    out.push(...unknownKeys(v, r, p));
  }
  return out;
}

function kratosSchemaValidator() {
  const ref = (f: string) =>
    JSON.parse(readFileSync(resolve(REPO_ROOT, "kratos-config/reference/kratos-v1.3.1", f), "utf8")) as Obj;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats.default(ajv);
  for (const f of ["duration", "uri-or-file"]) ajv.addFormat(f, true);
  ajv.addSchema(ref("tracing-config.schema.json"));
  ajv.addSchema(ref("identity_extension.schema.json"));
  return ajv.compile(ref("config.schema.json"));
}

/** Leaf paths (array indexes as numbers) where two documents differ. */
function diffPaths(a: unknown, b: unknown, path: string[] = []): string[] {
  if (isMap(a) && isMap(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) => diffPaths(a[k], b[k], [...path, k]));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x) => isMap(x)))
    return a.flatMap((x, i) => diffPaths(x, b[i], [...path, String(i)]));
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path.join(".")];
}

let envs: Environment[] = [];
beforeAll(() => {
  envs = environmentNames().map(loadEnvironment);
});

describe("generated values", () => {
  it("every environment has its values file, and none is stale", () => {
    expect(envs.map((e) => e.name)).toEqual(expect.arrayContaining(["prod", "staging"]));
    for (const env of envs) {
      expect(
        readFileSync(kratosValuesFile(env), "utf8"),
        `deploy/kratos/values.${env.name}.yaml is stale: run node deploy/kratos/generate-values.ts`,
      ).toBe(renderValuesFile(env));
    }
  });

  it("a change to kratos-config/kratos.yml makes the committed values stale", () => {
    const env = loadEnvironment("prod");
    const yml = readKratosYml();
    (yml.session as Obj).lifespan = "12h";
    expect(kratosValues(env, yml)).not.toEqual(committed(env));
    expect(((kratosValues(env, yml).kratos as Obj).config as { session: Obj }).session.lifespan).toBe("12h");
  });
});

describe("only keys the official chart's values.yaml has", () => {
  it("the reference is the chart 0.59.0 that ships Kratos v1.3.1, with its license", () => {
    const chart = parse(readFileSync(resolve(REFERENCE, "Chart.yaml"), "utf8")) as Obj;
    expect(chart).toMatchObject({ name: "kratos", version: "0.59.0", appVersion: "v1.3.1" });
    expect(readFileSync(resolve(REFERENCE, "LICENSE"), "utf8")).toContain("Apache License");
    for (const env of envs) expect(env.kratos.chartVersion).toBe(chart.version);
  });

  it("every key set in every environment's values exists in the reference values.yaml", () => {
    for (const env of envs) expect(unknownKeys(committed(env), reference()), env.name).toEqual([]);
  });

  it("the check catches a misspelt or invented key", () => {
    const v = committed(loadEnvironment("prod"));
    (v.deployment as Obj).resourcez = {};
    (v.kratos as Obj).automigrate = true;
    (v.pdb as { spec: Obj }).spec.minAvailabel = 1;
    v.networkPolicy = { enabled: true };
    expect(unknownKeys(v, reference()).sort()).toEqual(
      ["deployment.resourcez", "kratos.automigrate", "networkPolicy", "pdb.spec.minAvailabel"].sort(),
    );
  });
});

describe("kratos.config", () => {
  it("is a configuration Kratos v1.3.1 accepts (with DSN and secrets, which come from the Secret)", () => {
    const fromSecret = {
      dsn: "postgres://from-the-secret/kratos",
      secrets: { cookie: ["c".repeat(32)], cipher: ["x".repeat(32)], default: ["d".repeat(32)] },
    };
    const validate = kratosSchemaValidator();
    for (const env of envs) {
      const config = structuredClone((committed(env).kratos as Obj).config as Obj);
      expect(config.dsn, "the DSN must never be in values").toBeUndefined();
      expect(config.secrets, "secrets must never be in values").toBeUndefined();
      const ok = validate({ ...config, ...fromSecret });
      expect(validate.errors ?? [], env.name).toEqual([]);
      expect(ok).toBe(true);
    }
    const broken = structuredClone((committed(loadEnvironment("prod")).kratos as Obj).config as Obj);
    (broken.session as Obj).lifespan_typo = "1h";
    expect(validate({ ...broken, ...fromSecret })).toBe(false);
  });

  it("equals kratos.yml except where an environment must differ, with URL paths kept", () => {
    const yml = readKratosYml();
    const allowed = [
      /^dsn$/,
      /^secrets(\.|$)/,
      /^serve\.(public|admin)\.(base_url|port)$/,
      /^serve\.public\.cors\.allowed_origins$/,
      /^cookies\.domain$/,
      /^session\.cookie\.domain$/,
      /^selfservice\.allowed_return_urls$/,
      /^selfservice\.default_browser_return_url$/,
      /^selfservice\.flows\.\w+\.ui_url$/,
      /^selfservice\.flows\.\w+\.after\.default_browser_return_url$/,
      /^selfservice\.methods\.password\.config\.haveibeenpwned_enabled$/,
      // Webhooks: the auth-service's in-cluster URL, the body inline, the secret from the Secret.
      /^selfservice\.flows\.[\w.]+\.hooks\.\d+\.config\.(url|body|auth\.config\.value)$/,
      /^identity\.schemas\.0\.url$/,
      /^courier\.smtp\.(connection_uri|from_address)$/,
      // The code emails' templates, shipped in kratos.emailTemplates and mounted by the chart.
      /^courier\.template_override_path$/,
      // Passkeys belong to the environment's parent domain and its app's origin.
      /^selfservice\.methods\.passkey\.config\.rp\.(id|origins)$/,
      // The cluster's logging is the deploy's decision (KRATOS_LOG), not the local default's.
      /^log\.(level|format|leak_sensitive_values)$/,
      // Traces go where the Gatehouse chart's tracing values send the services' (checked below).
      /^tracing$/,
    ];
    for (const env of envs) {
      const config = (committed(env).kratos as Obj).config as Obj;
      const diffs = diffPaths(yml, config);
      expect(
        diffs.filter((d) => !allowed.some((re) => re.test(d))),
        env.name,
      ).toEqual([]);
      for (const d of diffs) {
        const before = getPath(yml, d.split("."));
        const after = getPath(config, d.split("."));
        if (typeof before === "string" && /^https?:\/\//.test(before) && typeof after === "string") {
          expect(new URL(after).pathname, d).toBe(new URL(before).pathname);
          expect(after, d).not.toMatch(/localhost|127\.0\.0\.1/);
        }
      }
      expect(getPath(config, ["cookies", "domain"])).toBe(env.domain);
      expect(getPath(config, ["session", "cookie", "domain"])).toBe(env.domain);
      expect(getPath(config, ["selfservice", "methods", "passkey", "config", "rp"])).toMatchObject({
        id: env.domain,
        origins: [`https://${env.hosts.app}`],
      });
      expect(getPath(config, ["serve", "public", "base_url"])).toBe(`https://${env.hosts.auth}/`);
    }
  });

  it("traces to the collector of the Gatehouse chart's tracing values, at its ratio, or not at all", () => {
    for (const env of envs) {
      const tracing = gatehouseTracing(env);
      const config = (committed(env).kratos as Obj).config as Obj;
      if (!tracing.enabled) {
        expect(config.tracing, env.name).toBeUndefined();
        continue;
      }
      const u = new URL(tracing.otlpEndpoint);
      expect(config.tracing, env.name).toEqual({
        provider: "otel",
        service_name: "kratos",
        providers: {
          otlp: {
            server_url: `${u.hostname}:${u.port}`,
            insecure: u.protocol === "http:",
            sampling: { sampling_ratio: tracing.samplerRatio },
          },
        },
      });
    }
    expect(() => kratosTracingConfig("http://collector:4318/otlp", 1)).toThrow(/no path/);
    expect(kratosTracingConfig("https://collector.example", 0.5).providers.otlp).toEqual({
      server_url: "collector.example:443",
      insecure: false,
      sampling: { sampling_ratio: 0.5 },
    });
  });

  it("ships the identity schema and the webhook body of kratos-config/ byte for byte", () => {
    const schema = readFileSync(resolve(REPO_ROOT, "kratos-config/identity.schema.json"), "utf8");
    const jsonnet = readFileSync(resolve(REPO_ROOT, "kratos-config/registration-webhook.jsonnet"), "utf8");
    for (const env of envs) {
      const v = committed(env).kratos as { identitySchemas: Obj; config: Obj };
      expect(v.identitySchemas).toEqual({ "identity.schema.json": schema });
      expect(getPath(v.config, ["identity", "schemas", 0, "url"])).toBe("file:///etc/config/identity.schema.json");
      const hook = getPath(v.config, ["selfservice", "flows", "registration", "after", "password", "hooks", 0]) as {
        config: { body: string; url: string };
      };
      expect(Buffer.from(hook.config.body.replace("base64://", ""), "base64").toString("utf8")).toBe(jsonnet);
    }
  });

  it("covers every per-environment override the local stack sets (kratosEnv in tools/stack/services.ts)", () => {
    const local = kratosEnv(stackConfig("dev", { domain: "gatehouse.localhost" }), "smtp://x:25", "postgres://x/y");
    const processOnly = /^(SERVE_(PUBLIC|ADMIN)_(PORT|HOST)|LOG_LEVEL|SQA_OPT_OUT)$/;
    const chartWired = new Set(["DSN", "SECRETS_COOKIE", "SECRETS_CIPHER", "SECRETS_DEFAULT"]);
    for (const env of envs) {
      const v = committed(env) as { kratos: { config: Obj }; deployment: { extraEnv: { name: string }[] } };
      const extraEnv = new Set(v.deployment.extraEnv.map((e) => e.name));
      for (const name of Object.keys(local)) {
        if (processOnly.test(name) || chartWired.has(name) || extraEnv.has(name)) continue;
        const path = envToConfigPath(v.kratos.config, name);
        expect(path, `${env.name}: ${name} (set by the local stack) is not set in kratos.config`).toBeDefined();
        expect(getPath(v.kratos.config, path ?? []), name).not.toBe("");
      }
    }
  });
});

describe("logs: no codes, links or addresses at a level that ships by default", () => {
  // Levels at which Kratos and its courier log no SQL, request or message details.
  // Kratos' schema spells warning in full; logrus (LOG_LEVEL) reads it too.
  const QUIET = ["info", "warning", "error", "fatal", "panic"];
  type Values = Obj & { kratos: { config: Obj } };

  /** What each process runs with, the chart's own defaults filled in from its values.yaml. */
  function logging(values: Values) {
    const chart = reference() as { statefulSet: { log: { level: string } } };
    const config = (values.kratos.config.log ?? {}) as Obj;
    const courier = ((values.statefulSet as Obj | undefined)?.log ?? {}) as Obj;
    return {
      // kratos serve reads log.level (the chart sets no LOG_LEVEL on its Deployment).
      kratos: config.level,
      // The courier's StatefulSet gets LOG_LEVEL from statefulSet.log.level, which wins over log.level.
      courier: courier.level ?? chart.statefulSet.log.level,
      leak: config.leak_sensitive_values,
    };
  }

  /** Every env list the chart passes to a Kratos process: none may set LOG_* behind the values' back. */
  function logEnv(values: Values): string[] {
    const lists = [
      getPath(values, ["deployment", "extraEnv"]),
      getPath(values, ["deployment", "automigration", "extraEnv"]),
      getPath(values, ["statefulSet", "extraEnv"]),
      getPath(values, ["job", "extraEnv"]),
      getPath(values, ["cronjob", "cleanup", "extraEnv"]),
    ];
    return lists
      .flatMap((l) => (Array.isArray(l) ? (l as { name: string }[]) : []))
      .map((e) => e.name)
      .filter((n) => /^LOG_/.test(n));
  }

  it("Kratos and the courier log at info, as JSON, with sensitive values redacted, in every environment", () => {
    for (const env of envs) {
      const values = committed(env) as Values;
      const l = logging(values);
      expect(l, env.name).toEqual({ kratos: KRATOS_LOG.level, courier: KRATOS_LOG.level, leak: false });
      expect(QUIET, `${env.name}: Kratos`).toContain(l.kratos);
      expect(QUIET, `${env.name}: courier`).toContain(l.courier);
      expect(getPath(values, ["statefulSet", "log", "format"]), env.name).toBe("json");
      expect(getPath(values.kratos.config, ["log", "format"]), env.name).toBe("json");
      expect(logEnv(values), env.name).toEqual([]);
      // envFrom a Secret could set LOG_LEVEL unseen; --dev relaxes Kratos' cookie and CORS checks.
      expect(getPath(values, ["deployment", "environmentSecretsName"]), env.name).toBeUndefined();
      expect(getPath(values, ["statefulSet", "environmentSecretsName"]), env.name).toBeUndefined();
      expect(getPath(values, ["kratos", "development"]), env.name).toBe(false);
    }
  });

  it("the check catches the chart's trace default, a debug level, leaked values and a LOG_LEVEL override", () => {
    const v = committed(loadEnvironment("prod")) as Values;
    delete (v.statefulSet as Obj).log;
    expect(logging(v).courier).toBe("trace");
    const w = committed(loadEnvironment("staging")) as Values;
    (w.kratos.config.log as Obj).level = "debug";
    (w.kratos.config.log as Obj).leak_sensitive_values = true;
    (w.deployment as { extraEnv: Obj[] }).extraEnv.push({ name: "LOG_LEVEL", value: "trace" });
    expect(logging(w)).toMatchObject({ kratos: "debug", leak: true });
    expect(QUIET).not.toContain(logging(w).kratos);
    expect(logEnv(w)).toEqual(["LOG_LEVEL"]);
  });
});

describe("browsers reach Kratos' public API only through the gateway", () => {
  /** Ways the Kratos chart would expose Kratos outside the cluster, its defaults filled in from its values.yaml. */
  function exposures(values: Obj): string[] {
    const ref = reference();
    const value = (path: string[]) => getPath(values, path) ?? getPath(ref, path);
    const out: string[] = [];
    for (const api of ["public", "admin"]) {
      if (value(["ingress", api, "enabled"]) !== false) out.push(`ingress.${api} enabled`);
      if (value(["service", api, "enabled"]) !== false && value(["service", api, "type"]) !== "ClusterIP")
        out.push(`service.${api} is ${String(value(["service", api, "type"]))}`);
    }
    if (value(["service", "courier", "type"]) !== "ClusterIP") out.push("service.courier is not ClusterIP");
    return out;
  }

  it("the Kratos values enable no Ingress and only ClusterIP Services, in every environment", () => {
    for (const env of envs) expect(exposures(committed(env)), env.name).toEqual([]);
  });

  it("the check catches Kratos' own public Ingress and a LoadBalancer", () => {
    const v = committed(loadEnvironment("prod"));
    (getPath(v, ["ingress", "public"]) as Obj).enabled = true;
    delete (getPath(v, ["ingress", "admin"]) as Obj).enabled; // the chart's default (false) is fine
    (getPath(v, ["service", "admin"]) as Obj).type = "LoadBalancer";
    expect(exposures(v)).toEqual(["ingress.public enabled", "service.admin is LoadBalancer"]);
  });

  it("serve.public.base_url is the gateway's origin: the auth host, which only the gateway's Ingress serves", () => {
    for (const env of envs) {
      const config = (committed(env).kratos as Obj).config as Obj;
      const base = new URL(String(getPath(config, ["serve", "public", "base_url"])));
      expect([base.protocol, base.host, base.pathname], env.name).toEqual(["https:", env.hosts.auth, "/"]);
      const r = renderEnvironment(env);
      const gw = must(find(r, "Service", "gateway"), "gateway Service").metadata.name;
      type Rule = { host: string; http: { paths: { path: string; backend: { service: { name: string } } }[] } };
      const rules = r.manifests.filter((m) => m.kind === "Ingress").flatMap((m) => (m.spec as { rules: Rule[] }).rules);
      // Every path of the auth host leads to the gateway (the web app's Ingresses serve only
      // their own hosts); the auth host's / among them (so /self-service/… does).
      for (const rule of rules.filter((x) => x.host === base.host))
        for (const p of rule.http.paths) expect(p.backend.service.name, `${env.name} ${rule.host}`).toBe(gw);
      expect(
        rules.some((x) => x.host === base.host && x.http.paths.some((p) => p.path === "/")),
        env.name,
      ).toBe(true);
      // …whose passthrough forwards Kratos' public API, and nothing of its admin API, to Kratos' Service.
      for (const path of [
        "/self-service/login/browser",
        "/self-service/login",
        "/sessions/whoami",
        "/.well-known/ory/webauthn.js",
      ])
        expect(KRATOS_PATHS.test(path), path).toBe(true);
      for (const path of ["/admin/identities", "/health/ready", "/schemas/person", "/"])
        expect(KRATOS_PATHS.test(path), path).toBe(false);
      const gwEnv = (containersOf(podSpecOf(must(find(r, "Deployment", "gateway"), "gateway")) ?? {})[0] as Obj)
        .env as Obj[];
      expect(gwEnv.find((e) => e.name === "KRATOS_PUBLIC_URL")?.value, env.name).toBe(serviceUrls(env).kratosPublic);
    }
  });
});

describe("in step with the Gatehouse chart", () => {
  it("every webhook reaches the auth-service's admin Service, with the secret from the Kratos Secret", () => {
    for (const env of envs) {
      const r = renderEnvironment(env);
      const svc = must(find(r, "Service", "auth-service"), "auth-service Service");
      const admin = (svc.spec as { ports: { name: string; port: number }[] }).ports.find((p) => p.name === "admin");
      const v = committed(env) as { kratos: { config: Obj }; deployment: { extraEnv: Obj[] }; secret: Obj };
      const hooks: { path: string[]; url: string }[] = [];
      const walk = (n: unknown, path: string[]) => {
        if (Array.isArray(n)) for (const [i, c] of n.entries()) walk(c, [...path, String(i)]);
        else if (n && typeof n === "object") {
          const o = n as { hook?: string; config?: { url: string } };
          if (o.hook === "web_hook" && o.config) hooks.push({ path, url: o.config.url });
          for (const [k, c] of Object.entries(n)) walk(c, [...path, k]);
        }
      };
      walk(getPath(v.kratos.config, ["selfservice", "flows"]), ["selfservice", "flows"]);
      expect(hooks.map((h) => new URL(h.url).pathname).sort()).toEqual([
        "/v1/webhooks/kratos/login",
        "/v1/webhooks/kratos/mfa-changed", // TOTP
        "/v1/webhooks/kratos/mfa-changed", // lookup secrets
        "/v1/webhooks/kratos/mfa-changed", // passkeys
        "/v1/webhooks/kratos/profile-updated",
        "/v1/webhooks/kratos/registration", // after a password sign-up
        "/v1/webhooks/kratos/registration", // after a social one
        "/v1/webhooks/kratos/registration", // after one by emailed code
        "/v1/webhooks/kratos/registration", // after one with a passkey
        "/v1/webhooks/kratos/sessions-revoked",
        "/v1/webhooks/kratos/sessions-revoked",
      ]);
      for (const h of hooks) {
        expect(new URL(h.url).host).toBe(
          `${svc.metadata.name}.${env.namespaces.auth}.svc.cluster.local:${admin?.port}`,
        );
        const name = [...h.path, "config", "auth", "config", "value"].join("_").toUpperCase();
        expect(
          v.deployment.extraEnv.find((e) => e.name === name),
          name,
        ).toEqual({
          name,
          valueFrom: { secretKeyRef: { name: env.kratos.secret, key: "webhookSecret" } },
        });
      }
      expect(v.secret).toEqual({ enabled: false, nameOverride: env.kratos.secret });
    }
  });

  it("Gatehouse reaches Kratos' Services, shares its cookie, hosts, origins and login page", () => {
    for (const env of envs) {
      const r = renderEnvironment(env);
      // The kratos section as Helm merges it from the environment's values files.
      const k: Obj = {};
      for (const f of gatehouseValuesFiles(env)) Object.assign(k, (parse(readFileSync(f, "utf8")) as Obj).kratos);
      expect(k.publicUrl).toBe(serviceUrls(env).kratosPublic);
      expect(k.adminUrl).toBe(serviceUrls(env).kratosAdmin);
      expect(k.namespace).toBe(env.namespaces.kratos);
      // The NetworkPolicies select Kratos' pods by the chart's name label and the release.
      expect(k.podLabels).toEqual({ "app.kubernetes.io/name": "kratos" });
      expect(k.release).toBe(env.releases.kratos);
      // …which is the chart's own name as long as its values leave the name alone.
      const kv = committed(env);
      expect(kv.nameOverride ?? "", env.name).toBe("");
      expect(kv.fullnameOverride ?? "", env.name).toBe("");
      for (const at of [
        ["deployment", "labels"],
        ["deployment", "podMetadata", "labels"],
        ["global", "podMetadata", "labels"],
      ])
        for (const key of ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"])
          expect(Object.keys((getPath(kv, at) ?? {}) as Obj), `${env.name}: ${at.join(".")}`).not.toContain(key);

      const config = (committed(env).kratos as Obj).config as Obj;
      const envOf = (comp: string) =>
        Object.fromEntries(
          ((containersOf(podSpecOf(must(find(r, "Deployment", comp), comp)) ?? {})[0] as Obj).env as Obj[]).map((e) => [
            e.name,
            e.value,
          ]),
        );
      const auth = envOf("auth-service");
      const gw = envOf("gateway");
      expect(auth.KRATOS_COOKIE_NAME).toBe(getPath(config, ["session", "cookie", "name"]));
      expect(gw.KRATOS_COOKIE_NAME).toBe(getPath(config, ["session", "cookie", "name"]));
      expect(gw.LOGIN_URL).toBe(getPath(config, ["selfservice", "flows", "login", "ui_url"]));
      const kratosOrigins = getPath(config, ["serve", "public", "cors", "allowed_origins"]) as string[];
      for (const o of String(auth.CORS_ALLOWED_ORIGINS).split(",")) expect(kratosOrigins).toContain(o);
      // Kratos' public URL is served by the gateway: its host must be an ingress host of the gateway.
      const ingress = must(find(r, "Ingress", "gateway"), "gateway Ingress");
      const hosts = (ingress.spec as { rules: { host: string }[] }).rules.map((x) => x.host);
      expect(hosts).toContain(new URL(String(getPath(config, ["serve", "public", "base_url"]))).host);
      expect(new URL(String(auth.TOKEN_ISSUER)).host).toBe(env.hosts.auth);
      for (const h of String(gw.ALLOWED_RETURN_HOSTS).split(",")) expect(h.endsWith(env.domain)).toBe(true);
    }
  });
});

describe("ExternalSecrets make the Secrets the charts read", () => {
  it("each one named and placed as the Secret it makes: Kratos' in its namespace, under the chart's secret name", () => {
    let seen = 0;
    for (const env of envs) {
      const r = renderEnvironment(env);
      const es = r.manifests.filter((m) => m.kind === "ExternalSecret");
      if (es.length === 0) continue;
      seen++;
      const target = (m: Manifest) => `${m.metadata.namespace}/${String((m.spec as { target: Obj }).target.name)}`;
      const names = gatehouseSecretNames(env);
      expect(es.map(target).sort(), env.name).toEqual(
        [
          `${env.namespaces.auth}/${names.auth}`,
          `${env.namespaces.auth}/${names.gateway}`,
          `${env.namespaces.kratos}/${env.kratos.secret}`,
        ].sort(),
      );
      // The Kratos values read that Secret.
      expect((committed(env) as { secret: Obj }).secret.nameOverride).toBe(env.kratos.secret);
    }
    expect(seen, "an environment with ExternalSecrets").toBeGreaterThan(0);
  });
});

describe("values for a new environment", () => {
  it("derive from kratos.yml for any domain (no environment-specific value is hard-coded)", () => {
    const staging = loadEnvironment("staging");
    const env = { ...staging, name: "qa", domain: "qa.example.org" };
    env.kratos = { ...staging.kratos, smtpFrom: "no-reply@qa.example.org" };
    env.hosts = {
      app: "app.qa.example.org",
      www: "www.qa.example.org",
      api: "api.qa.example.org",
      auth: "id.qa.example.org",
    };
    const { config } = kratosConfigFor(env);
    expect(JSON.stringify(config)).not.toMatch(/staging\.example\.com|localhost|127\.0\.0\.1/);
    expect(getPath(config, ["serve", "public", "base_url"])).toBe("https://id.qa.example.org/");
  });
});

describe("social sign-in providers: configuration in the environment, client secrets from the Secret", () => {
  const withProviders = (socialSignIn: NonNullable<Environment["kratos"]["socialSignIn"]>): Environment => {
    const env = loadEnvironment("prod");
    return { ...env, kratos: { ...env.kratos, socialSignIn } };
  };
  const providers = [
    { id: "google", provider: "google" as const, clientId: "123.apps.googleusercontent.com", label: "Google" },
    { id: "github", provider: "github" as const, clientId: "Iv1.abc", label: "GitHub" },
    { id: "okta", provider: "generic" as const, clientId: "0oa1", issuerUrl: "https://example.okta.com" },
  ];

  it("no providers in an environment: the oidc method stays off, the local IdP nowhere", () => {
    for (const name of environmentNames()) {
      const v = committed(loadEnvironment(name));
      const config = (v.kratos as Obj).config as Obj;
      expect(getPath(config, ["selfservice", "methods", "oidc"])).toEqual({
        enabled: false,
        config: { providers: [] },
      });
      expect(JSON.stringify(v)).not.toMatch(/localhost|oidc-provider|gatehouse-kratos/);
    }
  });

  it("providers become Kratos' oidc config with PKCE forced, the shared mapper, and secrets by env from the Secret", () => {
    const env = withProviders(providers);
    const v = kratosValues(env) as { kratos: { config: Obj }; deployment: { extraEnv: Obj[] } };
    const oidc = getPath(v.kratos.config, ["selfservice", "methods", "oidc"]) as {
      enabled: boolean;
      config: { providers: Obj[] };
    };
    expect(oidc.enabled).toBe(true);
    expect(oidc.config.providers.map((p) => [p.id, p.provider, p.pkce, p.client_secret])).toEqual(
      providers.map((p) => [p.id, p.provider, "force", OIDC_SECRET_PLACEHOLDER]),
    );
    const mapper = String(oidc.config.providers[0]?.mapper_url);
    expect(Buffer.from(mapper.replace("base64://", ""), "base64").toString()).toBe(
      readFileSync(resolve(REPO_ROOT, "kratos-config/oidc-claims.jsonnet"), "utf8"),
    );
    expect(oidc.config.providers[2]?.issuer_url).toBe("https://example.okta.com");
    for (const [i, p] of providers.entries()) {
      const name = `SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS_${i}_CLIENT_SECRET`;
      expect(v.deployment.extraEnv).toContainEqual({
        name,
        valueFrom: { secretKeyRef: { name: env.kratos.secret, key: `oidcClientSecret-${p.id}` } },
      });
      // The env var names exactly the placeholder's path, so Kratos replaces it.
      expect(envToConfigPath(v.kratos.config, name)).toEqual([
        "selfservice",
        "methods",
        "oidc",
        "config",
        "providers",
        i,
        "client_secret",
      ]);
    }
    const validate = kratosSchemaValidator();
    const secrets = { cookie: ["c".repeat(32)], cipher: ["x".repeat(32)], default: ["d".repeat(32)] };
    const ok = validate({ ...v.kratos.config, dsn: "postgres://x/y", secrets });
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it("refuses a loopback issuer (the local IdP)", () => {
    const local = { id: "local", provider: "generic" as const, clientId: "x", issuerUrl: "https://localhost:7444" };
    expect(() => kratosValues(withProviders([local]))).toThrow(/loopback/);
  });
});
