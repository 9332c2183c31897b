// The official Kratos chart itself, rendered with the generated values, when a copy of it
// is at hand: KRATOS_CHART=<chart directory or .tgz>, e.g. after
//   helm pull kratos --repo https://k8s.ory.sh/helm/charts --version 0.59.0 --destination /tmp
//   KRATOS_CHART=/tmp/kratos-0.59.0.tgz ./gatehouse test
// These machines have no network and the chart is no Go module, so by default this file
// is skipped and the other tests rely on what the chart's values.yaml and templates say
// (support.ts kratosPods): this file checks exactly those assumptions against the chart.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { environmentNames, kratosValuesFile, loadEnvironment } from "../../deploy/lib/environments.ts";
import { allows, podOf } from "../../deploy/lib/network-policy.ts";
import { containersOf, type Manifest, podSpecOf } from "../../deploy/lib/policies.ts";
import { find, helm, kratosPods, must, parseManifests, renderEnvironment } from "./support.ts";

type Obj = Record<string, unknown>;
const CHART = process.env.KRATOS_CHART;

describe.skipIf(!CHART)("the official Kratos chart, rendered with the generated values (KRATOS_CHART)", () => {
  const render = (name: string) => {
    const env = loadEnvironment(name);
    const args = ["template", env.releases.kratos, String(CHART), "--namespace", env.namespaces.kratos];
    return { env, kratos: parseManifests(helm([...args, "--values", kratosValuesFile(env)])) };
  };
  const workload = (ms: Manifest[], kind: string) =>
    must(
      ms.find((m) => m.kind === kind),
      kind,
    );

  it("is the chart 0.59.0, which ships Kratos v1.3.1", () => {
    expect(parse(helm(["show", "chart", String(CHART)]))).toMatchObject({ name: "kratos", version: "0.59.0" });
  });

  it("labels its pods as the NetworkPolicies (and support.ts) assume, and only those are selected", () => {
    for (const n of environmentNames()) {
      const { env, kratos } = render(n);
      const assumed = kratosPods(env.releases.kratos, env.namespaces.kratos);
      const serve = podOf(workload(kratos, "Deployment"), env.namespaces.kratos);
      const courier = podOf(workload(kratos, "StatefulSet"), env.namespaces.kratos);
      expect(serve.labels, n).toMatchObject(must(assumed.serve, "serve").labels);
      expect(courier.labels, n).toMatchObject(must(assumed.courier, "courier").labels);
      const gatehouse = renderEnvironment(env);
      const selector = (c: string) =>
        (must(find(gatehouse, "NetworkPolicy", c), c).spec as { podSelector: { matchLabels: Obj } }).podSelector
          .matchLabels;
      const selected = (c: string) =>
        kratos
          .filter((m) => podSpecOf(m))
          .filter((m) => Object.entries(selector(c)).every(([k, v]) => podOf(m, "").labels[k] === v))
          .map((m) => m.kind);
      expect(selected("kratos"), n).toEqual(["Deployment"]);
      expect(selected("kratos-courier"), n).toEqual(["StatefulSet"]);
      // The ports the policies name are the ports the containers listen on.
      const ports = (m: Manifest) =>
        Object.fromEntries(
          ((containersOf(podSpecOf(m) ?? {})[0] as Obj).ports as Obj[]).map((p) => [p.name, p.containerPort]),
        );
      expect(ports(workload(kratos, "Deployment")), n).toEqual({ "http-public": 4433, "http-admin": 4434 });
      expect(ports(workload(kratos, "StatefulSet")), n).toEqual({ "http-metrics": 4434 });
      // Kratos' admin port: the auth-service, never the gateway or a stranger (real labels, real policies).
      const auth = podOf(must(find(gatehouse, "Deployment", "auth-service"), "auth"), gatehouse.namespace);
      const gw = podOf(must(find(gatehouse, "Deployment", "gateway"), "gw"), gatehouse.namespace);
      const stranger = { namespace: "example-apps", labels: { "app.kubernetes.io/name": "example-api" } };
      const can = (from: typeof auth, port: number) =>
        allows(gatehouse.manifests, gatehouse.namespace, from, serve, port);
      expect([can(auth, 4434), can(gw, 4434), can(stranger, 4434)], n).toEqual([true, false, false]);
      expect([can(auth, 4433), can(gw, 4433), can(stranger, 4433)], n).toEqual([true, true, false]);
    }
  });

  it("runs the courier at info (its LOG_LEVEL), no Ingress, ClusterIP Services only", () => {
    for (const n of environmentNames()) {
      const { kratos } = render(n);
      const env = (containersOf(podSpecOf(workload(kratos, "StatefulSet")) ?? {})[0] as { env: Obj[] }).env;
      expect(env.find((e) => e.name === "LOG_LEVEL")?.value, n).toBe("info");
      expect(env.find((e) => e.name === "LOG_FORMAT")?.value, n).toBe("json");
      expect(
        kratos.filter((m) => m.kind === "Ingress"),
        n,
      ).toEqual([]);
      for (const svc of kratos.filter((m) => m.kind === "Service"))
        expect((svc.spec as Obj).type, `${n} ${svc.metadata.name}`).toBe("ClusterIP");
      // kratos.yaml in the chart's ConfigMap carries the log settings and the gateway's origin.
      const cm = must(
        kratos.find((m) => m.kind === "ConfigMap" && (m.data as Obj | undefined)?.["kratos.yaml"]),
        "config",
      );
      const config = parse(String((cm.data as Obj)["kratos.yaml"])) as {
        log: Obj;
        serve: { public: { base_url: string } };
      };
      expect(config.log, n).toMatchObject({ level: "info", leak_sensitive_values: false });
      expect(config.serve.public.base_url, n).toBe(`https://${loadEnvironment(n).hosts.auth}/`);
      expect(readFileSync(kratosValuesFile(loadEnvironment(n)), "utf8")).toContain("leak_sensitive_values: false");
    }
  });
});
