#!/usr/bin/env node
// Values for the official Ory Kratos chart (0.59.0, Kratos v1.3.1), one file per
// environment, generated from kratos-config/ (the configuration every environment
// shares) and deploy/environments/<env>.yaml (what differs):
//
//   node deploy/kratos/generate-values.ts           write deploy/kratos/values.<env>.yaml
//   node deploy/kratos/generate-values.ts --check   exit 1 if a committed file is stale
//
// kratos.config is kratos-config/kratos.yml with the same per-environment overrides the
// local stack applies through environment variables (kratosEnv() in
// tools/stack/services.ts), made for a cluster:
//   - dsn and secrets are removed: Kratos reads DSN and SECRETS_* from the existing
//     Secret the chart names (secret.nameOverride), never from values;
//   - every local URL (http://localhost:<port>, http://127.0.0.1:<port>) becomes the
//     environment's URL of the same service, path kept (7401 → https://<app host>,
//     7433 → https://<auth host>, 7411 → the auth-service's admin Service, …);
//   - CORS origins and allowed return URLs are the environment's four origins;
//   - cookies.domain and session.cookie.domain are the environment's parent domain;
//   - identity schemas are shipped in kratos.identitySchemas (the chart mounts them
//     in /etc/config) and the webhook body inline as base64://;
//   - the webhook's shared secret and the SMTP URI are placeholders in the config:
//     the real values come from the Secret (webhookSecret through deployment.extraEnv,
//     smtpConnectionURI through the chart's own wiring);
//   - the breached-password check is on (README "Kratos configuration");
//   - logging is the deploy's decision, not kratos.yml's: info, JSON, sensitive values
//     redacted, for Kratos (log.*) and for the courier, whose level the chart sets with
//     LOG_LEVEL from statefulSet.log (the chart's default there is trace);
//   - tracing follows the Gatehouse chart's `tracing` values for the environment (the
//     same collector and ratio as the gateway and the auth-service), as the local stack
//     points Kratos at its Jaeger.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, relative, resolve } from "node:path";
import { parse, stringify } from "yaml";
import {
  type Environment,
  environmentNames,
  gatehouseValuesFiles,
  kratosValuesFile,
  loadEnvironment,
  REPO_ROOT,
  type SocialProvider,
  serviceUrls,
} from "../lib/environments.ts";
import { kratosTracingConfig } from "../lib/kratos-env.ts";

export const KRATOS_CONFIG_DIR = resolve(REPO_ROOT, "kratos-config");
/** Where the chart mounts its config ConfigMap (kratos.yaml and kratos.identitySchemas). */
export const CHART_CONFIG_DIR = "/etc/config";
export const WEBHOOK_SECRET_PLACEHOLDER = "set-from-the-kratos-secret-webhookSecret";
export const SMTP_URI_PLACEHOLDER = "smtps://set-from-the-kratos-secret-smtpConnectionURI.invalid/";

/**
 * Kratos' logging in every cluster: info, redacted. At debug and trace Kratos and its
 * courier log far more of each request, flow and message, and leak_sensitive_values would
 * print identifiers and addresses at any level. The courier takes its level from the
 * chart's statefulSet.log (LOG_LEVEL, which overrides log.level; the chart's default is trace).
 */
export const KRATOS_LOG = { level: "info", format: "json", leak_sensitive_values: false } as const;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** The Gatehouse chart's `tracing` values for an environment: its values files, merged in Helm's order. */
export function gatehouseTracing(env: Environment): { enabled: boolean; otlpEndpoint: string; samplerRatio: number } {
  const merged: Record<string, unknown> = {};
  for (const file of gatehouseValuesFiles(env)) {
    const doc = parse(readFileSync(file, "utf8")) as { tracing?: Record<string, unknown> } | null;
    Object.assign(merged, doc?.tracing ?? {});
  }
  return {
    enabled: merged.enabled === true,
    otlpEndpoint: String(merged.otlpEndpoint ?? ""),
    samplerRatio: Number(merged.samplerRatio ?? 0),
  };
}

/** The local stack's ports (tools/stack/config.ts) → the environment's URL of that service. */
export function localOrigins(env: Environment): Record<string, string> {
  const urls = serviceUrls(env);
  return {
    "7400": `https://${env.hosts.api}`, // gateway
    "7401": `https://${env.hosts.app}`, // web (self-service UI)
    "7402": `https://${env.hosts.www}`, // marketing
    "7403": `https://${env.hosts.api}`, // example API, behind the gateway
    "7411": urls.authAdmin, // auth-service admin (webhook)
    "7433": `https://${env.hosts.auth}`, // Kratos public, through the gateway
    "7434": urls.kratosAdmin, // Kratos admin, in-cluster only
  };
}

