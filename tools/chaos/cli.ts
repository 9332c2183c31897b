// pnpm chaos [--short] [--soak-seconds N] [--json FILE]
// A bounded fault run against a stack of its own (loopback only): see README.md here.
// Exits 0 when every check passed, 1 when one failed (or past the deadline), 2 on bad usage.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { closeClients } from "./http.ts";
import { formatReport } from "./report.ts";
import { type ChaosOptions, FORMS, runChaos } from "./run.ts";
import { stopChaosStacks } from "./stack.ts";

const USAGE = `usage: pnpm chaos [--short] [--soak-seconds N] [--json FILE]

  (no flag)          the full run: 50 people, 40 clients, 5-minute soak (~10 min in all)
  --short            the short run of ./gatehouse test: 25 people, 20 clients, 20 s soak (~2 min)
  --soak-seconds N   another soak length (10–3600)
  --json FILE        also write the report as JSON`;

/** A run stops by itself: past this plus the soak, everything is stopped and the run fails. */
const DEADLINE_MIN = { full: 15, short: 5 };

function usage(msg: string): never {
  console.error(`chaos: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function options(argv: string[]): { o: ChaosOptions; json?: string } {
  let parsed: ReturnType<typeof parseArgs<{ options: Record<string, { type: "boolean" | "string" }> }>>;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        short: { type: "boolean" },
        "soak-seconds": { type: "string" },
        json: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    usage((e as Error).message);
  }
  const v = parsed.values as { short?: boolean; "soak-seconds"?: string; json?: string; help?: boolean };
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const o = { ...FORMS[v.short ? "short" : "full"] };
  if (v["soak-seconds"] !== undefined) {
    const n = Number(v["soak-seconds"]);
    if (!Number.isInteger(n) || n < 10 || n > 3600)
      usage(`--soak-seconds must be an integer 10–3600, got "${v["soak-seconds"]}"`);
    o.soakSec = n;
  }
  return { o, ...(v.json ? { json: v.json } : {}) };
}

const t0 = performance.now();
const log = (l: string) => console.error(`[chaos ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${l}`);

async function giveUp(why: string, code: number): Promise<never> {
  log(`${why}: stopping the stack`);
  await stopChaosStacks().catch((e: Error) => log(`stopping: ${e.message}`));
  process.exit(code);
}

const { o, json } = options(process.argv.slice(2));
const deadlineMin = DEADLINE_MIN[o.form] + o.soakSec / 60;
setTimeout(() => void giveUp(`over the ${deadlineMin.toFixed(0)}-minute deadline`, 1), deadlineMin * 60_000).unref();
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void giveUp(sig, 130));

try {
  const report = await runChaos(o, log);
  await closeClients();
  if (json) writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(formatReport(report));
  process.exit(report.failures.length === 0 ? 0 : 1);
} catch (e) {
  log(`the run could not go on: ${(e as Error).stack ?? e}`);
  await giveUp("error", 1);
}
