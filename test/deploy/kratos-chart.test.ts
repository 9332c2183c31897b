// The official Kratos chart 0.59.0 (an unmodified copy in deploy/kratos/reference/),
// rendered with each environment's generated values and deploy/kratos/post-render.ts, as
// `node deploy/deploy.ts <env>` installs it: valid Kubernetes, its workloads probed,
// budgeted, sized and placed as the Gatehouse chart's are, the post-renderer touching only
// what the values cannot say, and the labels the Gatehouse chart's NetworkPolicies select.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { postRender } from "../../deploy/kratos/post-render.ts";
import { type Environment, environmentNames, loadEnvironment } from "../../deploy/lib/environments.ts";
import { K8S_VERSIONS, k8sValidator } from "../../deploy/lib/k8s-schemas.ts";
import { containersOf, type Manifest, podSpecOf } from "../../deploy/lib/policies.ts";
import { helmBinary, KRATOS_CHART, kratosPods, must, type Rendering, renderKratos } from "./support.ts";

type Obj = Record<string, unknown>;
const o = (v: unknown) => (v ?? {}) as Obj;

let envs: Environment[] = [];
let renderings: Rendering[] = [];
beforeAll(() => {
  helmBinary();
  envs = environmentNames().map(loadEnvironment);
  renderings = envs.map((e) => renderKratos(e));
});

const kind = (r: Rendering, k: string) => r.manifests.filter((m) => m.kind === k);
const one = (r: Rendering, k: string, pred: (m: Manifest) => boolean = () => true) =>
  must(kind(r, k).find(pred), `${r.name}: ${k}`);
const isCourier = (m: Manifest) => o(m.metadata.labels)["app.kubernetes.io/component"] === "courier";
const firstContainer = (m: Manifest) => containersOf(podSpecOf(m) ?? {})[0] as Obj;