export function environmentOrigins(env: Environment): string[] {
  return [env.hosts.app, env.hosts.www, env.hosts.api, env.hosts.auth].map((h) => `https://${h}`);
}

function rewriteUrls(node: Json, origins: Record<string, string>, where: string): Json {
  if (typeof node === "string") {
    const m = /^http:\/\/(localhost|127\.0\.0\.1):(\d+)(\/.*)?$/.exec(node);
    if (!m) return node;
    const port = m[2] ?? "";
    const origin = origins[port];
    if (!origin) throw new Error(`kratos.yml ${where}: no environment URL for local port ${port} (${node})`);
    return `${origin}${m[3] ?? ""}`;
  }
  if (Array.isArray(node)) return node.map((v, i) => rewriteUrls(v, origins, `${where}[${i}]`));
  if (node && typeof node === "object") {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, rewriteUrls(v, origins, `${where}.${k}`)]));
  }
  return node;
}

const fileRef = (url: string) => /^file:\/\/(\.\/)?(.+)$/.exec(url)?.[2];
const obj = (v: Json | undefined, path: string): Obj => {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error(`kratos.yml: ${path} is not a map`);
  return v;
};

export function readKratosYml(): Obj {
  return parse(readFileSync(resolve(KRATOS_CONFIG_DIR, "kratos.yml"), "utf8")) as Obj;
}

export const OIDC_SECRET_PLACEHOLDER = "set-from-the-kratos-secret";
const SCOPES: Record<SocialProvider["provider"], string[]> = {
  google: ["openid", "email", "profile"],
  microsoft: ["openid", "email", "profile"],
  generic: ["openid", "email", "profile"],
  github: ["user:email"],
};

/**
 * The environment's social sign-in providers as Kratos' oidc config: PKCE forced, the
 * shared claims mapper (kratos-config/oidc-claims.jsonnet) inline, and each client
 * secret a placeholder that Kratos' env var of the same path overrides from the
 * Secret (key oidcClientSecret-<id>). The local stack's IdP is never among them: it
 * exists only in tools/stack, and an issuer on a loopback host is refused here.
 */
export function socialSignIn(env: Environment) {
  const mapper = `base64://${readFileSync(resolve(KRATOS_CONFIG_DIR, "oidc-claims.jsonnet")).toString("base64")}`;
  const list = env.kratos.socialSignIn ?? [];
  const providers = list.map((p) => {
    if (p.issuerUrl && /^https:\/\/(localhost|127\.|\[::1\])/.test(p.issuerUrl))
      throw new Error(`${env.name}: provider ${p.id}: a loopback issuer is the local IdP, never deployed`);
    return {
      id: p.id,
      provider: p.provider,
      ...(p.label ? { label: p.label } : {}),
      client_id: p.clientId,
      client_secret: OIDC_SECRET_PLACEHOLDER,
      ...(p.issuerUrl ? { issuer_url: p.issuerUrl } : {}),
      ...(p.microsoftTenant ? { microsoft_tenant: p.microsoftTenant } : {}),
      scope: SCOPES[p.provider],
      mapper_url: mapper,
      pkce: "force",
    };
  });
  const secretEnvs = list.map((p, i) => ({
    name: `SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS_${i}_CLIENT_SECRET`,
    key: `oidcClientSecret-${p.id}`,
  }));
  return { providers, secretEnvs };
}

