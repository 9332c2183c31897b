// pnpm stack up [--detach] | down | status [-o env|json] | logs [service] [-f]
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { browserUrls, ConfigError, type StackConfig, stackConfig } from "./config.ts";
import { redactUrl, stackEnv, startStack, stopStack } from "./index.ts";
import { SERVICES } from "./services.ts";
import { isAlive, readState, stopProcess } from "./supervisor.ts";

const USAGE = `usage: pnpm stack <command>

  up [--detach] [--only a,b]   start the stack (foreground; Ctrl-C stops it)
  down                         stop it
  status [-o env|json]         what runs and where; -o env prints KEY=value lines
  logs [service] [-f]          print (or follow) a service's log

environment: GATEHOUSE_PORT_BASE (default 7400), GATEHOUSE_DOMAIN (default localhost),
GATEHOUSE_STACK (default dev)`;

const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function fail(msg: string, code = 2): never {
  console.error(`stack: ${msg}`);
  process.exit(code);
}

function printUrls(cfg: StackConfig): void {
  const state = readState(cfg.stateFile);
  const running = new Set((state?.services ?? []).filter((s) => isAlive(s.pid)).map((s) => s.name));
  const b = browserUrls(cfg);
  console.log(`\n${bold("Gatehouse stack")} ${dim(`(${cfg.name}, ports ${cfg.basePort}–${cfg.basePort + 99})`)}\n`);
  for (const s of state?.services ?? []) {
    const mark = running.has(s.name) ? "●" : "○";
    console.log(`  ${mark} ${s.name.padEnd(10)} ${s.url.padEnd(52)} ${dim(s.log)}`);
  }
  if (running.has("web")) {
    console.log(`\n  Start here: ${b.marketing}          (marketing site → "Get started")`);
    console.log(`  Sign up:    ${b.web}/auth/registration`);
    console.log(`  Read mail:  ${b.mail}               (verification and recovery codes)`);
    console.log(`  API:        ${b.gateway}/v1/projects  (through the gateway, with your session cookie)`);
  } else if (running.has("kratos")) {
    console.log(`\n  Register:  ${b.kratos}/self-service/registration/browser`);
    console.log(`  Read mail: ${b.mail}`);
  }
  console.log("");
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const flags = new Set(rest.filter((a) => a.startsWith("-")));
  const positional = rest.filter((a) => !a.startsWith("-"));
  let cfg: StackConfig;
  try {
    cfg = stackConfig(process.env.GATEHOUSE_STACK ?? "dev");
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }

  switch (cmd) {
    case "up": {
      const known = new Set(["--detach", "-d", "--only"]);
      for (const f of flags) if (!known.has(f)) fail(`unknown flag ${f}\n\n${USAGE}`);
      const onlyIdx = rest.indexOf("--only");
      const only =
        onlyIdx >= 0
          ? (rest[onlyIdx + 1] ?? fail("--only needs a list, e.g. --only postgres,redis")).split(",")
          : undefined;
      const detach = flags.has("--detach") || flags.has("-d");
      const prev = readState(cfg.stateFile);
      if (prev?.services.some((s) => isAlive(s.pid))) {
        fail(`the ${cfg.name} stack is already running (pnpm stack status); stop it with pnpm stack down`, 1);
      }
      const log = (l: string) => console.log(dim(`  ${l}`));
      try {
        await startStack(cfg, { log, ...(only ? { only } : {}), ...(detach ? {} : { supervisorPid: process.pid }) });
      } catch (e) {
        fail((e as Error).message, 1);
      }
      printUrls(cfg);
      if (detach) {
        console.log(dim("  running in the background: pnpm stack down stops it\n"));
        return;
      }
      console.log(dim("  Ctrl-C stops everything\n"));
      let stopping = false;
      const shutdown = async () => {
        if (stopping) return;
        stopping = true;
        console.log(dim("\n  stopping…"));
        await stopStack(cfg, log);
        process.exit(0);
      };
      process.on("SIGINT", shutdown);
      process.on("SIGTERM", shutdown);
      // Stay alive; report a service that dies on its own.
      setInterval(() => {
        const st = readState(cfg.stateFile);
        if (!st || st.services.length === 0) process.exit(0);
        for (const s of st.services) {
          if (!isAlive(s.pid)) {
            console.error(`  ${s.name} exited unexpectedly; see ${s.log}`);
            void shutdown();
          }
        }
      }, 1_000);
      return;
    }
    case "down": {
      const st = readState(cfg.stateFile);
      if (!st?.services.some((s) => isAlive(s.pid))) {
        console.log(`the ${cfg.name} stack is not running`);
        return;
      }
      await stopStack(cfg, (l) => console.log(dim(`  ${l}`)));
      if (st.supervisorPid && isAlive(st.supervisorPid)) await stopProcess(st.supervisorPid, 3_000);
      console.log("stopped");
      return;
    }
    case "status": {
      const oi = rest.indexOf("-o");
      const format = oi >= 0 ? rest[oi + 1] : "text";
      const st = readState(cfg.stateFile);
      const alive = (st?.services ?? []).filter((s) => isAlive(s.pid));
      if (format === "env") {
        if (alive.length === 0) fail(`the ${cfg.name} stack is not running (pnpm stack up)`, 1);
        for (const [k, v] of Object.entries(stackEnv(cfg, st))) console.log(`${k}=${v}`);
        return;
      }
      if (format === "json") {
        console.log(
          JSON.stringify(
            { stack: cfg.name, services: alive.map((s) => ({ ...s, env: undefined })), env: stackEnv(cfg, st) },
            null,
            2,
          ),
        );
        return;
      }
      if (format !== "text") fail(`unknown output format "${format}" (use env or json)`);
      if (alive.length === 0) {
        console.log(`the ${cfg.name} stack is not running (pnpm stack up)`);
        process.exit(1);
      }
      printUrls(cfg);
      for (const [k, v] of Object.entries(stackEnv(cfg, st))) console.log(dim(`  ${k}=${redactUrl(v)}`));
      console.log("");
      return;
    }
    case "logs": {
      const name = positional[0];
      const logDir = cfg.logDir;
      const files = name
        ? [join(logDir, `${name}.log`)]
        : SERVICES.map((s) => s.name)
            .map((n) => join(logDir, `${n}.log`))
            .filter(existsSync);
      for (const f of files) if (!existsSync(f)) fail(`no log for "${name}" in ${logDir}`);
      const args = flags.has("-f") || flags.has("--follow") ? ["-n", "100", "-F", ...files] : ["-n", "200", ...files];
      const t = spawn("tail", args, { stdio: "inherit" });
      t.on("exit", (c) => process.exit(c ?? 0));
      return;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return;
    default:
      fail(`unknown command "${cmd}"\n\n${USAGE}`);
  }
}

await main(process.argv.slice(2));
