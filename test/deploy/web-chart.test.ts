// The example product frontend in the Gatehouse chart (deploy/helm/gatehouse/templates/web.yaml):
// the app and the marketing site as two Deployments of one image, their hosts on the
// parent domain, Kratos reached only through the gateway, the cookie domain the same in
// every place that names it, and who may talk to whom. Needs helm (scripts/build-helm.sh).
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { webConfig } from "../../apps/example-web/lib/config.ts";
import { KRATOS_PATHS } from "../../apps/gateway/src/kratos/passthrough.ts";
import { matchRoute } from "../../apps/gateway/src/routes/match.ts";
import { compileRoutes } from "../../apps/gateway/src/routes/schema.ts";
import { environmentNames, kratosValuesFile, loadEnvironment } from "../../deploy/lib/environments.ts";
import { getPath } from "../../deploy/lib/kratos-env.ts";
import { allows, podOf } from "../../deploy/lib/network-policy.ts";
import { containersOf, type Manifest, podSpecOf } from "../../deploy/lib/policies.ts";
import {
  allRenderings,
  DEFAULT_VALUES,
  find,
  helmBinary,
  kratosPods,
  must,
  type Rendering,
  renderChart,
  renderEnvironment,
} from "./support.ts";

type Obj = Record<string, unknown>;
const o = (v: unknown) => (v ?? {}) as Obj;

let renderings: Rendering[] = [];
beforeAll(() => {
  helmBinary();
  renderings = allRenderings(environmentNames());
});

const containerOf = (r: Rendering, comp: string) =>
  containersOf(podSpecOf(must(find(r, "Deployment", comp), `${r.name} ${comp}`)) ?? {})[0] as Obj & {
    env: Obj[];
    ports: Obj[];
  };
const envOf = (r: Rendering, comp: string) =>
  Object.fromEntries(containerOf(r, comp).env.map((e) => [String(e.name), String(e.value)]));
const millis = (q: unknown) => {
  const m = /^(\d+)(m)?$/.exec(String(q));
  return m ? Number(m[1]) * (m[2] ? 1 : 1000) : Number.NaN;
};
const mebibytes = (q: unknown) => {
  const m = /^(\d+)(Mi|Gi)$/.exec(String(q));
  return m ? Number(m[1]) * (m[2] === "Gi" ? 1024 : 1) : Number.NaN;
};

describe("the app and the marketing site", () => {
  it("are two Deployments of one image, each opening only its own listener, which the probes ask", () => {
    for (const r of renderings) {
      const app = containerOf(r, "web");
      const site = containerOf(r, "marketing");
      expect(app.image, r.name).toBe(site.image);
      expect(String(app.image), r.name).toMatch(/\/gatehouse-example-web:/);
      for (const [c, sites, portVar] of [
        [app, "app", "WEB_PORT"],
        [site, "marketing", "MARKETING_PORT"],
      ] as const) {
        const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
        expect(env.WEB_SITES, r.name).toBe(sites);
        expect(
          (c.ports as Obj[]).map((p) => String(p.containerPort)),
          r.name,
        ).toEqual([env[portVar]]);
        for (const probe of ["readinessProbe", "livenessProbe"])
          expect(o(o(c[probe]).httpGet), `${r.name} ${sites} ${probe}`).toEqual({ path: "/healthz", port: "http" });
      }
    }
  });

  it("the marketing site is lighter: fewer replicas, smaller requests and limits", () => {
    for (const r of renderings) {
      const app = o(containerOf(r, "web").resources);
      const site = o(containerOf(r, "marketing").resources);
      for (const kind of ["requests", "limits"]) {
        expect(millis(o(site[kind]).cpu), `${r.name} ${kind}.cpu`).toBeLessThan(millis(o(app[kind]).cpu));
        expect(mebibytes(o(site[kind]).memory), `${r.name} ${kind}.memory`).toBeLessThan(
          mebibytes(o(app[kind]).memory),
        );
      }
      const replicas = (comp: string) => {
        const hpa = find(r, "HorizontalPodAutoscaler", comp);
        return hpa ? Number(o(hpa.spec).minReplicas) : Number(o(must(find(r, "Deployment", comp), comp).spec).replicas);
      };
      expect(replicas("marketing"), r.name).toBeLessThan(replicas("web"));
      expect(replicas("marketing"), r.name).toBeGreaterThanOrEqual(2);
    }
  });

  it("the server's own configuration parser accepts what each Deployment gets", () => {
    for (const r of renderings)
      for (const comp of ["web", "marketing"])
        expect(() => webConfig(envOf(r, comp)), `${r.name} ${comp}`).not.toThrow();
    // …and is not vacuous: a relative Kratos URL is refused, naming the variable.
    expect(() => webConfig({ ...envOf(renderings[0] as Rendering, "web"), KRATOS_BROWSER_URL: "/auth" })).toThrow(
      /KRATOS_BROWSER_URL/,
    );
  });

  it("can be turned off, and lives in the product's namespace when told", () => {
    const off = renderChart("no web", [DEFAULT_VALUES], { setJson: ["web.enabled=false"] });
    const comps = off.manifests.map((m) => String(o(m.metadata.labels)["app.kubernetes.io/component"]));
    expect(comps).not.toContain("web");
    expect(comps).not.toContain("marketing");
    const apps = renderChart("web elsewhere", [DEFAULT_VALUES], { setJson: ['web.namespace="example-apps"'] });
    const web = apps.manifests.filter((m) =>
      ["web", "marketing"].includes(String(o(m.metadata.labels)["app.kubernetes.io/component"])),
    );
    expect(web.length).toBeGreaterThan(8);
    for (const m of web) expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe("example-apps");
  });
});

