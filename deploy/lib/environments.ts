// Environments (deploy/environments/<name>.yaml): what one cluster's deploy needs to
// know. Read by deploy/deploy.ts and deploy/kratos/generate-values.ts.
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const ENVIRONMENTS_DIR = resolve(REPO_ROOT, "deploy/environments");
export const GATEHOUSE_CHART = resolve(REPO_ROOT, "deploy/helm/gatehouse");

const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface Environment {
  name: string;
  kubeContext: string;
  profile: "default" | "prod";
  domain: string;
  hosts: { app: string; www: string; api: string; auth: string };
  namespaces: { auth: string; kratos: string };
  releases: { gatehouse: string; kratos: string };
  kratos: {
    chartRepo: string;
    chart: string;
    chartVersion: string;
    secret: string;
    replicas: number;
    smtpFrom: string;
    /** Social sign-in providers (none: Kratos' oidc method stays off). */
    socialSignIn?: SocialProvider[];
  };
  gatehouseValues: string;
}

/**
 * One production sign-in provider. Its client secret is never here: Kratos reads it
 * from the environment's Kratos Secret, key `oidcClientSecret-<id>` (deploy/README.md).
 */
export interface SocialProvider {
  /** Kratos' provider id: part of the callback URL and of each linked credential. Never rename one in use. */
  id: string;
  provider: "google" | "github" | "microsoft" | "generic";
  clientId: string;
  /** The button's text ("Google"); Kratos' default is the id. */
  label?: string;
  /** The issuer (discovery at <issuer>/.well-known/openid-configuration); required for generic. */
  issuerUrl?: string;
  /** Microsoft Entra ID: the tenant (organizations, common, or a tenant id). */
  microsoftTenant?: string;
}

/** A field that may be left out. */
class Optional {
  readonly shape: Shape;
  constructor(shape: Shape) {
    this.shape = shape;
  }
}
const optional = (shape: Shape) => new Optional(shape);

// What each field must look like; unknown fields are refused too (a typo is an error, not a default).
type Shape = RegExp | Optional | [Shape] | { [field: string]: Shape };
const SHAPE: Shape = {
  name: LABEL,
  kubeContext: /^\S+$/,
  profile: /^(default|prod)$/,
  domain: HOST,
  hosts: { app: HOST, www: HOST, api: HOST, auth: HOST },
  namespaces: { auth: LABEL, kratos: LABEL },
  releases: { gatehouse: LABEL, kratos: LABEL },
  kratos: {
    chartRepo: /^https:\/\/\S+$/,
    chart: /^\S+$/,
    chartVersion: /^\d+\.\d+\.\d+$/,
    secret: LABEL,
    replicas: /^[1-9]\d*$/,
    smtpFrom: /^[^@\s]+@[^@\s]+$/,
    socialSignIn: optional([
      {
        id: /^[a-z0-9][a-z0-9-]{0,31}$/,
        provider: /^(google|github|microsoft|generic)$/,
        clientId: /^\S{1,512}$/,
        label: optional(/^.{1,64}$/),
        issuerUrl: optional(/^https:\/\/\S+$/),
        microsoftTenant: optional(/^[A-Za-z0-9.-]{1,64}$/),
      },
    ]),
  },
  gatehouseValues: /^deploy\/\S+\.yaml$/,
};

function check(value: unknown, shape: Shape, path: string, problems: string[]): void {
  if (shape instanceof Optional) {
    if (value !== undefined) check(value, shape.shape, path, problems);
    return;
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) problems.push(`${path}: expected a list`);
    else for (const [i, item] of value.entries()) check(item, shape[0], `${path}[${i}]`, problems);
    return;
  }
  if (shape instanceof RegExp) {
    if ((typeof value !== "string" && typeof value !== "number") || !shape.test(String(value)))
      problems.push(`${path}: ${JSON.stringify(value)} does not match ${shape}`);
    return;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(`${path}: expected a map`);
    return;
  }
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!(k in shape)) problems.push(`${path ? `${path}.` : ""}${k}: unknown field`);
  for (const [k, s] of Object.entries(shape)) {
    if (v[k] === undefined && !(s instanceof Optional)) problems.push(`${path ? `${path}.` : ""}${k}: required`);
    else check(v[k], s, path ? `${path}.${k}` : k, problems);
  }
}

