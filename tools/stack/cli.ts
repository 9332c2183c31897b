// pnpm stack up [--detach] | down | status [-o env|json] | logs [service] [-f] [-o json] | traces [id]
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { browserUrls, ConfigError, internalUrls, type StackConfig, stackConfig } from "./config.ts";
import { isSupervisor, redactUrl, runStack, stackEnv, stopStack } from "./index.ts";
import { prettyStream } from "./pretty-logs.ts";
import { logLine, stackLogFile } from "./restart.ts";
import { SERVICES } from "./services.ts";
import { isAlive, readState, tail } from "./supervisor.ts";
import { fetchTrace, recentTraces, waterfall } from "./traces.ts";

/** The command `up --detach` runs in the background: the stack's supervisor. */
const SUPERVISE = "__supervise";

const USAGE = `usage: pnpm stack <command>

  up [--detach] [--only a,b]   start the stack (foreground; Ctrl-C stops it); a service
                               that exits is started again (0.5 s, doubling to 10 s)
  down                         stop it
  status [-o env|json]         what runs and where, restarts; -o env prints KEY=value lines
  logs [service|stack] [-f] [-o json]
                               print (or follow) a service's log, or the stack's own;
                               JSON lines pretty-printed unless -o json
  traces [trace-id]            the gateway's latest traces; with an id, that one as a
                               waterfall (each step's start and duration)

environment: GATEHOUSE_PORT_BASE (default 7400), GATEHOUSE_DOMAIN (default localhost),
GATEHOUSE_STACK (default dev), GATEHOUSE_TRACING (on|off; default on for dev)`;

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
    if (s.restarts || s.lastExit) {
      const last = s.lastExit ? `; last exit: ${s.lastExit.reason} at ${s.lastExit.at}` : "";
      const now = running.has(s.name) ? "" : " (restarting)";
      console.log(`    ${dim(`restarts: ${s.restarts ?? 0}${last}${now}`)}`);
    }
  }
  if (state?.supervisorPid === undefined || !isSupervisor(state.supervisorPid))
    console.log(`\n  ${dim("no supervisor runs: a service that exits stays down (pnpm stack down, then up)")}`);
  if (running.has("web")) {
    console.log(`\n  Start here: ${b.marketing}          (marketing site → "Get started")`);
    console.log(`  Sign up:    ${b.web}/auth/registration`);
    console.log(`  Read mail:  ${b.mail}               (verification and recovery codes)`);
    console.log(`  API:        ${b.gateway}/v1/projects  (through the gateway, with your session cookie)`);
  } else if (running.has("kratos")) {
    console.log(`\n  Register:  ${b.kratos}/self-service/registration/browser`);
    console.log(`  Read mail: ${b.mail}`);
  }
  if (running.has("jaeger")) console.log(`  Traces:     ${b.traces}               (each request, step by step)`);
  console.log("");
}

/**
 * `up --detach`: runs the stack's supervisor as a background process (its own process
 * group, output to the stack's log), prints its progress from that log, and returns
 * once every service is ready, or fails with the log's tail if it exits first.
 */
