// The policy suite over every rendered manifest of both charts: the Gatehouse chart with
// the default values, the prod profile and each environment, each environment together
// with the official Kratos chart as deploy.ts installs it. Two independent sets of checks:
//   - ours (deploy/lib/policies.ts): Pod Security "restricted"-class pod checks, coverage
//     (Service, PDB, NetworkPolicy per Deployment) and the kube-linter-class cross-object
//     checks, named as kube-linter names them (kube-linter itself: the Go module proxy
//     refuses golang.stackrox.io/kube-linter, so it cannot be built here);
//   - checkov (PyPI, scripts/build-deploy-checks.sh), with deploy/checkov.yaml's skips.
// Each check is shown to catch a manifest made wrong on purpose.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { environmentNames, loadEnvironment } from "../../deploy/lib/environments.ts";
import {
  containersOf,
  coverageViolations,
  lint,
  type Manifest,
  podSpecOf,
  policyViolations,
} from "../../deploy/lib/policies.ts";
import { allRenderings, find, helmBinary, kratosPods, must, REPO_ROOT, renderKratos } from "./support.ts";

type Obj = Record<string, unknown>;
const o = (v: unknown) => (v ?? {}) as Obj;
const CACHE = process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/gatehouse");
const CHECKOV = join(CACHE, "checkov", "3.3.30", "bin", "checkov");

/**
 * The one object left out, and why: the official Kratos chart's `helm test` pod
 * (busybox wget, no security context or resources). It is a hook, which Helm 3 passes to
 * no post-renderer, and deploy.ts never runs `helm test kratos`; deploy/README.md says so.
 */
const isKratosTestPod = (m: Manifest) => m.kind === "Pod" && m.metadata.name.endsWith("-test-connection");

interface Set {
  name: string;
  manifests: Manifest[];
  /** Pods of another release the manifests select (the Kratos chart's, when it is not rendered alongside). */
  external: { namespace: string; labels: Obj }[];
}