describe("in every environment: hosts, cookie domain and Kratos in step", () => {
  for (const n of ["prod", "staging"]) {
    it(`${n}: Ingress hosts on the parent domain, Kratos' UI and return URLs on them, one cookie domain`, () => {
      const env = loadEnvironment(n);
      const r = renderEnvironment(env);
      const kv = parse(readFileSync(kratosValuesFile(env), "utf8")) as { kratos: { config: Obj } };
      const kratos = kv.kratos.config;
      const web = webConfig(envOf(r, "web"));
      const hostOf = (kind: string, comp: string) =>
        (o(must(find(r, kind, comp), `${kind} ${comp}`).spec).rules as { host: string }[]).map((x) => x.host);
      expect(hostOf("Ingress", "web")).toEqual([env.hosts.app]);
      expect(hostOf("Ingress", "marketing")).toEqual([env.hosts.www]);
      expect(new URL(web.webUrl).host).toBe(env.hosts.app);
      expect(new URL(web.marketingUrl).host).toBe(env.hosts.www);
      // The cookie: Kratos sets it on the environment's domain; the app reads it there.
      expect(web.cookieDomain).toBe(env.domain);
      expect(getPath(kratos, ["cookies", "domain"])).toBe(env.domain);
      expect(getPath(kratos, ["session", "cookie", "domain"])).toBe(env.domain);
      expect(web.cookieName).toBe(getPath(kratos, ["session", "cookie", "name"]));
      for (const h of [env.hosts.app, env.hosts.www, new URL(web.gatewayUrl).host])
        expect(h.endsWith(`.${env.domain}`), h).toBe(true);
      // Kratos sends browsers to the app's pages; the app's origins may receive them back.
      const flows = getPath(kratos, ["selfservice", "flows"]) as Record<string, { ui_url?: string }>;
      for (const [flow, f] of Object.entries(flows))
        if (f.ui_url) expect(f.ui_url, flow).toBe(`${web.webUrl}/auth/${flow}`);
      for (const origin of [web.webUrl, web.marketingUrl]) {
        expect(getPath(kratos, ["selfservice", "allowed_return_urls"]), origin).toContain(origin);
        expect(getPath(kratos, ["serve", "public", "cors", "allowed_origins"]), origin).toContain(origin);
        expect(String(envOf(r, "auth-service").CORS_ALLOWED_ORIGINS).split(","), origin).toContain(origin);
      }
      // Browsers reach Kratos on its base URL, which only the gateway's Ingress serves.
      expect(`${web.kratosBrowserUrl}/`).toBe(getPath(kratos, ["serve", "public", "base_url"]));
      expect(hostOf("Ingress", "gateway")).toContain(new URL(web.kratosBrowserUrl).host);
      // The gateway's login redirect and return hosts are the app's.
      expect(envOf(r, "gateway").LOGIN_URL).toBe(`${web.webUrl}/auth/login`);
      expect(String(envOf(r, "gateway").ALLOWED_RETURN_HOSTS).split(",")).toEqual(
        expect.arrayContaining([env.hosts.app, env.hosts.www]),
      );
      // Tokens: the app verifies what the auth-service signs.
      expect(web.issuer).toBe(envOf(r, "auth-service").TOKEN_ISSUER);
      expect(web.audience).toBe(envOf(r, "auth-service").TOKEN_AUDIENCE);
    });
  }

  it("the server reaches Kratos' public API only through the gateway's Service, whose routes serve its API calls", () => {
    for (const n of environmentNames()) {
      const r = renderEnvironment(loadEnvironment(n));
      const web = webConfig(envOf(r, "web"));
      const gw = must(find(r, "Service", "gateway"), "gateway Service");
      const gwUrl = `http://${gw.metadata.name}.${r.namespace}.svc.cluster.local:${(o(gw.spec).ports as Obj[])[0]?.port}`;
      expect(web.kratosUrl, n).toBe(new URL(gwUrl).origin);
      expect(web.gatewayInternalUrl, n).toBe(new URL(gwUrl).origin);
      expect(web.authServiceUrl, n).toBe(envOf(r, "gateway").AUTH_SERVICE_URL);
      // What the gateway passes to Kratos is what the pages ask for server-side.
      for (const path of ["/self-service/login/flows", "/self-service/registration", "/sessions/whoami"])
        expect(KRATOS_PATHS.test(path), path).toBe(true);
      // The example API through the gateway, addressed by its Service's host name: a route matches.
      const routes = compileRoutes(
        parse(String(o(must(find(r, "ConfigMap", "gateway"), "routes").data)["routes.yaml"])),
      );
      const route = matchRoute(routes, new URL(gwUrl).host, "/v1/projects", "GET");
      expect(route?.name, `${n}: no route for the web app's /v1/projects`).toBe("example-api");
    }
  });
});

