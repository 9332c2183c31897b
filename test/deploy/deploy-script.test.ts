// deploy/deploy.ts, the one command per environment, run against fake helm and
// kubectl binaries that record what they are asked and answer like a cluster would:
// the order (verify, Kratos, Gatehouse, verify), the authoritative upgrade flags,
// and that a problem before or after the upgrade fails the deploy.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatehouseSecretNames, requiredSecrets } from "../../deploy/deploy.ts";
import { loadEnvironment } from "../../deploy/lib/environments.ts";
import { must, REPO_ROOT } from "./support.ts";

let dir: string;
const DEPLOY = resolve(REPO_ROOT, "deploy/deploy.ts");

// A fake CLI: logs its argv, then answers from FAKE_* variables.
const FAKE = `#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$FAKE_LOG"
case "$(basename "$0") $*" in
  "kubectl config get-contexts"*) echo "\${FAKE_CONTEXT-gatehouse-prod}" ;;
  "helm list"*) if [[ -n "$FAKE_UPGRADED" && -f "$FAKE_LOG.upgraded" ]]; then echo "$FAKE_LIST_AFTER"; else echo "\${FAKE_LIST_BEFORE:-[]}"; fi ;;
  "kubectl get secret"*) echo "\${FAKE_SECRET_DATA}" ;;
  "helm upgrade"*) touch "$FAKE_LOG.upgraded"; echo "Release upgraded" ;;
  "kubectl wait externalsecret"*) exit "\${FAKE_ESO_EXIT:-0}" ;;
  "kubectl wait"*) exit "\${FAKE_WAIT_EXIT:-0}" ;;
esac
`;

const ALL_KEYS = [
  "dsn",
  "secretsDefault",
  "secretsCookie",
  "secretsCipher",
  "smtpConnectionURI",
  "webhookSecret",
  "DATABASE_URL",
  "REDIS_URL",
  "SIGNING_KEY_KEK",
  "WEBHOOK_SECRET",
  "ADMIN_API_TOKEN",
  "LOCKOUT_REPORT_TOKEN",
];
const secretData = (keys: string[]) => JSON.stringify(Object.fromEntries(keys.map((k) => [k, "eA=="])));
const deployed = JSON.stringify([
  { name: "kratos", revision: "4", status: "deployed" },
  { name: "gatehouse", revision: "7", status: "deployed" },
]);

