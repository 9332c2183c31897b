// The policies every rendered Gatehouse manifest must meet, as a platform team's
// admission controller (Pod Security "restricted", Kyverno/Gatekeeper baselines) would
// check them. Each returns human-readable violations; an empty list means compliant.
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

// Settings that carry credentials: never literal values in a manifest.
const SECRET_NAME =
  /(^|_)(SECRET|PASSWORD|PASSWD|KEK|PRIVATE_KEY|CREDENTIALS?|DSN)($|_)|API_TOKEN$|DATABASE_URL|REDIS_URL|CONNECTION_URI/;

export function policyViolations(manifests: Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    const id = `${m.kind}/${m.metadata.name}`;
    if (m.kind === "Secret") out.push(`${id}: the chart must not create Secrets (reference existing ones)`);
    const pod = podSpecOf(m);
    if (!pod) continue;
    const psc = o(pod.securityContext);
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push(`${id}: uses the host's network/PID/IPC namespace`);
    if (pod.automountServiceAccountToken !== false) out.push(`${id}: automountServiceAccountToken is not false`);
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
        for (const r of ["cpu", "memory"]) if (o(res[kind])[r] === undefined) out.push(`${cid}: no ${kind}.${r}`);
      const image = String(c.image ?? "");
      if (!/:[\w][\w.-]{0,127}$/.test(image.split("/").pop() ?? "") || image.endsWith(":latest"))
        out.push(`${cid}: image ${image} has no pinned tag`);
      for (const e of a(c.env)) {
        if (SECRET_NAME.test(String(e.name)) && e.value !== undefined && e.value !== "")
          out.push(`${cid}: ${String(e.name)} is a literal value, not a secretKeyRef`);
      }
    }
    if (m.kind === "Deployment") {
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