/** kratos.config and kratos.identitySchemas for one environment. */
export function kratosConfigFor(env: Environment, kratosYml: Obj = readKratosYml()) {
  const config = rewriteUrls(structuredClone(kratosYml), localOrigins(env), "") as Obj;
  delete config.dsn;
  delete config.secrets;

  const serve = obj(config.serve, "serve");
  const pub = obj(serve.public, "serve.public");
  const adm = obj(serve.admin, "serve.admin");
  pub.port = 4433;
  adm.port = 4434;
  obj(pub.cors, "serve.public.cors").allowed_origins = environmentOrigins(env);

  config.log = { ...KRATOS_LOG };
  const tracing = gatehouseTracing(env);
  if (tracing.enabled) config.tracing = kratosTracingConfig(tracing.otlpEndpoint, tracing.samplerRatio);

  obj(config.cookies, "cookies").domain = env.domain;
  obj(obj(config.session, "session").cookie, "session.cookie").domain = env.domain;

  const selfservice = obj(config.selfservice, "selfservice");
  selfservice.allowed_return_urls = environmentOrigins(env);
  const password = obj(obj(selfservice.methods, "selfservice.methods").password, "selfservice.methods.password");
  obj(password.config, "selfservice.methods.password.config").haveibeenpwned_enabled = true;

  // Identity schemas: file contents into the chart's ConfigMap, URLs to where it is mounted.
  const identitySchemas: Record<string, string> = {};
  const identity = obj(config.identity, "identity");
  for (const s of identity.schemas as Obj[]) {
    const file = fileRef(String(s.url));
    if (!file) continue;
    identitySchemas[basename(file)] = readFileSync(resolve(KRATOS_CONFIG_DIR, file), "utf8");
    s.url = `file://${CHART_CONFIG_DIR}/${basename(file)}`;
  }

  // Webhooks: jsonnet bodies inline, shared secrets from the Secret.
  const flows = obj(selfservice.flows, "selfservice.flows");
  const hooks: Obj[] = [];
  const secretEnvs: string[] = [];
  // Kratos' env override of a list entry past the first turns the entries before it into
  // null (and Kratos refuses the config) unless they are named too: each earlier hook is
  // named again by its `hook` (the local stack's kratosEnv does the same).
  const restated: { name: string; value: string }[] = [];
  const envName = (path: string[], ...rest: string[]) =>
    ["selfservice", "flows", ...path, ...rest].join("_").toUpperCase();
  const collect = (n: Json, path: string[]) => {
    if (Array.isArray(n)) {
      for (const [i, c] of n.entries()) {
        if (i > 0 && c && typeof c === "object" && !Array.isArray(c) && c.hook === "web_hook")
          for (const [j, before] of n.slice(0, i).entries()) {
            const name = envName([...path, String(j)], "hook");
            const hook = (before as Obj).hook;
            if (typeof hook !== "string")
              throw new Error(`kratos.yml selfservice.flows.${path.join(".")}.${j}: no hook`);
            if (!restated.some((r) => r.name === name)) restated.push({ name, value: hook });
          }
        collect(c, [...path, String(i)]);
      }
    } else if (n && typeof n === "object") {
      if (n.hook === "web_hook") {
        hooks.push(n);
        // Kratos reads the env var named after the config path (SELFSERVICE_FLOWS_…_HOOKS_<i>_…).
        secretEnvs.push(envName(path, "config", "auth", "config", "value"));
      }
      for (const [k, v] of Object.entries(n)) collect(v, [...path, k]);
    }
  };
  collect(flows, []);
  for (const h of hooks) {
    const c = obj(h.config, "web_hook.config");
    const body = typeof c.body === "string" ? fileRef(c.body) : undefined;
    if (body) c.body = `base64://${readFileSync(resolve(KRATOS_CONFIG_DIR, body)).toString("base64")}`;
    const auth = c.auth as Obj | undefined;
    if (auth?.config && typeof auth.config === "object" && !Array.isArray(auth.config) && "value" in auth.config) {
      auth.config.value = WEBHOOK_SECRET_PLACEHOLDER;
    }
  }

  // Passkeys: the relying party is the environment's parent domain (origins, the app's
  // URL, came with the URL rewrite above).
  const passkey = obj(obj(selfservice.methods, "selfservice.methods").passkey, "selfservice.methods.passkey");
  obj(obj(passkey.config, "passkey.config").rp, "passkey.config.rp").id = env.domain;

  const social = socialSignIn(env);
  if (social.providers.length) {
    const methods = obj(selfservice.methods, "selfservice.methods");
    methods.oidc = { enabled: true, config: { providers: social.providers } };
  }

  const smtp = obj(obj(config.courier, "courier").smtp, "courier.smtp");
  smtp.connection_uri = SMTP_URI_PLACEHOLDER;
  smtp.from_address = env.kratos.smtpFrom;

  // Courier templates, if kratos.yml overrides them: <template>/<valid|invalid>/email.*.gotmpl.
  const emailTemplates: Record<string, Record<string, Record<string, string>>> = {};
  const courier = obj(config.courier, "courier");
  if (typeof courier.template_override_path === "string") {
    const dir = resolve(KRATOS_CONFIG_DIR, "courier-templates");
    const files = {
      subject: "email.subject.gotmpl",
      body: "email.body.gotmpl",
      plainBody: "email.body.plaintext.gotmpl",
    };
    for (const t of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const result of ["valid", "invalid"]) {
        const entry: Record<string, string> = {};
        for (const [k, f] of Object.entries(files)) {
          try {
            entry[k] = readFileSync(resolve(dir, t.name, result, f), "utf8");
          } catch {}
        }
        if (Object.keys(entry).length) {
          emailTemplates[t.name] ??= {};
          emailTemplates[t.name]![result] = entry;
        }
      }
    }
    courier.template_override_path = "/conf/courier-templates";
  }
  return {
    config,
    identitySchemas,
    emailTemplates,
    webhookSecretEnvs: secretEnvs,
    restatedHookEnvs: restated,
    oidcSecretEnvs: social.secretEnvs,
  };
}