describe("the reference copy is the published chart, unmodified", () => {
  it("every file matches SHA256SUMS (recorded when it was copied from ory/k8s tag v0.59.0)", () => {
    const sums = readFileSync(resolve(KRATOS_CHART, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(sums.length).toBeGreaterThan(25);
    for (const line of sums) {
      const [sum, file] = line.split(/\s+/);
      const have = createHash("sha256")
        .update(readFileSync(resolve(KRATOS_CHART, must(file, line))))
        .digest("hex");
      expect(have, file).toBe(sum);
    }
  });
});

describe("rendered with every environment's values", () => {
  it("is valid Kubernetes (strict, oldest and newest supported) and every object names its namespace", () => {
    for (const version of K8S_VERSIONS) {
      const v = k8sValidator(version);
      for (const e of envs) {
        const r = renderKratos(e, { kubeVersion: version.replace(/^v/, "") });
        expect(
          r.manifests.flatMap((m) => v.validate(m)),
          r.name,
        ).toEqual([]);
        for (const m of r.manifests)
          expect(m.metadata.namespace, `${r.name} ${m.kind}/${m.metadata.name}`).toBe(e.namespaces.kratos);
      }
    }
  });

  it("kratos serve: ready when its database answers, restarted when it stops answering, two minutes to start", () => {
    for (const r of renderings) {
      const c = firstContainer(one(r, "Deployment"));
      const get = (p: string) => o(o(c[p]).httpGet);
      expect(get("readinessProbe").path, r.name).toBe("/admin/health/ready");
      expect(get("livenessProbe").path, r.name).toBe("/admin/health/alive");
      expect(get("startupProbe").path, r.name).toBe("/admin/health/ready");
      const ports = (c.ports as Obj[]).map((p) => p.name);
      for (const p of ["readinessProbe", "livenessProbe"]) expect(ports, `${r.name} ${p}`).toContain(get(p).port);
      const startup = o(c.startupProbe);
      expect(Number(startup.failureThreshold) * Number(startup.periodSeconds), r.name).toBeGreaterThanOrEqual(120);
      expect(o(o(c.lifecycle).preStop), r.name).toEqual({ sleep: { seconds: 5 } });
    }
  });

  it("the courier: probed on its metrics listener, budgeted, sized like Kratos", () => {
    for (const r of renderings) {
      const sts = one(r, "StatefulSet", isCourier);
      const c = firstContainer(sts);
      for (const p of ["readinessProbe", "livenessProbe"])
        expect(o(o(c[p]).httpGet), `${r.name} ${p}`).toEqual({ path: "/metrics/prometheus", port: "http-metrics" });
      // `courier watch` serves its metrics on the port the chart names, which the probes use.
      expect(c.args).toEqual(expect.arrayContaining(["courier", "watch", "--expose-metrics-port"]));
      const pdb = one(r, "PodDisruptionBudget", (m) => o(o(m.spec).selector).matchLabels !== undefined && isCourier(m));
      expect(o(pdb.spec).selector).toEqual(o(sts.spec).selector);
      expect(o(pdb.spec).maxUnavailable).toBe(1);
      // Chart 0.59.0 gives the courier deployment.resources (it reads no statefulSet.resources).
      expect(c.resources).toEqual(firstContainer(one(r, "Deployment")).resources);
    }
  });

  it("budgets never block a drain on an unready pod; prod scales on CPU, staging runs three", () => {
    for (const [i, r] of renderings.entries()) {
      const e = envs[i] as Environment;
      for (const pdb of kind(r, "PodDisruptionBudget"))
        expect(o(pdb.spec).unhealthyPodEvictionPolicy, `${r.name} ${pdb.metadata.name}`).toBe("AlwaysAllow");
      const dep = one(r, "Deployment");
      const hpa = kind(r, "HorizontalPodAutoscaler");
      if (e.profile === "prod") {
        expect(hpa, r.name).toHaveLength(1);
        expect(o(o(hpa[0]?.spec).scaleTargetRef).name).toBe(dep.metadata.name);
        expect(o(hpa[0]?.spec).minReplicas).toBeGreaterThanOrEqual(3);
        expect(o(dep.spec).replicas, "the HPA owns the replica count").toBeUndefined();
      } else {
        expect(hpa, r.name).toEqual([]);
        expect(o(dep.spec).replicas, r.name).toBe(3);
      }
      expect(e.kratos.replicas, e.name).toBeGreaterThanOrEqual(3);
    }
  });

  it("placed apart: hard across nodes, soft across zones, with a preferred anti-affinity", () => {
    for (const r of renderings) {
      const spec = o(o(one(r, "Deployment").spec).template).spec as Obj;
      const spread = spec.topologySpreadConstraints as Obj[];
      expect(spread.map((s) => [s.topologyKey, s.whenUnsatisfiable])).toEqual([
        ["kubernetes.io/hostname", "DoNotSchedule"],
        ["topology.kubernetes.io/zone", "ScheduleAnyway"],
      ]);
      const podLabels = o(o(o(one(r, "Deployment").spec).template).metadata).labels as Obj;
      for (const s of spread)
        for (const [k, v] of Object.entries(o(o(s.labelSelector).matchLabels))) expect(podLabels[k], r.name).toBe(v);
      expect(o(o(spec.affinity).podAntiAffinity).preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    }
  });

  it("the cleanup CronJob: requests and limits, no service-account token, a start deadline", () => {
    for (const r of renderings) {
      const cron = one(r, "CronJob");
      const pod = podSpecOf(cron) ?? {};
      expect(pod.automountServiceAccountToken, r.name).toBe(false);
      const res = o(firstContainer(cron).resources);
      for (const k of ["requests", "limits"])
        for (const q of ["cpu", "memory", "ephemeral-storage"])
          expect(o(res[k])[q], `${r.name} ${k}.${q}`).toBeDefined();
      expect(o(cron.spec).startingDeadlineSeconds, r.name).toBeGreaterThan(0);
    }
  });

  it("the pods carry the labels the Gatehouse chart's NetworkPolicies select (support.ts kratosPods)", () => {
    for (const [i, r] of renderings.entries()) {
      const e = envs[i] as Environment;
      const want = kratosPods(e.releases.kratos, e.namespaces.kratos);
      const labels = (m: Manifest) =>
        o(m.kind === "CronJob" ? o(o(o(o(m.spec).jobTemplate).spec).template).metadata : o(o(m.spec).template).metadata)
          .labels as Obj;
      const cases: [string, Manifest][] = [
        ["serve", one(r, "Deployment")],
        ["courier", one(r, "StatefulSet", isCourier)],
        ["migrate", one(r, "Job")],
        ["cleanup", one(r, "CronJob")],
      ];
      for (const [name, m] of cases)
        expect(labels(m), `${r.name}: ${name}`).toMatchObject(must(want[name], name).labels as Obj);
    }
  });
});

describe("the post-renderer changes only what the chart's values cannot say", () => {
  /** Leaf paths (kind/name.path) that differ between two renderings. */
  function changes(before: Manifest[], after: Manifest[]): string[] {
    const key = (m: Manifest) => `${m.kind}/${m.metadata.name}`;
    const out: string[] = [];
    const walk = (a: unknown, b: unknown, at: string) => {
      if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) === !Array.isArray(b)) {
        for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
          walk((a as Obj)[k], (b as Obj)[k], `${at}.${k}`);
      } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(at);
    };
    const byKey = new Map(before.map((m) => [key(m), m]));
    for (const m of after) {
      const prev = byKey.get(key(m));
      if (prev) walk(prev, m, key(m));
      else out.push(`${key(m)} (new)`);
    }
    for (const k of byKey.keys()) if (!after.some((m) => key(m) === k)) out.push(`${k} (removed)`);
    return out.map((p) => p.replace(/\.(containers|initContainers)\.\d+\./, ".$1[].").replace(/\.\d+\./g, "[]."));
  }

  it("the same list of changes in every environment, nothing else", () => {
    for (const e of envs) {
      const before = renderKratos(e, { postRender: false }).manifests;
      const after = renderKratos(e).manifests;
      const got = [...new Set(changes(before, after))].sort();
      const ALLOWED = [
        /^PodDisruptionBudget\/kratos\.metadata\.namespace$/,
        /^PodDisruptionBudget\/kratos\.spec\.unhealthyPodEvictionPolicy$/,
        /^PodDisruptionBudget\/kratos-courier \(new\)$/,
        /^HorizontalPodAutoscaler\/kratos\.metadata\.namespace$/,
        /^StatefulSet\/kratos-courier\.spec\.template\.spec\.containers\[\]\.(readiness|liveness)Probe$/,
        /^StatefulSet\/kratos-courier\.spec\.template\.spec\.automountServiceAccountToken$/,
        /^CronJob\/kratos-cleanup\.spec\.startingDeadlineSeconds$/,
      ];
      expect(
        got.filter((c) => !ALLOWED.some((re) => re.test(c))),
        e.name,
      ).toEqual([]);
      expect(got.length, e.name).toBeGreaterThanOrEqual(6);
    }
  });

  it("refuses an output it was not written for (no courier), so the install fails instead of going on", () => {
    const r = renderKratos(loadEnvironment("prod"), { postRender: false });
    expect(() =>
      postRender(
        r.manifests.filter((m) => !isCourier(m) || m.kind !== "StatefulSet"),
        "kratos",
      ),
    ).toThrow(/expected the chart's one courier StatefulSet, found 0/);
  });
});
