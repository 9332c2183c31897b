// Shared by the deploy tests: find helm (built by scripts/build-helm.sh), render the
// chart, parse manifests.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import {
  type Environment,
  fullname,
  GATEHOUSE_CHART,
  gatehouseValuesFiles,
  kratosValuesFile,
  loadEnvironment,
  REPO_ROOT,
} from "../../deploy/lib/environments.ts";
import type { Pod } from "../../deploy/lib/network-policy.ts";
import type { Manifest } from "../../deploy/lib/policies.ts";

export { REPO_ROOT };

const CACHE = process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/gatehouse");

/** helm on PATH or in the Gatehouse cache; a clear error naming the build script otherwise. */
export function helmBinary(): string {
  for (const dir of [...(process.env.PATH ?? "").split(":"), join(CACHE, "bin")]) {
    const p = join(dir, "helm");
    if (dir && existsSync(p)) return p;
  }
  throw new Error(
    "helm not found on PATH or in ~/.cache/gatehouse/bin: run scripts/build-helm.sh (it builds Helm from the Go " +
      "module proxy; scripts/bootstrap.sh links it into ~/.cache/gatehouse/bin)",
  );
}

export function composeSpecBinary(): string {
  const p = join(CACHE, "compose-spec", "v2.16.2", "compose-spec");
  if (!existsSync(p)) throw new Error(`compose-spec not found at ${p}: run scripts/build-deploy-checks.sh`);
  return p;
}

export function helm(args: string[], opts: { cwd?: string } = {}): string {
  try {
    return execFileSync(helmBinary(), args, {
      cwd: opts.cwd ?? REPO_ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        HELM_CACHE_HOME: "/tmp/gatehouse-helm-cache",
        HELM_CONFIG_HOME: "/tmp/gatehouse-helm-config",
      },
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`helm ${args.join(" ")} failed:\n${err.stderr || err.stdout || err.message}`);
  }
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null && typeof d === "object");
}

export interface Rendering {
  name: string;
  namespace: string;
  release: string;
  valuesFiles: string[];
  manifests: Manifest[];
}

/**
 * The APIs a target cluster serves beyond Kubernetes' own, as `helm install` would see them
 * (.Capabilities.APIVersions): prometheus-operator's. `helm template` knows none by itself.
 */
export const CLUSTER_APIS = ["monitoring.coreos.com/v1/ServiceMonitor"];

/** `helm template` of the Gatehouse chart with values files and --set-json overrides. */
export function renderChart(
  name: string,
  valuesFiles: string[],
  opts: { release?: string; namespace?: string; setJson?: string[]; apiVersions?: string[] } = {},
): Rendering {
  const release = opts.release ?? "gatehouse";
  const namespace = opts.namespace ?? "gatehouse-auth";
  const args = ["template", release, GATEHOUSE_CHART, "--namespace", namespace];
  for (const f of valuesFiles) args.push("--values", f);
  for (const s of opts.setJson ?? []) args.push("--set-json", s);
  for (const a of opts.apiVersions ?? CLUSTER_APIS) args.push("--api-versions", a);
  return { name, namespace, release, valuesFiles, manifests: parseManifests(helm(args)) };
}

/** The official Kratos chart 0.59.0, unmodified (deploy/kratos/reference/), and the post-renderer deploy.ts passes. */
export const KRATOS_CHART = resolve(REPO_ROOT, "deploy/kratos/reference");
export const KRATOS_POST_RENDERER = "deploy/kratos/post-render.ts";

/**
 * `helm template` of the official Kratos chart with an environment's generated values and
 * the post-renderer, as `node deploy/deploy.ts <env>` installs it; kubeVersion as the
 * cluster would report it (the chart's HPA template depends on it).
 */
export function renderKratos(
  env: Environment,
  opts: { kubeVersion?: string; postRender?: boolean; values?: string[] } = {},
): Rendering {
  const args = ["template", env.releases.kratos, KRATOS_CHART, "--namespace", env.namespaces.kratos];
  for (const f of opts.values ?? [kratosValuesFile(env)]) args.push("--values", f);
  args.push("--kube-version", opts.kubeVersion ?? "1.33.0");
  for (const a of CLUSTER_APIS) args.push("--api-versions", a);
  if (opts.postRender !== false)
    args.push("--post-renderer", KRATOS_POST_RENDERER, "--post-renderer-args", `--namespace=${env.namespaces.kratos}`);
  return {
    name: `Kratos chart, environment ${env.name}`,
    namespace: env.namespaces.kratos,
    release: env.releases.kratos,
    valuesFiles: opts.values ?? [kratosValuesFile(env)],
    manifests: parseManifests(helm(args)),
  };
}

export const DEFAULT_VALUES = resolve(GATEHOUSE_CHART, "values.yaml");
export const PRODUCTION_VALUES = resolve(GATEHOUSE_CHART, "values-production.yaml");

export function renderEnvironment(env: Environment): Rendering {
  return renderChart(`environment ${env.name}`, gatehouseValuesFiles(env), {
    release: env.releases.gatehouse,
    namespace: env.namespaces.auth,
  });
}

/** The default render, the prod profile, and every environment as deploy/deploy.ts renders it. */
export function allRenderings(envNames: string[]): Rendering[] {
  return [
    renderChart("default values", [DEFAULT_VALUES]),
    renderChart("production values", [DEFAULT_VALUES, PRODUCTION_VALUES]),
    ...envNames.map((n) => renderEnvironment(loadEnvironment(n))),
  ];
}

export const find = (r: Rendering, kind: string, component: string) =>
  r.manifests.find(
    (m) =>
      m.kind === kind &&
      (m.metadata.labels as Record<string, string> | undefined)?.["app.kubernetes.io/component"] === component,
  );

export function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${what} not rendered`);
  return v;
}

/**
 * The pods of the official Kratos chart (0.59.0) as its templates label them, for a
 * release in a namespace: `kratos serve` (deployment-kratos.yaml: kratos.labels, name =
 * the chart's name or nameOverride), the courier (statefulset-mail.yaml: name =
 * <fullname>-courier, component courier), the migration Job and the cleanup CronJob.
 * test/deploy/kratos-chart.test.ts holds them to the chart's own rendering (deploy/kratos/reference).
 */
export function kratosPods(release: string, namespace: string, nameOverride = ""): Record<string, Pod> {
  const name = nameOverride || "kratos";
  const full = fullname(release, name);
  const common = { "app.kubernetes.io/instance": release };
  return {
    serve: {
      namespace,
      labels: {
        ...common,
        "app.kubernetes.io/name": name,
        "helm.sh/chart": "kratos-0.59.0",
        "app.kubernetes.io/version": "v1.3.1",
        "app.kubernetes.io/managed-by": "Helm",
      },
    },
    courier: {
      namespace,
      labels: { ...common, "app.kubernetes.io/name": `${full}-courier`, "app.kubernetes.io/component": "courier" },
    },
    migrate: { namespace, labels: { ...common, "app.kubernetes.io/name": `${name}-automigrate` } },
    cleanup: {
      namespace,
      labels: { ...common, "app.kubernetes.io/name": `${name}-cleanup`, "app.kubernetes.io/component": "cleanup" },
    },
  };
}
