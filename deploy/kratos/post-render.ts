#!/usr/bin/env node
// Helm post-renderer for the official Kratos chart 0.59.0: what its values cannot say,
// added to its rendered manifests at install time. The chart itself is used as published
// (deploy/deploy.ts installs it from its repository); everything the values can express
// is in deploy/kratos/values.<env>.yaml instead. Each change here has no value in 0.59.0:
//
//   - metadata.namespace on the objects whose templates leave it out (PodDisruptionBudget,
//     HorizontalPodAutoscaler), so every object names its namespace;
//   - the courier (StatefulSet): no service-account token on its pod (its ServiceAccount
//     already mounts none), liveness and readiness probes on its metrics listener,
//     the only HTTP endpoint `courier watch` serves (/metrics/prometheus), and a
//     PodDisruptionBudget (one replica: a drain may take it; mail waits in the database);
//   - the chart's PodDisruptionBudget: unhealthyPodEvictionPolicy AlwaysAllow, so an
//     unready Kratos pod never blocks a node drain;
//   - the cleanup CronJob: a startingDeadlineSeconds (a missed hourly run is skipped).
//
// Helm 3 passes no hook to a post-renderer: the migration Job (values say all it needs)
// and the chart's `helm test` pod (deploy/README.md) are as the chart renders them.
//
//   helm upgrade --install kratos kratos --repo … -f deploy/kratos/values.<env>.yaml \
//     --post-renderer deploy/kratos/post-render.ts --post-renderer-args --namespace=<ns>
//
// Reads the manifests on stdin, writes them on stdout; exits non-zero (failing the helm
// command) when the chart's output is not what this was written for.
import { readFileSync } from "node:fs";
import { parseAllDocuments, stringify } from "yaml";

type Obj = Record<string, unknown>;
const o = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const a = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"]);

const DRAIN_ANYWAY = "AlwaysAllow";

/** The courier's probes: its metrics listener answers as long as the process runs. */
const courierProbe = (failureThreshold: number) => ({
  httpGet: { path: "/metrics/prometheus", port: "http-metrics" },
  periodSeconds: 10,
  timeoutSeconds: 3,
  failureThreshold,
});

export function postRender(docs: Obj[], namespace: string): Obj[] {
  const out: Obj[] = [];
  const find = (kind: string, pred: (m: Obj) => boolean = () => true) => docs.filter((m) => m.kind === kind && pred(m));
  const courier = find("StatefulSet", (m) => o(o(m.metadata).labels)["app.kubernetes.io/component"] === "courier");
  if (courier.length !== 1) throw new Error(`expected the chart's one courier StatefulSet, found ${courier.length}`);

  for (const m of docs) {
    const meta = o(m.metadata);
    if (!CLUSTER_SCOPED.has(String(m.kind)) && !meta.namespace) meta.namespace = namespace;
    if (m.kind === "PodDisruptionBudget") o(m.spec).unhealthyPodEvictionPolicy = DRAIN_ANYWAY;
    if (m.kind === "CronJob") o(m.spec).startingDeadlineSeconds ??= 600;
    out.push(m);
  }

  // The courier: probes, and a budget of its own.
  const sts = courier[0] as Obj;
  const tpl = o(o(sts.spec).template);
  const container = a(o(tpl.spec).containers).find((c) => String(c.name).endsWith("-courier"));
  if (!container) throw new Error("the courier StatefulSet has no *-courier container");
  if (!a(container.ports).some((p) => p.name === "http-metrics"))
    throw new Error("the courier container has no http-metrics port (courier watch --expose-metrics-port)");
  // Its ServiceAccount mounts no token; say so on the pod too (statefulSet has no such value).
  o(tpl.spec).automountServiceAccountToken = false;
  container.readinessProbe ??= courierProbe(3);
  container.livenessProbe ??= courierProbe(6);
  const selector = o(o(sts.spec).selector).matchLabels;
  out.push({
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: String(o(sts.metadata).name),
      namespace: String(o(sts.metadata).namespace ?? namespace),
      labels: o(o(sts.metadata).labels),
    },
    spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: DRAIN_ANYWAY, selector: { matchLabels: selector } },
  });

  return out;
}

export function main(argv: string[], input: string): string {
  const ns = argv.find((x) => x.startsWith("--namespace="))?.slice("--namespace=".length);
  if (!ns || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns))
    throw new Error("usage: post-render.ts --namespace=<the release's namespace> < manifests");
  const docs = parseAllDocuments(input)
    .map((d) => {
      if (d.errors.length) throw new Error(`post-render: the chart's output is not YAML: ${d.errors[0]?.message}`);
      return d.toJS() as Obj | null;
    })
    .filter((d): d is Obj => d !== null && typeof d === "object");
  return postRender(docs, ns)
    .map((d) => `---\n${stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })}`)
    .join("");
}

if (import.meta.main) {
  try {
    process.stdout.write(main(process.argv.slice(2), readFileSync(0, "utf8")));
  } catch (e) {
    console.error(`deploy/kratos/post-render.ts: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
