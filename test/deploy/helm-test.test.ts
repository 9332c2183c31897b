// The install experience: `helm test` (templates/tests.yaml running files/helm-test.mjs)
// and NOTES.txt. The test pod's script is run here for real, against the test stack's
// auth-service and gateway (what the pod reaches through their Services), and against
// services that misbehave, to show each check can fail. Needs helm (scripts/build-helm.sh).
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { GATEHOUSE_CHART } from "../../deploy/lib/environments.ts";
import { allows, podOf } from "../../deploy/lib/network-policy.ts";
import { containersOf, podSpecOf } from "../../deploy/lib/policies.ts";
import {
  DEFAULT_VALUES,
  find,
  helm,
  must,
  PRODUCTION_VALUES,
  REPO_ROOT,
  type Rendering,
  renderChart,
} from "./support.ts";

type Obj = Record<string, unknown>;
const o = (v: unknown) => (v ?? {}) as Obj;
const SCRIPT = resolve(GATEHOUSE_CHART, "files/helm-test.mjs");
const stack = inject("stack");

/** Runs the test pod's script with these URLs (asynchronously: a fake service may live in this process). */
function runScript(env: Record<string, string>): Promise<{ status: number | null; out: string }> {
  const p = spawn(process.execPath, [SCRIPT], { env: { PATH: process.env.PATH, ...env } });
  let out = "";
  p.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  p.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  return new Promise((res) => p.once("close", (status) => res({ status, out })));
}

let r: Rendering;
beforeAll(() => {
  r = renderChart("default values", [DEFAULT_VALUES]);
});

describe("helm test", () => {
  it("is a test hook pod with the auth-service's image, running the chart's script against the release's Services", () => {
    const pod = must(find(r, "Pod", "test"), "test Pod");
    expect(o(pod.metadata.annotations)["helm.sh/hook"]).toBe("test");
    const cm = must(find(r, "ConfigMap", "test"), "test ConfigMap");
    expect(o(cm.data)["helm-test.mjs"]).toBe(readFileSync(SCRIPT, "utf8"));
    const [c] = containersOf(podSpecOf(pod) ?? {}) as (Obj & { env: Obj[] })[];
    const auth = containersOf(podSpecOf(must(find(r, "Deployment", "auth-service"), "auth")) ?? {})[0] as Obj;
    expect(c?.image).toBe(auth.image);
    expect(c?.args).toEqual(["/etc/gatehouse-test/helm-test.mjs"]);
    const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, String(e.value)]));
    const svc = (comp: string) => must(find(r, "Service", comp), comp);
    const port = (comp: string, name: string) => (o(svc(comp).spec).ports as Obj[]).find((p) => p.name === name)?.port;
    const host = (comp: string) => `${svc(comp).metadata.name}.${r.namespace}.svc.cluster.local`;
    expect(env).toEqual({
      AUTH_ADMIN_URL: `http://${host("auth-service")}:${port("auth-service", "admin")}`,
      AUTH_PUBLIC_URL: `http://${host("auth-service")}:${port("auth-service", "http")}`,
      GATEWAY_URL: `http://${host("gateway")}:${port("gateway", "http")}`,
    });
  });

  it("its NetworkPolicies let the test pod reach exactly those ports", () => {
    const pod = podOf(must(find(r, "Pod", "test"), "test"), r.namespace);
    const to = (comp: string) => podOf(must(find(r, "Deployment", comp), comp), r.namespace);
    const may = (port: number, comp: string) => allows(r.manifests, r.namespace, pod, to(comp), port);
    expect([may(7410, "auth-service"), may(7411, "auth-service"), may(7400, "gateway")]).toEqual([true, true, true]);
    expect(may(7431, "gateway")).toBe(false); // metrics
    const kratos = {
      namespace: "kratos",
      labels: { "app.kubernetes.io/name": "kratos", "app.kubernetes.io/instance": "kratos" },
    };
    expect(allows(r.manifests, r.namespace, pod, kratos, 4434)).toBe(false);
  });

  it("passes against a running auth-service and gateway (the test stack)", async () => {
    const res = await runScript({
      AUTH_ADMIN_URL: must(stack.AUTH_ADMIN_URL, "AUTH_ADMIN_URL"),
      AUTH_PUBLIC_URL: must(stack.AUTH_SERVICE_URL, "AUTH_SERVICE_URL"),
      GATEWAY_URL: must(stack.GATEWAY_INTERNAL_URL, "GATEWAY_INTERNAL_URL"),
    });
    expect(res.out).toContain("ok   auth-service ready");
    expect(res.out).toContain("ok   JWKS published");
    expect(res.out).toContain("ok   token exchange refuses a bogus session");
    expect(res.out).toContain("ok   gateway ready");
    expect(res.status, res.out).toBe(0);
  });

  describe("fails when a service misbehaves", () => {
    let fake: Server;
    let url = "";
    beforeAll(async () => {
      // Everything answers, but wrongly: not ready, an empty JWKS, a token for anyone.
      fake = createServer((req, res) => {
        res.setHeader("content-type", "application/json");
        if (req.url === "/health/ready") res.writeHead(503).end('{"status":"unavailable"}');
        else if (req.url === "/.well-known/jwks.json") res.writeHead(200).end('{"keys":[]}');
        else res.writeHead(200).end('{"access_token":"x","token_type":"Bearer","expires_in":60}');
      });
      await new Promise<void>((res) => fake.listen(0, "127.0.0.1", res));
      url = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
    });
    afterAll(() => fake?.close());

    it("every check reports its own failure and the pod exits 1", async () => {
      const res = await runScript({ AUTH_ADMIN_URL: url, AUTH_PUBLIC_URL: url, GATEWAY_URL: url });
      expect(res.status).toBe(1);
      expect(res.out).toContain("FAIL auth-service ready (Postgres and Kratos answer): GET /health/ready answered 503");
      expect(res.out).toContain("FAIL JWKS published with at least one signing key: the JWKS has no keys");
      expect(res.out).toContain(
        "FAIL token exchange refuses a bogus session: POST /v1/token with a bogus session answered 200",
      );
      expect(res.out).toContain("FAIL gateway ready");
    });

    it("nothing listening: a failure, not a hang or a crash", async () => {
      const res = await runScript({ AUTH_ADMIN_URL: "http://127.0.0.1:9", AUTH_PUBLIC_URL: "http://127.0.0.1:9" });
      expect(res.status).toBe(1);
      expect(res.out.match(/^FAIL /gm)).toHaveLength(3);
      expect(res.out).toContain("ok   gateway ready"); // not configured: nothing to check
    });
  });
});

