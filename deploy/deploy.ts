#!/usr/bin/env node
// One command per environment: Kratos (official chart) then Gatehouse (this repo's
// chart), upgraded authoritatively, with verification before and after.
//
//   node deploy/deploy.ts <env> [--dry-run] [--timeout 10m]
//
// <env> is deploy/environments/<env>.yaml (staging, prod, …). --dry-run prints the
// commands without talking to the cluster. HELM and KUBECTL name the binaries
// (default: helm and kubectl on PATH). deploy/README.md "Deploying" explains each step.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { renderValuesFile } from "./kratos/generate-values.ts";
import {
  type Environment,
  GATEHOUSE_CHART,
  gatehouseValuesFiles,
  kratosValuesFile,
  loadEnvironment,
  mergeValues,
  REPO_ROOT,
} from "./lib/environments.ts";

interface GatehouseSecrets {
  auth: string;
  gateway: string;
  /** redis.mode: with sentinel or cluster the Secrets hold only optional passwords, no REDIS_URL. */
  redisMode: string;
  /** gateway.lockoutReports.enabled (the chart's default: on): LOCKOUT_REPORT_TOKEN in both Secrets. */
  lockoutReports: boolean;
}

/** What Kratos' chart cannot say in values (deploy/kratos/post-render.ts). */
export const KRATOS_POST_RENDERER = "deploy/kratos/post-render.ts";

/** Keys each existing Secret must have (deploy/README.md "Secrets"). */
export function requiredSecrets(env: Environment, gatehouseValues: GatehouseSecrets) {
  const standalone = gatehouseValues.redisMode === "standalone";
  const lockouts = gatehouseValues.lockoutReports && gatehouseValues.gateway !== "";
  return [
    {
      namespace: env.namespaces.kratos,
      name: env.kratos.secret,
      keys: [
        "dsn",
        "secretsDefault",
        "secretsCookie",
        "secretsCipher",
        "smtpConnectionURI",
        "webhookSecret",
        // One client secret per social sign-in provider (deploy/README.md "Social sign-in providers").
        ...(env.kratos.socialSignIn ?? []).map((p) => `oidcClientSecret-${p.id}`),
      ],
    },
    {
      namespace: env.namespaces.auth,
      name: gatehouseValues.auth,
      keys: [
        "DATABASE_URL",
        ...(standalone ? ["REDIS_URL"] : []),
        "SIGNING_KEY_KEK",
        "WEBHOOK_SECRET",
        "ADMIN_API_TOKEN",
        ...(lockouts ? ["LOCKOUT_REPORT_TOKEN"] : []),
      ],
    },
    ...(gatehouseValues.gateway && (standalone || lockouts)
      ? [
          {
            namespace: env.namespaces.auth,
            name: gatehouseValues.gateway,
            keys: [...(standalone ? ["REDIS_URL"] : []), ...(lockouts ? ["LOCKOUT_REPORT_TOKEN"] : [])],
          },
        ]
      : []),
  ];
}

type Values = Record<string, unknown>;
const sub = (v: unknown, key: string): Values => ((v as Values | undefined)?.[key] ?? {}) as Values;

/** The Gatehouse values of an environment as Helm merges its files. */
export const gatehouseValues = (env: Environment) => mergeValues(gatehouseValuesFiles(env));

/** The Secret names (and redis.mode) the Gatehouse values files end up with. */
export function gatehouseSecretNames(env: Environment): GatehouseSecrets {
  const v = gatehouseValues(env);
  const gateway = sub(v, "gateway");
  return {
    auth: String(sub(v, "authService").existingSecret ?? ""),
    gateway: gateway.enabled === false ? "" : String(gateway.existingSecret ?? ""),
    redisMode: String(sub(v, "redis").mode ?? "standalone"),
    lockoutReports: sub(gateway, "lockoutReports").enabled !== false,
  };
}

/**
 * Namespaces whose Secrets External Secrets Operator makes from the values' ExternalSecrets
 * (none when externalSecrets.enabled is off): Gatehouse's, and Kratos' when its Secret is one.
 */
export function externalSecretNamespaces(env: Environment): string[] {
  const e = sub(gatehouseValues(env), "externalSecrets");
  if (e.enabled !== true) return [];
  return [...new Set([env.namespaces.auth, ...(sub(e, "kratos").remoteKey ? [env.namespaces.kratos] : [])])];
}

/** Where the web app runs, if the values deploy it. */
export function webNamespace(env: Environment): string | undefined {
  const web = sub(gatehouseValues(env), "web");
  return web.enabled === false ? undefined : String(web.namespace || env.namespaces.auth);
}

export interface Step {
  what: string;
  cmd: string;
  args: string[];
  /** A second command that reads this one's output on its stdin (`cmd … | pipeTo …`). */
  pipeTo?: { cmd: string; args: string[] };
  /** Runs even in a dry run? (never: a dry run does not touch the cluster) */
  check?: (stdout: string) => string | undefined;
}

