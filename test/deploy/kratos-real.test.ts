// A real Kratos v1.3.1 (scripts/build-kratos.sh) runs each workload of the official
// chart as deploy.ts renders it for prod: the config from its ConfigMap, each container's
// command, arguments and environment (Secret keys filled with test values, the DSN a
// fresh database in the test stack's Postgres), and the probes the values and the
// post-renderer set are asked as the kubelet would ask them. Two changes: the listening
// ports, which in a pod are the pod's own, are free ports here; and the cleanup's pause
// between tables (the chart's 1m0s, to spare the database) is 0s.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadEnvironment } from "../../deploy/lib/environments.ts";
import { containersOf, type Manifest, podSpecOf } from "../../deploy/lib/policies.ts";
import { must, type Rendering, renderKratos } from "./support.ts";

type Obj = Record<string, unknown>;
const o = (v: unknown) => (v ?? {}) as Obj;
const CACHE = process.env.GATEHOUSE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/gatehouse");
const KRATOS = join(CACHE, "bin", "kratos");
const stack = inject("stack");

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

let r: Rendering;
let dir: string;
let db: string;
let adminUrl: string;
const procs: ChildProcess[] = [];
const secret: Record<string, string> = {};
const ports = { public: 0, admin: 0, courier: 0 };

/** The container of a workload kind, its command, args and env as Kubernetes would run it here. */
function run(kind: string, pred: (m: Manifest) => boolean = () => true) {
  const m = must(
    r.manifests.find((x) => x.kind === kind && pred(x)),
    kind,
  );
  const c = containersOf(podSpecOf(m) ?? {})[0] as Obj;
  const env: Record<string, string> = { PATH: process.env.PATH ?? "" };
  for (const e of (c.env ?? []) as Obj[]) {
    const ref = o(o(e.valueFrom).secretKeyRef);
    if (ref.key) {
      if (ref.name !== loadEnvironment("prod").kratos.secret) throw new Error(`unexpected Secret ${String(ref.name)}`);
      const v = secret[String(ref.key)];
      if (v === undefined && ref.optional !== true) throw new Error(`no test value for ${String(ref.key)}`);
      if (v !== undefined) env[String(e.name)] = v;
    } else env[String(e.name)] = String(e.value);
  }
  // The ports, which a pod has to itself.
  Object.assign(env, {
    SERVE_PUBLIC_PORT: String(ports.public),
    SERVE_ADMIN_PORT: String(ports.admin),
    SERVE_PUBLIC_HOST: "127.0.0.1",
    SERVE_ADMIN_HOST: "127.0.0.1",
  });
  const argv = [...((c.command as string[] | undefined) ?? ["kratos"]), ...((c.args as string[]) ?? [])].map((a) =>
    a.replace("/etc/config", dir),
  );
  expect(argv[0], `${kind}: runs kratos`).toBe("kratos");
  const i = argv.indexOf("--expose-metrics-port");
  if (i >= 0) argv[i + 1] = String(ports.courier);
  const pause = argv.indexOf("--database.cleanup.sleep.tables");
  if (pause >= 0) argv[pause + 1] = "0s";
  return { manifest: m, container: c, args: argv.slice(1), env };
}

/** Asks an HTTP probe of a container as the kubelet does (its path, headers, port by name). */
async function probe(c: Obj, which: string, port: number): Promise<number> {
  const get = o(o(c[which]).httpGet);
  const headers = Object.fromEntries(((get.httpHeaders ?? []) as Obj[]).map((h) => [String(h.name), String(h.value)]));
  const res = await fetch(`http://127.0.0.1:${port}${String(get.path)}`, {
    headers,
    signal: AbortSignal.timeout(3000),
  }).catch(() => undefined);
  return res?.status ?? 0;
}

/** Starts a long-running workload, its output kept for the failure message. */
function start(w: { args: string[]; env: Record<string, string> }) {
  const p = spawn(KRATOS, w.args, { env: w.env });
  procs.push(p);
  let log = "";
  const keep = (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  };
  p.stdout?.on("data", keep);
  p.stderr?.on("data", keep);
  return { p, log: () => log };
}

