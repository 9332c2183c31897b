// Offline validation of rendered manifests against Kubernetes' own OpenAPI v3 spec
// (api/openapi-spec/v3 of the k8s.io/kubernetes module, what the API server serves)
// and the CRDs the charts use (ServiceMonitor, ExternalSecret), as kubeconform --strict would: types, enums, required
// fields, unknown fields (a typo is an error, not a silently dropped field) and
// duplicate keys in list-maps (two env vars or ports with the same name).
// The schemas are fetched once by scripts/build-deploy-checks.sh into the cache.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";

export const K8S_VERSIONS = ["v1.33.13", "v1.36.3"] as const;
export const PROMETHEUS_OPERATOR_VERSION = "v0.85.0";
export const EXTERNAL_SECRETS_VERSION = "v0.20.4";

/** The CRDs the charts render objects of: cache directory → CRD file (scripts/build-deploy-checks.sh). */
const CRDS: [string, string][] = [
  [`prometheus-operator-${PROMETHEUS_OPERATOR_VERSION}`, "monitoring.coreos.com_servicemonitors.yaml"],
  [`external-secrets-${EXTERNAL_SECRETS_VERSION}`, "external-secrets.io_externalsecrets.yaml"],
];

export const schemaCacheDir = () =>
  join(process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/gatehouse"), "k8s-schemas");

export function missingSchemas(): string | undefined {
  const dir = schemaCacheDir();
  const want = [...K8S_VERSIONS.map((v) => `kubernetes-${v}`), ...CRDS.map(([d]) => d)].map((d) =>
    join(dir, d, ".complete"),
  );
  const missing = want.filter((f) => !existsSync(f));
  return missing.length
    ? `Kubernetes schemas not found (${missing.join(", ")}): run scripts/build-deploy-checks.sh (bootstrap does)`
    : undefined;
}

type Schema = Record<string, unknown>;

/** Every object schema that lists its properties refuses others, unless it says it keeps unknown fields. */
function strict(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) strict(n);
    return;
  }
  if (!node || typeof node !== "object") return;
  const s = node as Schema;
  if (s.properties && s.additionalProperties === undefined && !s["x-kubernetes-preserve-unknown-fields"]) {
    s.additionalProperties = false;
  }
  for (const v of Object.values(s)) strict(v);
}

function newAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats.default(ajv);
  const int = (min: bigint, max: bigint) => ({
    type: "number" as const,
    validate: (n: number) => Number.isInteger(n) && BigInt(n) >= min && BigInt(n) <= max,
  });
  ajv.addFormat("int32", int(-(2n ** 31n), 2n ** 31n - 1n));
  ajv.addFormat("int64", int(-(2n ** 63n), 2n ** 63n - 1n));
  for (const f of ["int-or-string", "double", "float", "byte", "quantity"]) ajv.addFormat(f, true);
  ajv.addKeyword({
    keyword: "x-kubernetes-list-map-keys",
    type: "array",
    schemaType: "array",
    errors: true,
    validate: function unique(keys: string[], data: unknown[]) {
      const seen = new Set<string>();
      for (const item of data) {
        if (!item || typeof item !== "object") continue;
        const id = JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k] ?? null));
        if (seen.has(id)) {
          (unique as unknown as { errors: Partial<ErrorObject>[] }).errors = [
            { message: `duplicate entry for key (${keys.join(", ")}) = ${id}` },
          ];
          return false;
        }
        seen.add(id);
      }
      return true;
    },
  });
  return ajv;
}

/**
 * A field set to null is no field to the API server (a template's empty `annotations:`,
 * as the official Kratos chart renders them): dropped before validation, as it drops them.
 */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (!v || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null)
      .map(([k, x]) => [k, withoutNulls(x)]),
  );
}

export interface K8sValidator {
  version: string;
  /** Problems with one manifest, as "Kind/name path: message"; empty when valid. */
  validate(doc: Record<string, unknown>): string[];
}

const cache = new Map<string, K8sValidator>();

export function k8sValidator(version: (typeof K8S_VERSIONS)[number]): K8sValidator {
  const hit = cache.get(version);
  if (hit) return hit;
  const dir = join(schemaCacheDir(), `kubernetes-${version}`);
  const definitions: Record<string, Schema> = {};
  const byGvk = new Map<string, string>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith("_openapi.json"))) {
    const spec = JSON.parse(
      readFileSync(join(dir, f), "utf8").replaceAll('"#/components/schemas/', '"k8s#/definitions/'),
    ) as {
      components: { schemas: Record<string, Schema> };
    };
    for (const [name, s] of Object.entries(spec.components.schemas)) {
      definitions[name] = s;
      for (const g of (s["x-kubernetes-group-version-kind"] as { group: string; version: string; kind: string }[]) ??
        []) {
        byGvk.set(`${g.group ? `${g.group}/` : ""}${g.version}/${g.kind}`, name);
      }
    }
  }
  strict(definitions);
  const ajv = newAjv();
  ajv.addSchema({ $id: "k8s", definitions });

  // ServiceMonitor, ExternalSecret: each CRD's structural schema, per served version.
  const crdSchemas = new Map<string, Schema>();
  for (const [d, file] of CRDS) {
    const crd = parse(readFileSync(join(schemaCacheDir(), d, file), "utf8")) as {
      spec: {
        group: string;
        names: { kind: string };
        versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[];
      };
    };
    for (const v of crd.spec.versions.filter((x) => x.served)) {
      const s = structuredClone(v.schema.openAPIV3Schema);
      strict(s);
      crdSchemas.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, s);
    }
  }

  const compiled = new Map<string, ValidateFunction>();
  const validator: K8sValidator = {
    version,
    validate(doc) {
      const gvk = `${String(doc.apiVersion)}/${String(doc.kind)}`;
      const meta = (doc.metadata ?? {}) as { name?: string };
      const label = `${String(doc.kind)}/${meta.name ?? "?"} (${version})`;
      let fn = compiled.get(gvk);
      if (!fn) {
        const name = byGvk.get(gvk);
        const crdSchema = crdSchemas.get(gvk);
        if (name) fn = ajv.compile({ $ref: `k8s#/definitions/${name}` });
        else if (crdSchema) fn = ajv.compile(crdSchema);
        else return [`${label}: no schema for ${gvk} in Kubernetes ${version} (removed or unknown API?)`];
        compiled.set(gvk, fn);
      }
      if (fn(withoutNulls(doc))) return [];
      return (fn.errors ?? [])
        .filter((e) => e.keyword !== "oneOf" && e.keyword !== "if")
        .map(
          (e) =>
            `${label} ${e.instancePath || "/"}: ${e.message}${e.keyword === "additionalProperties" ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ""}`,
        );
    },
  };
  cache.set(version, validator);
  return validator;
}