describe("NetworkPolicies: who the web pods reach, and who reaches them", () => {
  it("app → gateway and auth-service; never Kratos; marketing → nothing; browsers only via the ingress controller", () => {
    for (const n of environmentNames()) {
      const env = loadEnvironment(n);
      const r = renderEnvironment(env);
      const pod = (comp: string) => podOf(must(find(r, "Deployment", comp), comp), r.namespace);
      const app = pod("web");
      const site = pod("marketing");
      const gateway = pod("gateway");
      const auth = pod("auth-service");
      const kratos = must(kratosPods(env.releases.kratos, env.namespaces.kratos).serve, "kratos");
      const ingress = { namespace: "ingress-nginx", labels: { "app.kubernetes.io/name": "ingress-nginx" } };
      const product = { namespace: "example-apps", labels: { "app.kubernetes.io/name": "example-api" } };
      const may = (from: typeof app, to: typeof app, port: number) => allows(r.manifests, r.namespace, from, to, port);
      expect(app.namespace, n).toBe("example-apps");
      expect(may(app, gateway, 7400), n).toBe(true);
      expect(may(app, auth, 7410), n).toBe(true);
      expect(may(app, auth, 7411), `${n}: the auth-service's admin port`).toBe(false);
      expect(may(app, kratos, 4433), `${n}: Kratos' public API directly`).toBe(false);
      expect(may(app, kratos, 4434), n).toBe(false);
      for (const to of [gateway, auth]) expect(may(site, to, 7400) || may(site, to, 7410), n).toBe(false);
      expect(may(ingress, app, 7401), n).toBe(true);
      expect(may(ingress, site, 7402), n).toBe(true);
      expect(may(product, app, 7401), `${n}: a neighbour in the product namespace`).toBe(false);
      // The neighbours of the web pods do not inherit their access to the auth-service.
      expect(may(product, auth, 7411), n).toBe(false);
    }
  });

  it("the check is not vacuous: without the web policy the neighbour gets in", () => {
    const r = renderEnvironment(loadEnvironment("prod"));
    const without: Manifest[] = r.manifests.filter((m) => m !== find(r, "NetworkPolicy", "web"));
    const app = podOf(must(find(r, "Deployment", "web"), "web"), r.namespace);
    const product = { namespace: "example-apps", labels: { "app.kubernetes.io/name": "example-api" } };
    expect(allows(without, r.namespace, product, app, 7401)).toBe(true);
  });
});