export function plan(env: Environment, opts: { timeout: string; helm: string; kubectl: string }): Step[] {
  const ctx = env.kubeContext;
  const k = (...args: string[]) => ({ cmd: opts.kubectl, args: [...args, "--context", ctx] });
  const h = (...args: string[]) => ({ cmd: opts.helm, args: [...args, "--kube-context", ctx] });
  const rel = (f: string) => relative(REPO_ROOT, f);
  const secrets = requiredSecrets(env, gatehouseSecretNames(env));
  const esoNamespaces = externalSecretNamespaces(env);
  const web = webNamespace(env);
  const releases = [
    { release: env.releases.kratos, namespace: env.namespaces.kratos },
    { release: env.releases.gatehouse, namespace: env.namespaces.auth },
  ];
  // Authoritative: --reset-values drops values left by earlier `--set`s, so the files
  // are the whole truth; Helm's three-way merge puts back every field the chart sets
  // that was changed in the cluster; --take-ownership adopts same-named objects made
  // by hand; --atomic rolls back a release that does not become ready.
  const upgradeFlags = [
    "--reset-values",
    "--take-ownership",
    "--atomic",
    "--wait",
    "--timeout",
    opts.timeout,
    "--history-max",
    "10",
  ];
  return [
    {
      // Every command names the context: a different current context cannot misdirect the deploy.
      what: `kubectl knows the context ${ctx}`,
      cmd: opts.kubectl,
      args: ["config", "get-contexts", ctx, "--output", "name"],
      check: (out) =>
        out.trim() === ctx
          ? undefined
          : `no kubectl context "${ctx}" (deploy/environments/${env.name}.yaml kubeContext): add it to your kubeconfig`,
    },
    ...releases.map(({ release, namespace }) => ({
      what: `releases in ${namespace} before the upgrade (${release} must not be stuck)`,
      ...h("list", "--all", "--namespace", namespace, "--output", "json"),
      check: (out: string) => {
        const list = JSON.parse(out || "[]") as { name: string; status: string; revision: string }[];
        for (const r of list) console.log(`    ${namespace}/${r.name}: revision ${r.revision}, ${r.status}`);
        const stuck = list.find((r) => r.name === release && r.status.startsWith("pending"));
        return stuck
          ? `release ${namespace}/${release} is ${stuck.status} (an upgrade was interrupted): inspect helm history ${release} -n ${namespace}, then helm rollback ${release} -n ${namespace}`
          : undefined;
      },
    })),
    // ExternalSecrets first: both charts' migration hooks read the Secrets before any other
    // object of their release exists. The Gatehouse upgrade then adopts them (--take-ownership).
    ...(esoNamespaces.length
      ? [
          {
            what: "ExternalSecrets applied (External Secrets Operator makes the Secrets from the store)",
            cmd: opts.helm,
            args: [
              "template",
              env.releases.gatehouse,
              rel(GATEHOUSE_CHART),
              "--namespace",
              env.namespaces.auth,
              ...gatehouseValuesFiles(env).flatMap((f) => ["--values", rel(f)]),
              "--show-only",
              "templates/external-secrets.yaml",
            ],
            // --force-conflicts: the values are the truth, also over what the last upgrade set.
            pipeTo: k(
              "apply",
              "--server-side",
              "--force-conflicts",
              "--field-manager",
              "gatehouse-deploy",
              "--filename",
              "-",
            ),
          },
          ...esoNamespaces.map((namespace) => ({
            what: `every ExternalSecret in ${namespace} has synced its Secret`,
            ...k(
              "wait",
              "externalsecret",
              "--for=condition=Ready",
              "--namespace",
              namespace,
              "--selector",
              `app.kubernetes.io/instance=${env.releases.gatehouse}`,
              "--timeout",
              opts.timeout,
            ),
          })),
        ]
      : []),
    ...secrets.map((s) => ({
      what: `Secret ${s.namespace}/${s.name} exists with ${s.keys.join(", ")}`,
      ...k("get", "secret", s.name, "--namespace", s.namespace, "--output", "jsonpath={.data}"),
      check: (out: string) => {
        const have = Object.keys(JSON.parse(out || "{}") as object);
        const missing = s.keys.filter((key) => !have.includes(key));
        return missing.length
          ? `Secret ${s.namespace}/${s.name} lacks ${missing.join(", ")} (deploy/README.md "Secrets")`
          : undefined;
      },
    })),
    {
      what: `Kratos: ${env.kratos.chart} ${env.kratos.chartVersion} as ${env.namespaces.kratos}/${env.releases.kratos}`,
      ...h(
        "upgrade",
        "--install",
        env.releases.kratos,
        env.kratos.chart,
        "--repo",
        env.kratos.chartRepo,
        "--version",
        env.kratos.chartVersion,
        "--namespace",
        env.namespaces.kratos,
        "--values",
        rel(kratosValuesFile(env)),
        "--post-renderer",
        KRATOS_POST_RENDERER,
        "--post-renderer-args",
        `--namespace=${env.namespaces.kratos}`,
        ...upgradeFlags,
      ),
    },
    {
      what: `Gatehouse: ${rel(GATEHOUSE_CHART)} as ${env.namespaces.auth}/${env.releases.gatehouse} (profile ${env.profile})`,
      ...h(
        "upgrade",
        "--install",
        env.releases.gatehouse,
        rel(GATEHOUSE_CHART),
        "--namespace",
        env.namespaces.auth,
        ...gatehouseValuesFiles(env).flatMap((f) => ["--values", rel(f)]),
        ...upgradeFlags,
      ),
    },
    ...[
      {
        namespace: env.namespaces.kratos,
        selector: `app.kubernetes.io/instance=${env.releases.kratos},app.kubernetes.io/name in (kratos,kratos-courier)`,
      },
      {
        namespace: env.namespaces.auth,
        selector: `app.kubernetes.io/instance=${env.releases.gatehouse},app.kubernetes.io/component in (auth-service,gateway)`,
      },
      ...(web
        ? [
            {
              namespace: web,
              selector: `app.kubernetes.io/instance=${env.releases.gatehouse},app.kubernetes.io/component in (web,marketing)`,
            },
          ]
        : []),
    ].flatMap(({ namespace, selector }) => [
      {
        what: `every Deployment in ${namespace} has rolled out`,
        ...k(
          "rollout",
          "status",
          "deployment",
          "--namespace",
          namespace,
          "--selector",
          selector,
          "--timeout",
          opts.timeout,
        ),
      },
      {
        what: `every pod in ${namespace} is Ready`,
        ...k(
          "wait",
          "pod",
          "--for=condition=Ready",
          "--namespace",
          namespace,
          "--selector",
          selector,
          "--timeout",
          opts.timeout,
        ),
      },
    ]),
    ...releases.map(({ release, namespace }) => ({
      what: `${namespace}/${release} is deployed`,
      ...h("list", "--all", "--namespace", namespace, "--output", "json"),
      check: (out: string) => {
        const r = (JSON.parse(out || "[]") as { name: string; status: string; revision: string }[]).find(
          (x) => x.name === release,
        );
        if (r) console.log(`    ${namespace}/${release}: revision ${r.revision}, ${r.status}`);
        return r?.status === "deployed"
          ? undefined
          : `${namespace}/${release} is ${r?.status ?? "missing"} after the upgrade`;
      },
    })),
  ];
}