/** The whole values file for the official chart. Only keys of its values.yaml. */
export function kratosValues(env: Environment, kratosYml: Obj = readKratosYml()): Obj {
  const { config, identitySchemas, emailTemplates, webhookSecretEnvs, restatedHookEnvs, oidcSecretEnvs } =
    kratosConfigFor(env, kratosYml);
  const prod = env.profile === "prod";
  const secretEnv = (name: string, key: string) => ({
    name,
    valueFrom: { secretKeyRef: { name: env.kratos.secret, key } },
  });
  // ephemeral-storage: Kratos writes nothing to disk (read-only root filesystem): its logs.
  const resources = {
    requests: { cpu: prod ? "250m" : "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
    limits: { cpu: "1", memory: "512Mi", "ephemeral-storage": "256Mi" },
  };
  const jobResources = {
    requests: { cpu: "50m", memory: "64Mi", "ephemeral-storage": "32Mi" },
    limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "128Mi" },
  };
  // The serve pods of this release (the chart's selector labels).
  const servePods = { "app.kubernetes.io/name": "kratos", "app.kubernetes.io/instance": env.releases.kratos };
  // Probes on the admin port, with the Host header the chart's own probes send.
  const adminProbe = (path: string) => ({
    httpGet: { path, port: "http-admin", httpHeaders: [{ name: "Host", value: "127.0.0.1" }] },
  });
  const values: Obj = {
    image: { repository: "oryd/kratos", tag: "v1.3.1" },
    replicaCount: env.kratos.replicas,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    // DSN, SECRETS_* and the SMTP URI come from this existing Secret; the chart creates none.
    secret: { enabled: false, nameOverride: env.kratos.secret },
    // Browsers reach Kratos' public API only through the gateway (brute-force protection), on
    // the auth host, which serve.public.base_url names: no Ingress, no LoadBalancer or
    // NodePort here. The admin API (no authentication of its own) stays in the cluster;
    // the Gatehouse chart's NetworkPolicies say which pods reach either.
    service: { admin: { enabled: true, type: "ClusterIP" }, public: { enabled: true, type: "ClusterIP" } },
    ingress: { admin: { enabled: false }, public: { enabled: false } },
    kratos: {
      development: false,
      automigration: { enabled: true, type: "job" },
      identitySchemas,
      ...(Object.keys(emailTemplates).length ? { emailTemplates } : {}),
      config,
    },
    deployment: {
      extraEnv: [
        ...webhookSecretEnvs.map((name) => secretEnv(name, "webhookSecret")),
        ...restatedHookEnvs,
        ...oidcSecretEnvs.map(({ name, key }) => secretEnv(name, key)),
        { name: "SQA_OPT_OUT", value: "true" },
      ],
      resources,
      // Readiness is Kratos' own readiness (its database answers), not mere liveness (the
      // chart's default readiness asks /admin/health/alive); liveness restarts a process
      // that stopped answering at all. The startup probe (the chart's, on /admin/health/ready)
      // gets two minutes for a slow database instead of five seconds.
      customReadinessProbe: {
        ...adminProbe("/admin/health/ready"),
        periodSeconds: 5,
        timeoutSeconds: 3,
        failureThreshold: 3,
      },
      customLivenessProbe: {
        ...adminProbe("/admin/health/alive"),
        periodSeconds: 10,
        timeoutSeconds: 3,
        failureThreshold: 6,
      },
      startupProbe: {
        failureThreshold: 60,
        successThreshold: 1,
        periodSeconds: 2,
        timeoutSeconds: 2,
        initialDelaySeconds: 1,
      },
      // Keep serving while the endpoint removal reaches the gateway, then SIGTERM (Kratos drains).
      lifecycle: { preStop: { sleep: { seconds: 5 } } },
      automountServiceAccountToken: false,
      // As the Gatehouse chart places its own replicas: never two on a node while another has
      // fewer (hard), zones soft, and a preferred anti-affinity as the scheduler's tie-breaker.
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: servePods } },
            },
          ],
        },
      },
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "DoNotSchedule",
          nodeTaintsPolicy: "Honor",
          matchLabelKeys: ["pod-template-hash"],
          labelSelector: { matchLabels: servePods },
        },
        {
          maxSkew: 1,
          topologyKey: "topology.kubernetes.io/zone",
          whenUnsatisfiable: "ScheduleAnyway",
          matchLabelKeys: ["pod-template-hash"],
          labelSelector: { matchLabels: servePods },
        },
      ],
    },
    // The courier (a StatefulSet of one: Kratos' queue has no row locking, two couriers would
    // send twice): its LOG_LEVEL and LOG_FORMAT, or it logs at the chart's trace. Its requests
    // and limits are deployment.resources: chart 0.59.0 reads no statefulSet.resources.
    statefulSet: { log: { level: KRATOS_LOG.level, format: KRATOS_LOG.format } },
    job: { resources: jobResources },
    // The cleanup CronJob's pod security context: its template reads this top-level key
    // (not in the chart's values.yaml); the same as the chart's for the serve pods.
    podSecurityContext: {
      fsGroupChangePolicy: "OnRootMismatch",
      runAsNonRoot: true,
      runAsUser: 65534,
      fsGroup: 65534,
      runAsGroup: 65534,
      seccompProfile: { type: "RuntimeDefault" },
    },
    // The hourly `kratos cleanup sql`: sized, and without a service-account token (it calls
    // no Kubernetes API; the chart mounts one by default).
    cronjob: { cleanup: { resources: jobResources, automountServiceAccountToken: false } },
    courier: { enabled: true },
    // Prod scales on CPU from the environment's replica count; the chart then sets no replicas.
    autoscaling: prod
      ? {
          enabled: true,
          minReplicas: env.kratos.replicas,
          maxReplicas: Math.max(10, env.kratos.replicas),
          targetCPU: { type: "Utilization", averageUtilization: 70 },
        }
      : { enabled: false },
    pdb: { enabled: env.kratos.replicas > 1, spec: { minAvailable: null, maxUnavailable: 1 } },
    cleanup: { enabled: true },
    serviceMonitor: { enabled: prod },
    // `helm test kratos`: a pinned busybox (the chart's default is the moving tag 1).
    test: { busybox: { repository: "busybox", tag: "1.37.0" } },
  };
  return values;
}

