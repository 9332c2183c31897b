// The policies every rendered Gatehouse manifest must meet, as a platform team's
// admission controller (Pod Security "restricted", Kyverno/Gatekeeper baselines) would
// check them. Each returns human-readable violations; an empty list means compliant.
import { matchesSelector } from "./network-policy.ts";

type Obj = Record<string, unknown>;
export type Manifest = Obj & { apiVersion: string; kind: string; metadata: Obj & { name: string } };

const o = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const a = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

/** The pod template of a workload, or undefined for other kinds. */
export function podSpecOf(m: Manifest): Obj | undefined {
  switch (m.kind) {
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "Job":
      return o(o(o(m.spec).template).spec);
    case "CronJob":
      return o(o(o(o(o(m.spec).jobTemplate).spec).template).spec);
    case "Pod":
      return o(m.spec);
    default:
      return undefined;
  }
}

export const containersOf = (pod: Obj): Obj[] => [...a(pod.initContainers), ...a(pod.containers)];

// Settings that carry credentials: never literal values in a manifest. By their last
// words (SELFSERVICE_FLOWS_SETTINGS_AFTER_PASSWORD_HOOKS_0_HOOK names a flow, not a
// password), and Kratos' web_hook secret (…_AUTH_CONFIG_VALUE).
const SECRET_NAME =
  /(^|_)(SECRET|PASSWORD|PASSWD|KEK|PRIVATE_KEY|CREDENTIALS?|DSN|TOKEN)(_PREVIOUS)?$|^SECRETS_|DATABASE_URL|REDIS_URL|CONNECTION_URI|_AUTH_CONFIG_VALUE$/;

export function policyViolations(manifests: Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    const id = `${m.kind}/${m.metadata.name}`;
    if (m.kind === "Secret") out.push(`${id}: the chart must not create Secrets (reference existing ones)`);
    const pod = podSpecOf(m);
    if (!pod) continue;
    const psc = o(pod.securityContext);
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push(`${id}: uses the host's network/PID/IPC namespace`);
    // Unset on the pod, its ServiceAccount's setting applies (as the official Kratos chart's courier relies on).
    const sa = manifests.find(
      (x) =>
        x.kind === "ServiceAccount" &&
        x.metadata.name === String(pod.serviceAccountName ?? "default") &&
        x.metadata.namespace === m.metadata.namespace,
    );
    const automount = pod.automountServiceAccountToken ?? sa?.automountServiceAccountToken;
    if (automount !== false) out.push(`${id}: automountServiceAccountToken is not false`);
    for (const vol of a(pod.volumes)) if (vol.hostPath) out.push(`${id}: hostPath volume ${String(vol.name)}`);
    for (const c of containersOf(pod)) {
      const cid = `${id} container ${String(c.name)}`;
      const sc = o(c.securityContext);
      const runAsNonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
      const runAsUser = sc.runAsUser ?? psc.runAsUser;
      if (runAsNonRoot !== true) out.push(`${cid}: runAsNonRoot is not true`);
      if (runAsUser === undefined || runAsUser === 0) out.push(`${cid}: runs as root (runAsUser ${String(runAsUser)})`);
      if ((sc.runAsGroup ?? psc.runAsGroup) === 0) out.push(`${cid}: runs with group root`);
      if (sc.readOnlyRootFilesystem !== true) out.push(`${cid}: root filesystem is writable`);
      if (sc.allowPrivilegeEscalation !== false) out.push(`${cid}: allowPrivilegeEscalation is not false`);
      if (sc.privileged === true) out.push(`${cid}: privileged`);
      const caps = o(sc.capabilities);
      if (!a(caps.drop).some((x) => String(x) === "ALL")) out.push(`${cid}: capabilities not dropped (drop: [ALL])`);
      if (a(caps.add).length) out.push(`${cid}: adds capabilities ${JSON.stringify(caps.add)}`);
      const seccomp = o(sc.seccompProfile).type ?? o(psc.seccompProfile).type;
      if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
        out.push(`${cid}: seccompProfile is ${String(seccomp)}, not RuntimeDefault`);
      const res = o(c.resources);
      for (const kind of ["requests", "limits"])
        for (const r of ["cpu", "memory", "ephemeral-storage"])
          if (o(res[kind])[r] === undefined) out.push(`${cid}: no ${kind}.${r}`);
      const image = String(c.image ?? "");
      if (!/:[\w][\w.-]{0,127}$/.test(image.split("/").pop() ?? "") || image.endsWith(":latest"))
        out.push(`${cid}: image ${image} has no pinned tag`);
      for (const e of a(c.env)) {
        if (SECRET_NAME.test(String(e.name)) && e.value !== undefined && e.value !== "")
          out.push(`${cid}: ${String(e.name)} is a literal value, not a secretKeyRef`);
      }
    }
    if (m.kind === "Deployment" || m.kind === "StatefulSet") {
      for (const c of a(pod.containers)) {
        for (const p of ["readinessProbe", "livenessProbe"])
          if (!c[p]) out.push(`${id} container ${String(c.name)}: no ${p}`);
      }
    }
  }
  return out;
}

