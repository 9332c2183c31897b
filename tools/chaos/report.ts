// The printed report of a chaos run: one status histogram per phase, the hits'
// recovery, what the checks against Postgres found, RSS over the soak, and the verdict.
import type { ChaosReport } from "./run.ts";

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  return rows.map(
    (r) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")}`,
  );
}

export function formatReport(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(
    "",
    `chaos (${r.form}): ${r.people} people in ${r.organizations} organizations, ${r.clients} clients, ${r.seconds} s; stack on ${r.ports}`,
    "",
  );
  const statuses = [...new Set(r.phases.flatMap((p) => Object.keys(p.histogram)))].sort();
  const rows = [["phase", "s", "requests", ...statuses, "back (s)", "recovered (s)"]];
  for (const p of r.phases) {
    rows.push([
      p.name,
      p.seconds.toFixed(0),
      String(p.requests),
      ...statuses.map((s) => String(p.histogram[s] ?? "·")),
      p.hit ? (p.hit.backAfterSec?.toFixed(1) ?? "never") : "",
      p.hit ? (p.hit.recovered ? (p.hit.recoveredAfterSec ?? 0).toFixed(1) : "never") : "",
    ]);
  }
  lines.push(...table(rows));
  lines.push(
    "",
    "  back: until the supervisor had the service running and ready again; recovered: until the",
    "  last failed request of the phase ended (then no failure for the rest of it)",
    "",
  );
  const total = (k: keyof ChaosReport["phases"][number]["outcomes"]) => r.phases.reduce((a, p) => a + p.outcomes[k], 0);
  lines.push(`  valid sessions signed out (401, login redirect, cookie cleared): ${total("signout")}`);
  lines.push(
    `  429 for legitimate users:                                        ${total("throttled")} (the busiest person sent ${r.busiestPersonPerMinute} requests in a minute)`,
  );
  lines.push(`  wrong answers (500, 4xx to a well-formed request):               ${total("wrong")}`);
  const crashes = r.crashes.map((c) => `${c.service} in "${c.phase}" (${c.reason})`).join("; ");
  lines.push(
    `  processes that exited when only a dependency was hit:            ${r.crashes.length}${crashes ? ` — ${crashes}` : ""}`,
  );
  const w = r.writes;
  if (w) {
    const ack = w.acknowledged;
    lines.push(
      `  writes: ${w.sent} sent, ${ack.team + ack["api-key"] + ack.role} acknowledged (teams ${ack.team}, API keys ${ack["api-key"]}, role changes ${ack.role})`,
      `    lost ${w.lost.length} · duplicated ${w.duplicated.length} · committed but answered with an error ${w.misacknowledged.length} · final role wrong ${w.wrongFinalRole.length}`,
      `    no answer: ${w.unanswered.committed} committed, ${w.unanswered.notCommitted} not · outbox rows never delivered: ${w.undelivered}`,
    );
  }
  if (r.rss.length > 0) {
    lines.push("", "  RSS over the soak (MB)");
    lines.push(
      ...table([
        ["service", "first", "last", "max", "slope (MB/min, 2nd half)"],
        ...r.rss.map((t) => [
          t.service,
          t.firstMb.toFixed(0),
          t.lastMb.toFixed(0),
          t.maxMb.toFixed(0),
          t.slopeMbPerMin.toFixed(2),
        ]),
      ]),
    );
  }
  for (const [what, samples] of Object.entries(r.samples))
    if (samples.length > 0) {
      lines.push("", `  first ${what} answers:`);
      for (const s of samples.slice(0, 5))
        lines.push(`    ${s.at} ${s.phase} ${s.kind} person ${s.user}: ${s.status} ${JSON.stringify(s.error ?? "")}`);
    }
  lines.push("", `  logs: ${r.logDir}`, "");
  lines.push(r.failures.length === 0 ? "PASS" : `FAIL\n${r.failures.map((f) => `  - ${f}`).join("\n")}`, "");
  return lines.join("\n");
}