function deploy(args: string[], fake: Record<string, string> = {}) {
  const log = join(dir, `log-${Math.random().toString(36).slice(2)}`);
  writeFileSync(log, "");
  const r = spawnSync(process.execPath, [DEPLOY, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: {
      ...process.env,
      HELM: join(dir, "helm"),
      KUBECTL: join(dir, "kubectl"),
      FAKE_LOG: log,
      FAKE_SECRET_DATA: secretData(ALL_KEYS),
      FAKE_UPGRADED: "1",
      FAKE_LIST_AFTER: deployed,
      ...fake,
    },
  });
  const calls = readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
  return { ...r, calls, output: r.stdout + r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gatehouse-deploy-"));
  for (const b of ["helm", "kubectl"]) {
    writeFileSync(join(dir, b), FAKE);
    chmodSync(join(dir, b), 0o755);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("node deploy/deploy.ts <env>", () => {
  it("verifies, upgrades Kratos then Gatehouse authoritatively, and verifies the pods are ready", () => {
    const r = deploy(["prod"]);
    expect(r.status, r.output).toBe(0);
    const kinds = r.calls.map((c) => c.split(" ").slice(0, 2).join(" "));
    expect(kinds).toEqual([
      "kubectl config",
      "helm list",
      "helm list",
      // prod's Secrets come from External Secrets Operator: applied and synced first.
      "helm template",
      "kubectl apply",
      "kubectl wait",
      "kubectl wait",
      "kubectl get",
      "kubectl get",
      "kubectl get",
      "helm upgrade",
      "helm upgrade",
      "kubectl rollout",
      "kubectl wait",
      "kubectl rollout",
      "kubectl wait",
      // the web app, in the product's namespace
      "kubectl rollout",
      "kubectl wait",
      "helm list",
      "helm list",
    ]);
    const env = loadEnvironment("prod");
    const [kratos, gatehouse] = r.calls.filter((c) => c.startsWith("helm upgrade"));
    expect(kratos).toContain(
      `upgrade --install kratos kratos --repo ${env.kratos.chartRepo} --version ${env.kratos.chartVersion} --namespace kratos --values deploy/kratos/values.prod.yaml`,
    );
    // What the official chart's values cannot say, added by the post-renderer (never a fork of the chart).
    expect(kratos).toContain("--post-renderer deploy/kratos/post-render.ts --post-renderer-args --namespace=kratos");
    expect(
      r.calls.filter((c) => c.startsWith("kubectl rollout")).map((c) => c.split("--namespace ")[1]?.split(" ")[0]),
    ).toEqual(["kratos", "gatehouse-auth", "example-apps"]);
    expect(gatehouse).toContain(
      "--values deploy/helm/gatehouse/values.yaml --values deploy/helm/gatehouse/values-production.yaml --values deploy/environments/prod.gatehouse.yaml",
    );
    for (const u of [kratos, gatehouse]) {
      for (const flag of ["--reset-values", "--take-ownership", "--atomic", "--wait", "--kube-context gatehouse-prod"])
        expect(u).toContain(flag);
      expect(u).not.toContain("--reuse-values");
    }
    // Every cluster call is pinned to the environment's context (helm template talks to none).
    for (const c of r.calls.slice(1).filter((c) => !c.startsWith("helm template")))
      expect(c).toMatch(/--(kube-)?context gatehouse-prod$/);
    expect(r.stdout).toContain("gatehouse-auth/gatehouse: revision 7, deployed");
  });

  it("ExternalSecrets: rendered from the environment's values, applied, synced, before any Secret is read", () => {
    const r = deploy(["prod"]);
    const template = must(
      r.calls.find((c) => c.startsWith("helm template")),
      "helm template",
    );
    expect(template).toContain(
      "template gatehouse deploy/helm/gatehouse --namespace gatehouse-auth --values deploy/helm/gatehouse/values.yaml --values deploy/helm/gatehouse/values-production.yaml --values deploy/environments/prod.gatehouse.yaml --show-only templates/external-secrets.yaml",
    );
    expect(r.calls).toContain(
      "kubectl apply --server-side --force-conflicts --field-manager gatehouse-deploy --filename - --context gatehouse-prod",
    );
    const waits = r.calls.filter((c) => c.startsWith("kubectl wait externalsecret"));
    expect(waits.map((c) => c.split("--namespace ")[1]?.split(" ")[0])).toEqual(["gatehouse-auth", "kratos"]);
    const at = (prefix: string) => r.calls.findIndex((c) => c.startsWith(prefix));
    expect(at("kubectl wait externalsecret")).toBeLessThan(at("kubectl get secret"));
    // A store that does not sync stops the deploy before anything is upgraded.
    const unsynced = deploy(["prod"], { FAKE_ESO_EXIT: "1" });
    expect(unsynced.status).toBe(1);
    expect(unsynced.output).toMatch(/every ExternalSecret in gatehouse-auth has synced its Secret/);
    expect(unsynced.calls.some((c) => c.startsWith("helm upgrade"))).toBe(false);
    // staging makes its Secrets by hand: no such step.
    expect(deploy(["staging", "--dry-run"]).stdout).not.toContain("ExternalSecret");
  });

  it("the staging profile leaves out values-production.yaml", () => {
    const r = deploy(["staging", "--dry-run"]);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([]); // a dry run touches nothing
    expect(r.stdout).toContain("--values deploy/environments/staging.gatehouse.yaml");
    expect(r.stdout).not.toContain("values-production.yaml");
  });

  it("stops before upgrading when the context is unknown, a release is stuck, or a Secret lacks a key", () => {
    const noCtx = deploy(["prod"], { FAKE_CONTEXT: "" });
    expect(noCtx.status).toBe(1);
    expect(noCtx.output).toContain('no kubectl context "gatehouse-prod"');

    const stuck = deploy(["prod"], {
      FAKE_LIST_BEFORE: JSON.stringify([{ name: "gatehouse", revision: "7", status: "pending-upgrade" }]),
    });
    expect(stuck.status).toBe(1);
    expect(stuck.output).toContain("gatehouse-auth/gatehouse is pending-upgrade");

    const noKey = deploy(["prod"], { FAKE_SECRET_DATA: secretData(ALL_KEYS.filter((k) => k !== "webhookSecret")) });
    expect(noKey.status).toBe(1);
    expect(noKey.output).toContain("Secret kratos/kratos-secrets lacks webhookSecret");
    for (const r of [noCtx, stuck, noKey]) expect(r.calls.some((c) => c.startsWith("helm upgrade"))).toBe(false);
  });

  it("fails when the pods do not become Ready or a release is not deployed afterwards", () => {
    const notReady = deploy(["prod"], { FAKE_WAIT_EXIT: "1" });
    expect(notReady.status).toBe(1);
    expect(notReady.output).toMatch(/failed at step \d+ \(every pod in kratos is Ready\)/);

    const failed = deploy(["prod"], {
      FAKE_LIST_AFTER: JSON.stringify([
        { name: "kratos", revision: "4", status: "deployed" },
        { name: "gatehouse", revision: "8", status: "failed" },
      ]),
    });
    expect(failed.status).toBe(1);
    expect(failed.output).toContain("gatehouse-auth/gatehouse is failed after the upgrade");
  });

  it("checks the Secrets the environment's values name, with the keys the charts read", () => {
    const env = loadEnvironment("prod");
    const names = gatehouseSecretNames(env);
    expect(names).toEqual({
      auth: "gatehouse-auth-service",
      gateway: "gatehouse-gateway",
      redisMode: "standalone",
      lockoutReports: true,
    });
    const checked = requiredSecrets(env, names).flatMap((s) => s.keys);
    // REDIS_URL and LOCKOUT_REPORT_TOKEN in both Gatehouse Secrets (the auth-service's and the gateway's).
    expect(checked.sort()).toEqual([...ALL_KEYS, "REDIS_URL", "LOCKOUT_REPORT_TOKEN"].sort());
    // With Sentinel or a Cluster the Secrets hold only optional passwords: no REDIS_URL is asked for.
    for (const redisMode of ["sentinel", "cluster"]) {
      const keys = requiredSecrets(env, { ...names, redisMode }).flatMap((s) => s.keys);
      expect(keys.sort()).toEqual([...ALL_KEYS.filter((k) => k !== "REDIS_URL"), "LOCKOUT_REPORT_TOKEN"].sort());
    }
    // Lock reports off: neither Secret needs the token.
    const off = requiredSecrets(env, { ...names, lockoutReports: false }).flatMap((s) => s.keys);
    expect(off).not.toContain("LOCKOUT_REPORT_TOKEN");
  });

  it("refuses an unknown environment", () => {
    const r = deploy(["nope"]);
    expect(r.status).toBe(2);
    expect(r.output).toContain('unknown environment "nope"');
  });
});
