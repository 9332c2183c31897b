// The short form of `pnpm chaos`, as `./gatehouse test` runs it: a stack of its own,
// kill -9 of Redis, Postgres, Kratos, the auth-service and the gateway, SIGTERM of the
// auth-service and the gateway, all under mixed load, then every write checked against
// Postgres. The command decides pass or fail itself (exit code); this test runs it as
// an operator would and also reads its JSON report, so a verdict that went soft would
// still be caught here.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../stack/index.ts";
import { type ChaosReport, HITS } from "../run.ts";

function runChaos(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [resolve(REPO_ROOT, "tools/chaos/cli.ts"), ...args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.on("exit", (code) => res({ code, output }));
  });
}

describe("pnpm chaos --short", () => {
  it("passes: no crash, no sign-out, no 429, no lost or mis-acknowledged write; every hit recovered from without a hand", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-"));
    try {
      const json = join(dir, "report.json");
      const { code, output } = await runChaos(["--short", "--json", json]);
      expect(code, output).toBe(0);
      const r = JSON.parse(readFileSync(json, "utf8")) as ChaosReport;
      expect(r.failures, output).toEqual([]);
      expect(r.phases.map((p) => p.name)).toEqual([
        "baseline",
        ...HITS.map((h) => `${h.signal === "SIGKILL" ? "kill -9" : "SIGTERM"} ${h.service}`),
        "soak",
      ]);
      for (const p of r.phases) {
        expect(p.requests, p.name).toBeGreaterThan(0);
        expect(p.outcomes.signout, p.name).toBe(0);
        expect(p.outcomes.throttled, p.name).toBe(0);
        if (p.hit) {
          expect(p.hit.recovered, p.name).toBe(true);
          expect(p.hit.backAfterSec, p.name).toBeGreaterThan(0);
        }
      }
      expect(r.crashes).toEqual([]);
      const w = r.writes;
      expect(w?.acknowledged.team).toBeGreaterThan(0);
      expect(w?.acknowledged.role).toBeGreaterThan(0);
      expect(w?.acknowledged["api-key"]).toBeGreaterThan(0);
      expect([w?.lost, w?.duplicated, w?.misacknowledged, w?.wrongFinalRole]).toEqual([[], [], [], []]);
      expect(r.rss.map((t) => t.service).sort()).toEqual(["api", "auth", "gateway", "kratos", "redis"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 420_000);
});