describe("NOTES.txt", () => {
  /** The notes as `helm install` prints them: NOTES.txt through tpl, in a copy of the chart. */
  function notes(valuesFiles: string[], apiVersions: string[] = []): string {
    const dir = mkdtempSync(join(tmpdir(), "gatehouse-notes-"));
    try {
      cpSync(GATEHOUSE_CHART, dir, { recursive: true });
      cpSync(join(dir, "templates/NOTES.txt"), join(dir, "files/NOTES.txt"));
      writeFileSync(
        join(dir, "templates/zz-notes.yaml"),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ tpl (.Files.Get "files/NOTES.txt") . | quote }}\n',
      );
      const args = ["template", "gatehouse", dir, "-n", "gatehouse-auth", "--show-only", "templates/zz-notes.yaml"];
      for (const f of valuesFiles) args.push("--values", f);
      for (const a of apiVersions) args.push("--api-versions", a);
      return String((parse(helm(args)) as { data: { notes: string } }).data.notes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("says where each component is and what to check, with this release's names", () => {
    const prod = [DEFAULT_VALUES, PRODUCTION_VALUES, resolve(REPO_ROOT, "deploy/environments/prod.gatehouse.yaml")];
    const text = notes(prod, ["monitoring.coreos.com/v1/ServiceMonitor"]);
    expect(text).toContain("gateway       Service gatehouse-gateway.gatehouse-auth:80");
    expect(text).toContain("https://auth.example.com/");
    expect(text).toContain("auth-service  Service gatehouse-auth-service.gatehouse-auth: public API :7410");
    expect(text).toContain("web app       https://app.example.com and the marketing site https://www.example.com");
    expect(text).toContain("kubectl -n example-apps get pods -l app.kubernetes.io/instance=gatehouse");
    expect(text).toContain("curl -s localhost:7411/health/ready");
    expect(text).toContain("helm test gatehouse -n gatehouse-auth --logs");
    expect(text).not.toContain("no ServiceMonitor was created");
    // Without prometheus-operator, the notes say why there is no ServiceMonitor.
    expect(notes(prod)).toContain("no ServiceMonitor was created");
  });
});
