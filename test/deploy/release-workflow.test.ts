// The release path: .github/workflows/release.yml builds every image from its Dockerfile,
// pushes it where the chart pulls from, and pins tag and digest into an environment's
// values with deploy/pin-images.ts. The workflow cannot run here; actionlint (built from
// the Go module proxy) and checkov check it, and the pinning runs for real.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GATEHOUSE_CHART, gatehouseValuesFiles, loadEnvironment, mergeValues } from "../../deploy/lib/environments.ts";
import { containersOf, podSpecOf } from "../../deploy/lib/policies.ts";
import { COMPONENTS, pinImages } from "../../deploy/pin-images.ts";
import { DEFAULT_VALUES, find, must, REPO_ROOT, renderChart } from "./support.ts";

type Obj = Record<string, unknown>;
const CACHE = process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/gatehouse");
const ACTIONLINT = join(CACHE, "actionlint", "v1.7.12", "actionlint");
const CHECKOV = join(CACHE, "checkov", "3.3.30", "bin", "checkov");
const WORKFLOW = resolve(REPO_ROOT, ".github/workflows/release.yml");
const workflow = () =>
  parse(readFileSync(WORKFLOW, "utf8")) as {
    jobs: Record<string, { strategy?: { matrix: { app: string[] } }; steps: Obj[] }>;
  };

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const DIGESTS = { "auth-service": digest("a"), gateway: digest("b"), "example-web": digest("c") };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gatehouse-release-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe(".github/workflows/release.yml", () => {
  it("actionlint accepts it, and refuses a broken copy", () => {
    if (!existsSync(ACTIONLINT))
      throw new Error(`actionlint not found at ${ACTIONLINT}: run scripts/build-deploy-checks.sh`);
    const run = (file: string) => spawnSync(ACTIONLINT, ["-no-color", file], { cwd: REPO_ROOT, encoding: "utf8" });
    const ok = run(WORKFLOW);
    expect(ok.stdout + ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    const broken = join(dir, "broken.yml");
    writeFileSync(broken, readFileSync(WORKFLOW, "utf8").replace("needs: images", "needs: imagez"));
    const bad = run(broken);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("imagez");
  });

  it("checkov finds nothing in it", () => {
    if (!existsSync(CHECKOV)) throw new Error(`checkov not found at ${CHECKOV}: run scripts/build-deploy-checks.sh`);
    const d = mkdtempSync(join(dir, "gha-"));
    cpSync(resolve(REPO_ROOT, ".github"), join(d, ".github"), { recursive: true });
    const r = spawnSync(CHECKOV, ["--directory", d, "--framework", "github_actions", "--output", "json", "--quiet"], {
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, BC_SKIP_MAPPING: "TRUE" },
    });
    const report = [JSON.parse(r.stdout || "{}")].flat()[0] as {
      summary?: { passed: number; failed: number };
      results?: { failed_checks: { check_id: string }[] };
    };
    expect(report.results?.failed_checks.map((f) => f.check_id) ?? []).toEqual([]);
    // checkov skips, silently, a workflow its schema does not know (it did so with a
    // job-level `attestations` permission): it must have read this one.
    expect(report.summary?.passed ?? 0).toBeGreaterThan(50);
  }, 300_000);

  it("the Dockerfiles it builds: checkov finds nothing", () => {
    const d = mkdtempSync(join(dir, "dockerfiles-"));
    const apps = readdirSync(resolve(REPO_ROOT, "apps")).filter((a) =>
      existsSync(resolve(REPO_ROOT, `apps/${a}/Dockerfile`)),
    );
    for (const a of apps) cpSync(resolve(REPO_ROOT, `apps/${a}/Dockerfile`), join(d, a, "Dockerfile"));
    // Not vacuous: a copy that runs as root is reported.
    const root = readFileSync(resolve(REPO_ROOT, "apps/gateway/Dockerfile"), "utf8").replace(/^USER .*$/m, "");
    cpSync(resolve(REPO_ROOT, "apps/gateway/Dockerfile"), join(d, "as-root", "Dockerfile"));
    writeFileSync(join(d, "as-root", "Dockerfile"), root);
    const r = spawnSync(CHECKOV, ["--directory", d, "--framework", "dockerfile", "--output", "json", "--quiet"], {
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, BC_SKIP_MAPPING: "TRUE" },
    });
    const report = [JSON.parse(r.stdout || "{}")].flat()[0] as {
      summary?: { passed: number; resource_count: number };
      results?: { failed_checks: { check_id: string; file_path: string }[] };
    };
    expect(report.results?.failed_checks.map((f) => `${f.check_id} ${f.file_path}`) ?? []).toEqual([
      "CKV_DOCKER_3 /as-root/Dockerfile",
    ]);
    expect(report.summary?.resource_count).toBe(apps.length + 1);
  }, 300_000);

  it("builds every Dockerfile, pushes where the chart pulls from, and pins every image the chart runs", () => {
    const w = workflow();
    const apps = readdirSync(resolve(REPO_ROOT, "apps")).filter((a) =>
      existsSync(resolve(REPO_ROOT, `apps/${a}/Dockerfile`)),
    );
    expect([...(w.jobs.images?.strategy?.matrix.app ?? [])].sort()).toEqual(apps.sort());
    // GitHub's expressions, spelt as the workflow spells them.
    const text = readFileSync(WORKFLOW, "utf8");
    const gh = (expr: string) => `\${{ ${expr} }}`;
    expect(text).toContain(`file: apps/${gh("matrix.app")}/Dockerfile`);
    expect(text).toContain(
      `${gh("env.REGISTRY")}/gatehouse-${gh("matrix.app")}:${gh("steps.version.outputs.version")}`,
    );
    // The chart's images: <registry>/gatehouse-<app>, the registry ghcr.io/<owner>.
    const values = parse(readFileSync(DEFAULT_VALUES, "utf8")) as Record<string, { image?: { repository: string } }> & {
      image: { registry: string };
    };
    expect(values.image.registry).toMatch(/^ghcr\.io\//);
    for (const [app, key] of Object.entries(COMPONENTS))
      expect(values[key]?.image?.repository).toBe(`gatehouse-${app}`);
    // The pin step names every image the chart runs.
    const pin = must(
      w.jobs.pin?.steps.find((s) => String(s.run ?? "").includes("deploy/pin-images.ts")),
      "pin step",
    );
    for (const app of Object.keys(COMPONENTS)) expect(String(pin.run)).toContain(`"${app}=$(cat digests/${app})"`);
  });
});