const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);

export function main(argv: string[]): number {
  const args = [...argv];
  const dryRun = args.includes("--dry-run");
  const t = args.indexOf("--timeout");
  const timeout = t >= 0 ? (args[t + 1] ?? "") : "10m";
  const name = args.filter((a, i) => !a.startsWith("--") && !(t >= 0 && i === t + 1))[0];
  if (!name || !/^\d+[smh]$/.test(timeout)) {
    console.error("usage: node deploy/deploy.ts <environment> [--dry-run] [--timeout 10m]");
    return 2;
  }
  let env: Environment;
  try {
    env = loadEnvironment(name);
  } catch (e) {
    console.error(`deploy: ${(e as Error).message}`);
    return 2;
  }
  if (readFileSync(kratosValuesFile(env), "utf8") !== renderValuesFile(env)) {
    console.error(
      `deploy: ${relative(REPO_ROOT, kratosValuesFile(env))} is stale: run node deploy/kratos/generate-values.ts and commit it`,
    );
    return 1;
  }
  const steps = plan(env, {
    timeout,
    helm: process.env.HELM ?? "helm",
    kubectl: process.env.KUBECTL ?? "kubectl",
  });
  console.log(`deploy ${env.name}${dryRun ? " (dry run: nothing is run)" : ""}`);
  for (const [i, s] of steps.entries()) {
    console.log(`[${i + 1}/${steps.length}] ${s.what}`);
    const line = (c: { cmd: string; args: string[] }) => [c.cmd, ...c.args].map(quote).join(" ");
    console.log(`  $ ${line(s)}${s.pipeTo ? ` | ${line(s.pipeTo)}` : ""}`);
    if (dryRun) continue;
    let out = "";
    try {
      const piped = Boolean(s.check || s.pipeTo);
      out = execFileSync(s.cmd, s.args, {
        cwd: REPO_ROOT,
        encoding: "utf8",
        stdio: ["ignore", piped ? "pipe" : "inherit", "inherit"],
      });
      if (s.pipeTo) {
        execFileSync(s.pipeTo.cmd, s.pipeTo.args, {
          cwd: REPO_ROOT,
          input: out,
          stdio: ["pipe", "inherit", "inherit"],
        });
      }
    } catch (e) {
      console.error(`deploy ${env.name} failed at step ${i + 1} (${s.what}): ${(e as Error).message.split("\n")[0]}`);
      return 1;
    }
    const problem = s.check?.(out ?? "");
    if (problem) {
      console.error(`deploy ${env.name} stopped at step ${i + 1}: ${problem}`);
      return 1;
    }
  }
  console.log(dryRun ? `dry run of ${env.name} done` : `deployed ${env.name}: every release deployed, every pod Ready`);
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