/** Does a label selector ({matchLabels}) select these labels? */
export function selects(selector: unknown, labels: unknown): boolean {
  const want = o(o(selector).matchLabels);
  const have = o(labels);
  return Object.keys(want).length > 0 && Object.entries(want).every(([k, v]) => have[k] === v);
}

/** Each Deployment needs a Service, a PodDisruptionBudget and a NetworkPolicy selecting its pods. */
export function coverageViolations(manifests: Manifest[]): string[] {
  const out: string[] = [];
  for (const d of manifests.filter((m) => m.kind === "Deployment")) {
    const labels = o(o(o(d.spec).template).metadata).labels;
    const by = (kind: string, sel: (m: Manifest) => unknown) =>
      manifests.some((m) => m.kind === kind && selects(sel(m), labels));
    if (!by("Service", (m) => ({ matchLabels: o(m.spec).selector })))
      out.push(`Deployment/${d.metadata.name}: no Service`);
    if (!by("PodDisruptionBudget", (m) => o(m.spec).selector))
      out.push(`Deployment/${d.metadata.name}: no PodDisruptionBudget`);
    if (!by("NetworkPolicy", (m) => o(m.spec).podSelector)) out.push(`Deployment/${d.metadata.name}: no NetworkPolicy`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// kube-linter-class checks across objects: each named as kube-linter names its check
// (https://docs.kubelinter.io), for every rendered manifest of a release. kube-linter
// itself cannot be had here (the Go module proxy refuses golang.stackrox.io/kube-linter);
// test/deploy/policy-suite.test.ts also runs checkov, which can.

export interface Finding {
  check: string;
  object: string;
  message: string;
}

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"]);
const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"]);

/** Labels of a workload's pods. */
export function podLabelsOf(m: Manifest): Obj {
  if (m.kind === "Pod") return o(m.metadata.labels);
  if (m.kind === "CronJob") return o(o(o(o(o(m.spec).jobTemplate).spec).template).metadata).labels as Obj;
  return o(o(o(m.spec).template).metadata).labels as Obj;
}

const matchesSel = (selector: unknown, labels: Obj) => matchesSelector(selector, labels as Record<string, string>);

/** The replicas a workload may run with: its HPA's minimum, else its own count. */
function replicasOf(m: Manifest, all: Manifest[]): number {
  const hpa = all.find(
    (h) => h.kind === "HorizontalPodAutoscaler" && o(o(h.spec).scaleTargetRef).name === m.metadata.name,
  );
  if (hpa) return Number(o(hpa.spec).minReplicas ?? 1);
  return Number(o(m.spec).replicas ?? 1);
}

/**
 * Every kube-linter-class finding for a set of manifests (one release, or a release with the
 * releases it points at). `pods`: labels of pods the manifests select but do not render
 * (another chart's), as {namespace, labels}.
 */
export function lint(manifests: Manifest[], pods: { namespace: string; labels: Obj }[] = []): Finding[] {
  const out: Finding[] = [];
  const add = (check: string, m: Manifest, message: string) =>
    out.push({ check, object: `${m.kind}/${m.metadata.namespace ?? "?"}/${m.metadata.name}`, message });
  const workloads = manifests.filter((m) => WORKLOADS.has(m.kind));
  const allPods = [
    ...workloads.map((w) => ({ namespace: String(w.metadata.namespace ?? ""), labels: podLabelsOf(w), w })),
    ...pods.map((p) => ({ ...p, w: undefined as Manifest | undefined })),
  ];
  const serviceAccounts = new Set(
    manifests.filter((m) => m.kind === "ServiceAccount").map((m) => `${m.metadata.namespace}/${m.metadata.name}`),
  );

  for (const m of manifests) {
    const ns = String(m.metadata.namespace ?? "");
    if (!CLUSTER_SCOPED.has(m.kind) && !ns) add("namespace-set", m, "metadata.namespace is not set");
    if (ns === "default") add("use-namespace", m, "in the default namespace");

    if (m.kind === "Service") {
      const spec = o(m.spec);
      if (spec.type === "NodePort" || spec.type === "LoadBalancer") add("exposed-services", m, `type ${spec.type}`);
      const selected = allPods.filter(
        (p) => p.namespace === ns && matchesSel({ matchLabels: spec.selector }, p.labels),
      );
      if (!selected.length) add("dangling-service", m, "its selector matches no pod");
      for (const port of a(spec.ports)) {
        const t = port.targetPort;
        if (typeof t !== "string") continue;
        const named = selected.some((p) =>
          containersOf(p.w ? (podSpecOf(p.w) ?? {}) : {}).some((c) => a(c.ports).some((cp) => cp.name === t)),
        );
        if (selected.some((p) => p.w) && !named)
          add("invalid-target-ports", m, `targetPort ${t} names no container port`);
      }
    }
    if (m.kind === "NetworkPolicy") {
      const sel = o(m.spec).podSelector;
      if (!allPods.some((p) => p.namespace === ns && matchesSel(sel, p.labels)))
        add("dangling-networkpolicy", m, "its podSelector matches no pod");
    }
    if (m.kind === "HorizontalPodAutoscaler") {
      const ref = o(o(m.spec).scaleTargetRef);
      if (!manifests.some((w) => w.kind === ref.kind && w.metadata.name === ref.name && w.metadata.namespace === ns))
        add("dangling-horizontalpodautoscaler", m, `scaleTargetRef ${ref.kind}/${ref.name} is not rendered`);
    }
    if (m.kind === "ServiceMonitor") {
      const sel = o(m.spec).selector;
      if (
        !manifests.some(
          (s) => s.kind === "Service" && s.metadata.namespace === ns && matchesSel(sel, o(s.metadata.labels)),
        )
      )
        add("dangling-servicemonitor", m, "its selector matches no Service");
    }
    if (m.kind === "PodDisruptionBudget") {
      const spec = o(m.spec);
      if (!spec.unhealthyPodEvictionPolicy)
        add("pdb-unhealthy-pod-eviction-policy", m, "unhealthyPodEvictionPolicy is not set");
      if (spec.maxUnavailable === 0 || spec.maxUnavailable === "0%")
        add("pdb-max-unavailable", m, "maxUnavailable 0: no drain can ever evict a pod");
      const targets = workloads.filter(
        (w) => w.metadata.namespace === ns && w.kind !== "Pod" && matchesSel(spec.selector, podLabelsOf(w)),
      );
      if (!targets.length && !pods.some((p) => p.namespace === ns && matchesSel(spec.selector, p.labels)))
        add("dangling-poddisruptionbudget", m, "its selector matches no workload");
      for (const w of targets)
        if (typeof spec.minAvailable === "number" && spec.minAvailable >= replicasOf(w, manifests))
          add(
            "pdb-min-available",
            m,
            `minAvailable ${spec.minAvailable} ≥ the ${replicasOf(w, manifests)} replicas of ${w.metadata.name}`,
          );
    }
    if (m.kind === "CronJob" && o(m.spec).startingDeadlineSeconds === undefined)
      add("cronjob-starting-deadline", m, "no startingDeadlineSeconds: missed runs are counted without bound");

    const pod = podSpecOf(m);
    if (!pod) continue;
    const sa = String(pod.serviceAccountName ?? "default");
    if (sa !== "default" && !serviceAccounts.has(`${ns}/${sa}`))
      add("non-existent-service-account", m, `serviceAccountName ${sa} is not rendered`);
    if (m.kind === "Deployment" || m.kind === "StatefulSet") {
      const sel = o(o(m.spec).selector);
      if (!matchesSel(sel, podLabelsOf(m)))
        add("mismatching-selector", m, "the selector does not match the pod labels");
      if (replicasOf(m, manifests) > 1) {
        const anti = [
          ...a(o(o(pod.affinity).podAntiAffinity).requiredDuringSchedulingIgnoredDuringExecution),
          ...a(o(o(pod.affinity).podAntiAffinity).preferredDuringSchedulingIgnoredDuringExecution).map((t) =>
            o(t.podAffinityTerm),
          ),
        ].filter((t) => t.topologyKey === "kubernetes.io/hostname" && matchesSel(t.labelSelector, podLabelsOf(m)));
        if (!anti.length) add("no-anti-affinity", m, "several replicas and no pod anti-affinity across nodes");
        const hard = a(pod.topologySpreadConstraints).some(
          (t) =>
            t.topologyKey === "kubernetes.io/hostname" &&
            t.whenUnsatisfiable === "DoNotSchedule" &&
            matchesSel(t.labelSelector, podLabelsOf(m)),
        );
        if (!hard) add("spread-across-nodes", m, "several replicas and no hard (DoNotSchedule) spread across nodes");
      }
    }
    for (const c of containersOf(pod)) {
      const ports = a(c.ports);
      for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
        const port = o(o(c[probe]).httpGet).port ?? o(o(c[probe]).tcpSocket).port;
        if (port === undefined) continue;
        const ok =
          typeof port === "string" ? ports.some((p) => p.name === port) : ports.some((p) => p.containerPort === port);
        if (!ok)
          add(
            `${probe.replace("Probe", "")}-port`,
            m,
            `${String(c.name)}: ${probe} port ${String(port)} is not a container port`,
          );
      }
      if (ports.some((p) => p.containerPort === 22)) add("ssh-port", m, `${String(c.name)} exposes port 22`);
    }
    for (const sysctl of a(o(pod.securityContext).sysctls))
      if (
        !/^(kernel\.shm_rmid_forced|net\.ipv4\.ip_local_port_range|net\.ipv4\.tcp_syncookies|net\.ipv4\.ping_group_range|net\.ipv4\.ip_unprivileged_port_start)$/.test(
          String(sysctl.name),
        )
      )
        add("unsafe-sysctls", m, `sysctl ${String(sysctl.name)}`);
  }
  return out;
}