async function startDetached(cfg: StackConfig, args: string[], print: (l: string) => void): Promise<void> {
  const logFile = stackLogFile(cfg);
  logLine(cfg, "up --detach");
  let offset = statSync(logFile).size;
  const fd = openSync(logFile, "a");
  const child = spawn(
    process.execPath,
    [import.meta.filename, SUPERVISE, ...args.filter((a) => a !== "--detach" && a !== "-d")],
    {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: process.env,
    },
  );
  closeSync(fd);
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  child.unref();
  const follow = () => {
    if (!existsSync(logFile)) return;
    const buf = readFileSync(logFile);
    if (buf.length < offset) offset = 0; // wiped (an ephemeral stack starts afresh)
    const end = buf.lastIndexOf(0x0a) + 1; // whole lines only
    if (end <= offset) return;
    for (const line of buf.subarray(offset, end).toString("utf8").split("\n").filter(Boolean))
      print(line.replace(/^\S+ \[stack\] /, ""));
    offset = end;
  };
  for (;;) {
    follow();
    const st = readState(cfg.stateFile);
    if (st && st.supervisorPid === child.pid && st.phase === "running") return;
    if (exited !== undefined) fail(`the stack did not start (its log: ${logFile}):\n${tail(logFile, 30)}`, 1);
    await sleep(100);
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const flags = new Set(rest.filter((a) => a.startsWith("-")));
  let cfg: StackConfig;
  try {
    cfg = stackConfig(process.env.GATEHOUSE_STACK ?? "dev");
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }

  switch (cmd) {
    case "up":
    case SUPERVISE: {
      const known = new Set(["--detach", "-d", "--only"]);
      for (const f of flags) if (!known.has(f)) fail(`unknown flag ${f}\n\n${USAGE}`);
      const onlyIdx = rest.indexOf("--only");
      const only =
        onlyIdx >= 0
          ? (rest[onlyIdx + 1] ?? fail("--only needs a list, e.g. --only postgres,redis")).split(",")
          : undefined;
      const detach = flags.has("--detach") || flags.has("-d");
      const log = (l: string) => console.log(dim(`  ${l}`));
      if (cmd === SUPERVISE) {
        // The --detach process: its lines go to the stack's log only.
        await runStack(cfg, { ...(only ? { only } : {}) }).catch((e: Error) => {
          logLine(cfg, `failed to start: ${e.message}`);
          process.exit(1);
        });
        return;
      }
      const prev = readState(cfg.stateFile);
      const running = (prev?.services ?? []).filter((s) => isAlive(s.pid)).map((s) => s.name);
      if (running.length > 0 || isSupervisor(prev?.supervisorPid)) {
        const keeper = isSupervisor(prev?.supervisorPid)
          ? `its supervisor (pid ${prev?.supervisorPid}) starts a service that exits again`
          : "it has no supervisor: pnpm stack down, then up";
        fail(
          `the ${cfg.name} stack is already running (${running.join(", ") || "restarting"}; ${keeper}); see pnpm stack status, stop it with pnpm stack down`,
          1,
        );
      }
      if (detach) {
        await startDetached(cfg, rest, log);
        printUrls(cfg);
        console.log(dim("  running in the background: pnpm stack down stops it\n"));
        return;
      }
      try {
        await runStack(cfg, {
          log,
          ...(only ? { only } : {}),
          onLine: (l) => console.error(`  ${l}`),
          onReady: () => {
            printUrls(cfg);
            console.log(dim("  Ctrl-C stops everything; a service that exits is started again\n"));
          },
        });
      } catch (e) {
        fail((e as Error).message, 1);
      }
      return;
    }
    case "down": {
      const st = readState(cfg.stateFile);
      if (!st?.services.some((s) => isAlive(s.pid)) && !isSupervisor(st?.supervisorPid)) {
        console.log(`the ${cfg.name} stack is not running`);
        return;
      }
      // The supervisor first (it stops the services it watches), then anything left.
      await stopStack(cfg, (l) => console.log(dim(`  ${l}`)));
      console.log("stopped");
      return;
    }
    case "status": {
      const oi = rest.indexOf("-o");
      const format = oi >= 0 ? rest[oi + 1] : "text";
      const st = readState(cfg.stateFile);
      const alive = (st?.services ?? []).filter((s) => isAlive(s.pid));
      const supervised = isSupervisor(st?.supervisorPid) && st?.phase !== "stopping";
      if (format === "env") {
        if (alive.length === 0) fail(`the ${cfg.name} stack is not running (pnpm stack up)`, 1);
        for (const [k, v] of Object.entries(stackEnv(cfg, st))) console.log(`${k}=${v}`);
        return;
      }
      if (format === "json") {
        console.log(
          JSON.stringify(
            {
              stack: cfg.name,
              supervisorPid: supervised ? st?.supervisorPid : undefined,
              // A service being restarted is listed too, with alive: false.
              services: (supervised ? (st?.services ?? []) : alive).map((s) => ({
                ...s,
                env: undefined,
                alive: isAlive(s.pid),
                restarts: s.restarts ?? 0,
              })),
              env: stackEnv(cfg, st),
            },
            null,
            2,
          ),
        );
        return;
      }
      if (format !== "text") fail(`unknown output format "${format}" (use env or json)`);
      if (alive.length === 0 && !supervised) {
        console.log(`the ${cfg.name} stack is not running (pnpm stack up)`);
        process.exit(1);
      }
      printUrls(cfg);
      for (const [k, v] of Object.entries(stackEnv(cfg, st))) console.log(dim(`  ${k}=${redactUrl(v)}`));
      console.log("");
      return;
    }
    case "logs": {
      const oi = rest.indexOf("-o");
      const format = oi >= 0 ? rest[oi + 1] : "pretty";
      if (format !== "json" && format !== "pretty") fail(`-o takes json (raw lines) or pretty, not "${format}"`);
      const name = rest.filter((a, i) => !a.startsWith("-") && !(oi >= 0 && i === oi + 1))[0];
      const names = ["stack", ...SERVICES.map((s) => s.name)];
      if (name && !names.includes(name)) fail(`no service "${name}": one of ${names.join(", ")}`);
      const logDir = cfg.logDir;
      const files = name
        ? [join(logDir, `${name}.log`)]
        : names.map((n) => join(logDir, `${n}.log`)).filter(existsSync);
      for (const f of files) if (!existsSync(f)) fail(`no log for "${name}" in ${logDir} (has the stack run?)`);
      const args = flags.has("-f") || flags.has("--follow") ? ["-n", "100", "-F", ...files] : ["-n", "200", ...files];
      const t = spawn("tail", args, { stdio: ["ignore", format === "json" ? "inherit" : "pipe", "inherit"] });
      const printed = t.stdout ? prettyStream(t.stdout, process.stdout, Boolean(process.stdout.isTTY)) : undefined;
      t.on("exit", (c) => void (printed ?? Promise.resolve()).then(() => process.exit(c ?? 0)));
      return;
    }
    case "traces": {
      const st = readState(cfg.stateFile);
      const jaeger = st?.services.find((s) => s.name === "jaeger" && isAlive(s.pid));
      if (!jaeger) fail(`the ${cfg.name} stack runs no trace collector (pnpm stack up; GATEHOUSE_TRACING=on)`, 1);
      const query = internalUrls(cfg).jaegerQuery;
      const id = rest.find((a) => !a.startsWith("-"));
      if (id) {
        const spans = await fetchTrace(query, id);
        if (spans.length === 0) fail(`no trace ${id} (yet)`, 1);
        for (const line of waterfall(spans)) console.log(line);
        return;
      }
      for (const t of await recentTraces(query, "gateway")) {
        const root = t.find((s) => !t.some((p) => p.spanId === s.parentId)) ?? t[0];
        if (!root) continue;
        const services = [...new Set(t.map((s) => s.service))].join(",");
        const took = `${(root.durationUs / 1000).toFixed(1)} ms`.padStart(10);
        console.log(`${root.traceId}  ${took}  ${String(t.length).padStart(3)} spans  ${root.name}  ${dim(services)}`);
      }
      console.log(
        dim(`\n  one as a waterfall: pnpm stack traces <trace-id>; in a browser: ${browserUrls(cfg).traces}`),
      );
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