describe("deploy/pin-images.ts", () => {
  it("pins tag and digests into an environment's values, comments kept; the chart renders image@digest", () => {
    const env = loadEnvironment("staging");
    const file = resolve(REPO_ROOT, env.gatehouseValues);
    const before = readFileSync(file, "utf8");
    const after = pinImages(before, "0.2.0", DIGESTS);
    for (const line of before.split("\n").filter((l) => l.trim().startsWith("#"))) expect(after).toContain(line);
    expect(pinImages(after, "0.2.0", DIGESTS)).toBe(after); // idempotent
    const pinned = join(dir, "staging.gatehouse.yaml");
    writeFileSync(pinned, after);
    const files = [...gatehouseValuesFiles(env).slice(0, -1), pinned];
    // Still what the schema accepts…
    const schema = JSON.parse(readFileSync(resolve(GATEHOUSE_CHART, "values.schema.json"), "utf8"));
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(mergeValues(files)), JSON.stringify(validate.errors)).toBe(true);
    // …and every Gatehouse container runs the pinned digest.
    const r = renderChart("pinned staging", files, { namespace: env.namespaces.auth });
    const image = (kind: string, comp: string) =>
      String((containersOf(podSpecOf(must(find(r, kind, comp), comp)) ?? {})[0] as Obj).image);
    expect(image("Deployment", "auth-service")).toBe(
      `ghcr.io/gatehouse/gatehouse-auth-service:0.2.0@${DIGESTS["auth-service"]}`,
    );
    expect(image("Job", "migrate")).toBe(image("Deployment", "auth-service"));
    expect(image("Pod", "test")).toBe(image("Deployment", "auth-service"));
    expect(image("Deployment", "gateway")).toBe(`ghcr.io/gatehouse/gatehouse-gateway:0.2.0@${DIGESTS.gateway}`);
    for (const c of ["web", "marketing"])
      expect(image("Deployment", c)).toBe(`ghcr.io/gatehouse/gatehouse-example-web:0.2.0@${DIGESTS["example-web"]}`);
  });

  it("refuses what it must not pin", () => {
    const text = readFileSync(resolve(REPO_ROOT, loadEnvironment("prod").gatehouseValues), "utf8");
    expect(() => pinImages(text, "latest", DIGESTS)).toThrow(/not a pinnable tag/);
    expect(() => pinImages(text, "0.2.0", { ...DIGESTS, gateway: "sha256:abc" })).toThrow(/gateway: "sha256:abc"/);
    const { gateway: _, ...partial } = DIGESTS;
    expect(() => pinImages(text, "0.2.0", partial)).toThrow(/no digest for gateway/);
    expect(() => pinImages(text, "0.2.0", { ...DIGESTS, admin: digest("d") })).toThrow(/unknown image "admin"/);
  });

  it("the command: usage errors exit 2, and it names the file it changed", () => {
    const r = spawnSync(process.execPath, [resolve(REPO_ROOT, "deploy/pin-images.ts"), "staging"], {
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("usage: node deploy/pin-images.ts");
  });
});