async function until(what: string, ok: () => Promise<boolean>, log: () => string, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${what} not within ${ms} ms:\n${log()}`);
}

beforeAll(async () => {
  r = renderKratos(loadEnvironment("prod"));
  dir = mkdtempSync(join(tmpdir(), "gatehouse-kratos-chart-"));
  const cm = must(
    r.manifests.find((m) => m.kind === "ConfigMap" && m.metadata.name.endsWith("-config")),
    "config ConfigMap",
  );
  for (const [file, text] of Object.entries(o(cm.data)))
    writeFileSync(join(dir, file), String(text).replaceAll("/etc/config", dir));
  // A database of its own in the test stack's Postgres.
  const admin = new URL(must(stack.KRATOS_DATABASE_URL, "KRATOS_DATABASE_URL"));
  db = `kratos_chart_${process.pid}`;
  adminUrl = `postgres://${admin.username}@${admin.host}/postgres`;
  execFileSync("psql", [adminUrl, "-qc", `CREATE DATABASE ${db}`]);
  const dsn = new URL(admin);
  dsn.pathname = `/${db}`;
  Object.assign(secret, {
    dsn: dsn.toString(),
    secretsDefault: "d".repeat(32),
    secretsCookie: "c".repeat(32),
    secretsCipher: "x".repeat(32),
    smtpConnectionURI: "smtp://127.0.0.1:9/?disable_starttls=true",
    webhookSecret: "w".repeat(40),
  });
  Object.assign(ports, { public: await freePort(), admin: await freePort(), courier: await freePort() });
});

afterAll(() => {
  for (const p of procs) p.kill("SIGTERM");
  if (adminUrl) spawnSync("psql", [adminUrl, "-qc", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a real Kratos v1.3.1 runs the official chart's workloads as rendered for prod", () => {
  it("the migration Job migrates", () => {
    const job = run("Job");
    const res = spawnSync(KRATOS, job.args, { env: job.env, encoding: "utf8", timeout: 120_000 });
    expect(res.status, res.stderr.slice(-2000)).toBe(0);
  });

  it("kratos serve: its startup, readiness and liveness probes pass", { timeout: 120_000 }, async () => {
    const dep = run("Deployment");
    const { log } = start(dep);
    await until(
      "the startup probe",
      async () => (await probe(dep.container, "startupProbe", ports.admin)) === 200,
      log,
    );
    expect(await probe(dep.container, "readinessProbe", ports.admin)).toBe(200);
    expect(await probe(dep.container, "livenessProbe", ports.admin)).toBe(200);
    // The probes ask the admin port (the container port their names resolve to).
    const named = new Map(((dep.container.ports ?? []) as Obj[]).map((x) => [x.name, x.containerPort]));
    expect(named.get(o(o(dep.container.readinessProbe).httpGet).port)).toBe(4434);
  });

  it("the courier: its metrics listener answers the probes the post-renderer gave it", {
    timeout: 120_000,
  }, async () => {
    const sts = run("StatefulSet");
    // Kratos puts the courier's metrics listener on its admin listen address with :4434
    // replaced by --expose-metrics-port (both 4434 in the chart): here, the same free port.
    sts.env.SERVE_ADMIN_PORT = String(ports.courier);
    const { p, log } = start(sts);
    await until(
      "the courier's readiness probe",
      async () => (await probe(sts.container, "readinessProbe", ports.courier)) === 200,
      log,
    );
    expect(await probe(sts.container, "livenessProbe", ports.courier)).toBe(200);
    expect(p.exitCode).toBeNull();
  });

  it("the cleanup CronJob cleans up", { timeout: 120_000 }, () => {
    const cron = run("CronJob");
    const res = spawnSync(KRATOS, cron.args, { env: cron.env, encoding: "utf8", timeout: 120_000 });
    expect(res.status, res.stderr.slice(-2000)).toBe(0);
  });
});