export function environmentNames(): string[] {
  return readdirSync(ENVIRONMENTS_DIR)
    .filter((f) => /^[a-z0-9-]+\.yaml$/.test(f))
    .map((f) => f.replace(/\.yaml$/, ""))
    .sort();
}

export function loadEnvironment(name: string): Environment {
  if (!environmentNames().includes(name)) {
    throw new Error(
      `unknown environment "${name}": expected one of ${environmentNames().join(", ")} (deploy/environments/)`,
    );
  }
  const doc: unknown = parse(readFileSync(resolve(ENVIRONMENTS_DIR, `${name}.yaml`), "utf8"));
  const problems: string[] = [];
  check(doc, SHAPE, "", problems);
  if (problems.length) throw new Error(`deploy/environments/${name}.yaml: ${problems.join("; ")}`);
  const r = { data: doc as Environment };
  if (r.data.name !== name) throw new Error(`deploy/environments/${name}.yaml: name must be "${name}"`);
  const ids = new Set<string>();
  for (const p of r.data.kratos.socialSignIn ?? []) {
    if (ids.has(p.id)) throw new Error(`deploy/environments/${name}.yaml: social sign-in provider id ${p.id} twice`);
    ids.add(p.id);
    if (p.provider === "generic" && !p.issuerUrl)
      throw new Error(`deploy/environments/${name}.yaml: provider ${p.id} (generic) needs issuerUrl`);
  }
  for (const h of Object.values(r.data.hosts)) {
    if (h !== r.data.domain && !h.endsWith(`.${r.data.domain}`)) {
      throw new Error(`deploy/environments/${name}.yaml: host ${h} is not under the cookie domain ${r.data.domain}`);
    }
  }
  return r.data;
}

/** Values files for the Gatehouse chart, in the order Helm merges them. */
export function gatehouseValuesFiles(env: Environment): string[] {
  return [
    resolve(GATEHOUSE_CHART, "values.yaml"),
    ...(env.profile === "prod" ? [resolve(GATEHOUSE_CHART, "values-production.yaml")] : []),
    resolve(REPO_ROOT, env.gatehouseValues),
  ];
}

type Values = Record<string, unknown>;
const isMap = (v: unknown): v is Values => typeof v === "object" && v !== null && !Array.isArray(v);

/** Values files merged as Helm merges them: maps key by key, anything else (lists too) replaced, null removes. */
export function mergeValues(files: string[]): Values {
  const merge = (base: Values, over: Values): Values => {
    const out: Values = { ...base };
    for (const [k, v] of Object.entries(over)) {
      if (v === null) delete out[k];
      else out[k] = isMap(v) && isMap(out[k]) ? merge(out[k] as Values, v) : v;
    }
    return out;
  };
  return files.reduce<Values>((acc, f) => merge(acc, (parse(readFileSync(f, "utf8")) ?? {}) as Values), {});
}

export const kratosValuesFile = (env: Environment) => resolve(REPO_ROOT, `deploy/kratos/values.${env.name}.yaml`);

/** The chart's full name rule: the release name alone when it already contains the chart name. */
export function fullname(release: string, chart: string): string {
  return (release.includes(chart) ? release : `${release}-${chart}`).slice(0, 63).replace(/-+$/, "");
}

/** In-cluster URLs of the two charts' Services. */
export function serviceUrls(env: Environment) {
  const kratos = fullname(env.releases.kratos, "kratos");
  const gatehouse = fullname(env.releases.gatehouse, "gatehouse");
  const svc = (name: string, ns: string) => `${name}.${ns}.svc.cluster.local`;
  return {
    kratosPublic: `http://${svc(`${kratos}-public`, env.namespaces.kratos)}`,
    kratosAdmin: `http://${svc(`${kratos}-admin`, env.namespaces.kratos)}`,
    // The auth-service's admin port (7411): Kratos' after-registration webhook.
    authAdmin: `http://${svc(`${gatehouse}-auth-service`, env.namespaces.auth)}:7411`,
  };
}
