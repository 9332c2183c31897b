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
  const collect = (n: Json, path: string[]) => {
    if (Array.isArray(n)) for (const [i, c] of n.entries()) collect(c, [...path, String(i)]);
    else if (n && typeof n === "object") {
      if (n.hook === "web_hook") {
        hooks.push(n);
        // Kratos reads the env var named after the config path (SELFSERVICE_FLOWS_…_HOOKS_<i>_…).
        secretEnvs.push(["selfservice", "flows", ...path, "config", "auth", "config", "value"].join("_").toUpperCase());
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
  return { config, identitySchemas, emailTemplates, webhookSecretEnvs: secretEnvs, oidcSecretEnvs: social.secretEnvs };
}

/** The whole values file for the official chart. Only keys of its values.yaml. */
export function kratosValues(env: Environment, kratosYml: Obj = readKratosYml()): Obj {
  const { config, identitySchemas, emailTemplates, webhookSecretEnvs, oidcSecretEnvs } = kratosConfigFor(
    env,
    kratosYml,
  );
  const prod = env.profile === "prod";
  const secretEnv = (name: string, key: string) => ({
    name,
    valueFrom: { secretKeyRef: { name: env.kratos.secret, key } },
  });
  const resources = {
    requests: { cpu: prod ? "250m" : "100m", memory: "128Mi" },
    limits: { cpu: "1", memory: "512Mi" },
  };
  const spread = (name: string) => [
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: { "app.kubernetes.io/name": name } },
    },
  ];
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
        ...oidcSecretEnvs.map(({ name, key }) => secretEnv(name, key)),
        { name: "SQA_OPT_OUT", value: "true" },
      ],
      resources,
      automountServiceAccountToken: false,
      topologySpreadConstraints: spread("kratos"),
    },
    // The courier (a StatefulSet): its LOG_LEVEL and LOG_FORMAT, or it logs at the chart's trace.
    statefulSet: { resources, log: { level: KRATOS_LOG.level, format: KRATOS_LOG.format } },
    job: { resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } } },
    courier: { enabled: true },
    pdb: { enabled: env.kratos.replicas > 1, spec: { minAvailable: null, maxUnavailable: 1 } },
    cleanup: { enabled: true },
    serviceMonitor: { enabled: prod },
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