export function renderValuesFile(env: Environment): string {
  const header = [
    `# GENERATED by \`node deploy/kratos/generate-values.ts\` from kratos-config/ and`,
    `# deploy/environments/${env.name}.yaml. Do not edit: change those and regenerate`,
    `# (test/deploy fails when this file is stale).`,
    `# For the official chart: helm upgrade --install ${env.releases.kratos} ${env.kratos.chart} --repo ${env.kratos.chartRepo} \\`,
    `#   --version ${env.kratos.chartVersion} -n ${env.namespaces.kratos} -f deploy/kratos/values.${env.name}.yaml`,
    `# Secrets live in the existing Secret ${env.namespaces.kratos}/${env.kratos.secret} (deploy/README.md "Secrets").`,
  ];
  return `${header.join("\n")}\n${stringify(kratosValues(env), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

if (import.meta.main) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const name of environmentNames()) {
    const env = loadEnvironment(name);
    const file = kratosValuesFile(env);
    const want = renderValuesFile(env);
    let have = "";
    try {
      have = readFileSync(file, "utf8");
    } catch {}
    if (have === want) continue;
    if (check) {
      console.error(`${relative(REPO_ROOT, file)} is stale: run node deploy/kratos/generate-values.ts`);
      stale++;
    } else {
      writeFileSync(file, want);
      console.log(`wrote ${relative(REPO_ROOT, file)}`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