let sets: Set[] = [];
let dir: string;
beforeAll(() => {
  helmBinary();
  const kratosElsewhere = Object.values(kratosPods("kratos", "kratos")) as { namespace: string; labels: Obj }[];
  const [def, prodProfile] = allRenderings([]);
  sets = [
    { name: "default values", manifests: must(def, "default").manifests, external: kratosElsewhere },
    { name: "prod profile", manifests: must(prodProfile, "prod").manifests, external: kratosElsewhere },
    ...environmentNames().map((n) => {
      const env = loadEnvironment(n);
      const gatehouse = must(
        allRenderings([n]).find((r) => r.name === `environment ${n}`),
        n,
      );
      const kratos = renderKratos(env).manifests.filter((m) => !isKratosTestPod(m));
      return { name: `environment ${n} (both charts)`, manifests: [...gatehouse.manifests, ...kratos], external: [] };
    }),
  ];
  dir = mkdtempSync(join(tmpdir(), "gatehouse-policy-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const clone = <T>(v: T): T => structuredClone(v);
const byComponent = (ms: Manifest[], kind: string, comp: string) =>
  must(find({ name: "", namespace: "", release: "", valuesFiles: [], manifests: ms }, kind, comp), `${kind} ${comp}`);

describe("our checks", () => {
  it("every rendering passes the pod, coverage and kube-linter-class checks", () => {
    expect(sets.map((s) => s.name)).toEqual([
      "default values",
      "prod profile",
      ...environmentNames().map((n) => `environment ${n} (both charts)`),
    ]);
    for (const s of sets) {
      expect(policyViolations(s.manifests), s.name).toEqual([]);
      expect(coverageViolations(s.manifests), s.name).toEqual([]);
      expect(lint(s.manifests, s.external), s.name).toEqual([]);
      // Both charts' workloads are in the environment sets.
      if (s.name.startsWith("environment")) {
        const kinds = new Set(s.manifests.map((m) => `${m.kind}/${m.metadata.name}`));
        for (const k of [
          "Deployment/kratos",
          "StatefulSet/kratos-courier",
          "CronJob/kratos-cleanup",
          "Deployment/gatehouse-web",
        ])
          expect(kinds, s.name).toContain(k);
      }
    }
  });

  it("each kube-linter-class check catches a manifest made wrong on purpose", () => {
    const base = must(
      sets.find((s) => s.name.startsWith("environment prod")),
      "prod",
    ).manifests;
    const cases: [string, (ms: Manifest[]) => void][] = [
      ["namespace-set", (ms) => delete byComponent(ms, "Service", "gateway").metadata.namespace],
      ["use-namespace", (ms) => (byComponent(ms, "ConfigMap", "gateway").metadata.namespace = "default")],
      ["exposed-services", (ms) => (o(byComponent(ms, "Service", "gateway").spec).type = "LoadBalancer")],
      ["dangling-service", (ms) => (o(byComponent(ms, "Service", "gateway").spec).selector = { app: "nothing" })],
      [
        "invalid-target-ports",
        (ms) => (((o(byComponent(ms, "Service", "gateway").spec).ports as Obj[])[0] as Obj).targetPort = "htp"),
      ],
      [
        "dangling-networkpolicy",
        (ms) => (o(byComponent(ms, "NetworkPolicy", "gateway").spec).podSelector = { matchLabels: { app: "x" } }),
      ],
      [
        "dangling-horizontalpodautoscaler",
        (ms) => (o(o(byComponent(ms, "HorizontalPodAutoscaler", "gateway").spec).scaleTargetRef).name = "gone"),
      ],
      [
        "dangling-servicemonitor",
        (ms) => (o(byComponent(ms, "ServiceMonitor", "gateway").spec).selector = { matchLabels: { app: "x" } }),
      ],
      [
        "pdb-unhealthy-pod-eviction-policy",
        (ms) => delete o(byComponent(ms, "PodDisruptionBudget", "gateway").spec).unhealthyPodEvictionPolicy,
      ],
      ["pdb-max-unavailable", (ms) => (o(byComponent(ms, "PodDisruptionBudget", "gateway").spec).maxUnavailable = 0)],
      [
        "pdb-min-available",
        (ms) => {
          const spec = o(byComponent(ms, "PodDisruptionBudget", "gateway").spec);
          delete spec.maxUnavailable;
          spec.minAvailable = 3;
        },
      ],
      [
        "dangling-poddisruptionbudget",
        (ms) => (o(byComponent(ms, "PodDisruptionBudget", "gateway").spec).selector = { matchLabels: { a: "b" } }),
      ],
      [
        "cronjob-starting-deadline",
        (ms) => delete o(byComponent(ms, "CronJob", "rotate-keys").spec).startingDeadlineSeconds,
      ],
      [
        "non-existent-service-account",
        (ms) => (o(podSpecOf(byComponent(ms, "Deployment", "gateway"))).serviceAccountName = "ghost"),
      ],
      [
        "mismatching-selector",
        (ms) => (o(o(byComponent(ms, "Deployment", "gateway").spec).selector).matchLabels = { app: "other" }),
      ],
      ["no-anti-affinity", (ms) => delete o(podSpecOf(byComponent(ms, "Deployment", "gateway"))).affinity],
      [
        "spread-across-nodes",
        (ms) => {
          for (const t of o(podSpecOf(byComponent(ms, "Deployment", "gateway"))).topologySpreadConstraints as Obj[])
            t.whenUnsatisfiable = "ScheduleAnyway";
        },
      ],
      [
        "liveness-port",
        (ms) =>
          (o(
            o((containersOf(podSpecOf(byComponent(ms, "Deployment", "gateway")) ?? {})[0] as Obj).livenessProbe)
              .httpGet,
          ).port = "nope"),
      ],
      [
        "ssh-port",
        (ms) =>
          ((containersOf(podSpecOf(byComponent(ms, "Deployment", "gateway")) ?? {})[0] as Obj).ports as Obj[]).push({
            name: "ssh",
            containerPort: 22,
          }),
      ],
      [
        "unsafe-sysctls",
        (ms) =>
          (o(o(podSpecOf(byComponent(ms, "Deployment", "gateway"))).securityContext).sysctls = [
            { name: "kernel.msgmax", value: "1" },
          ]),
      ],
    ];
    for (const [check, mutate] of cases) {
      const ms = clone(base);
      mutate(ms);
      expect(
        lint(ms).map((f) => f.check),
        check,
      ).toContain(check);
    }
    // Ephemeral storage is part of the pod checks.
    const ms = clone(base);
    delete o(o((containersOf(podSpecOf(byComponent(ms, "Deployment", "web")) ?? {})[0] as Obj).resources).limits)[
      "ephemeral-storage"
    ];
    expect(policyViolations(ms).join("\n")).toContain("no limits.ephemeral-storage");
    // Literal secrets, by the variables' last words; a flow's name is not a password.
    const env = (containersOf(podSpecOf(byComponent(ms, "Deployment", "web")) ?? {})[0] as Obj).env as Obj[];
    env.push(
      { name: "SECRETS_COOKIE", value: "x" },
      { name: "SELFSERVICE_FLOWS_RECOVERY_AFTER_HOOKS_1_CONFIG_AUTH_CONFIG_VALUE", value: "x" },
      { name: "SIGNING_KEY_KEK_PREVIOUS", value: "x" },
      { name: "SELFSERVICE_FLOWS_SETTINGS_AFTER_PASSWORD_HOOKS_0_HOOK", value: "revoke_active_sessions" },
    );
    const literal = policyViolations(ms).filter((v) => v.includes("is a literal value"));
    expect(literal.map((v) => v.split(": ")[1]?.split(" ")[0])).toEqual([
      "SECRETS_COOKIE",
      "SELFSERVICE_FLOWS_RECOVERY_AFTER_HOOKS_1_CONFIG_AUTH_CONFIG_VALUE",
      "SIGNING_KEY_KEK_PREVIOUS",
    ]);
  });
});

describe("checkov", () => {
  const CONFIG = resolve(REPO_ROOT, "deploy/checkov.yaml");

  function checkov(files: Record<string, Manifest[]>): {
    failed: { check_id: string; resource: string }[];
    summary: Obj;
  } {
    if (!existsSync(CHECKOV)) throw new Error(`checkov not found at ${CHECKOV}: run scripts/build-deploy-checks.sh`);
    const d = mkdtempSync(join(dir, "scan-"));
    for (const [name, ms] of Object.entries(files))
      writeFileSync(join(d, `${name}.yaml`), ms.map((m) => `---\n${stringify(m)}`).join(""));
    const r = spawnSync(CHECKOV, ["--config-file", CONFIG, "--directory", d, "--output", "json", "--quiet"], {
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: "false", BC_SKIP_MAPPING: "TRUE" },
    });
    if (!r.stdout.trim().startsWith("{") && !r.stdout.trim().startsWith("["))
      throw new Error(`checkov failed (${r.status}): ${r.stderr.slice(-2000)}`);
    const reports = [JSON.parse(r.stdout)].flat() as {
      results: { failed_checks: { check_id: string; resource: string }[] };
      summary: Obj;
    }[];
    return {
      failed: reports.flatMap((x) =>
        x.results.failed_checks.map((f) => ({ check_id: f.check_id, resource: f.resource })),
      ),
      summary: reports[0]?.summary ?? {},
    };
  }

  it("finds nothing in any rendering, with only the skips deploy/checkov.yaml gives reasons for", () => {
    const files = Object.fromEntries(sets.map((s, i) => [`set-${i}`, s.manifests]));
    const { failed, summary } = checkov(files);
    expect(failed).toEqual([]);
    expect(Number(summary.passed)).toBeGreaterThan(1000);
    expect(Number(summary.resource_count)).toBeGreaterThan(100);
    // Every skip names its reason on its line.
    const skips = readFileSync(CONFIG, "utf8")
      .split("\n")
      .filter((l) => /^\s+- CKV/.test(l));
    expect(skips.length).toBeGreaterThan(0);
    for (const l of skips) expect(l, l).toMatch(/^\s+- CKV\w+ # \S.{30,}/);
  }, 300_000);

  it("is not vacuous: a privileged container without limits, and Kratos' own helm test pod, are reported", () => {
    const ms = clone(must(sets[0], "default").manifests);
    const c = containersOf(podSpecOf(byComponent(ms, "Deployment", "gateway")) ?? {})[0] as Obj;
    o(c.securityContext).privileged = true;
    delete o(c.resources).limits;
    const kratosTest = renderKratos(loadEnvironment("prod")).manifests.filter(isKratosTestPod);
    expect(kratosTest).toHaveLength(1);
    const ids = (r: ReturnType<typeof checkov>) => new Set(r.failed.map((f) => `${f.check_id} ${f.resource}`));
    const found = ids(checkov({ mutated: ms, "kratos-test": kratosTest }));
    for (const id of ["CKV_K8S_16", "CKV_K8S_11", "CKV_K8S_13"])
      expect(
        [...found].some((f) => f.startsWith(`${id} Deployment.gatehouse-auth.gatehouse-gateway`)),
        id,
      ).toBe(true);
    expect([...found].some((f) => f.includes("kratos-test-connection"))).toBe(true);
  }, 300_000);
});
