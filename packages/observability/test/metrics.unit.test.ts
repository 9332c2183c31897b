import { describe, expect, it } from "vitest";
import { Counter, Histogram, renderAll } from "../src/metrics.ts";

describe("Prometheus metrics", () => {
  it("a counter's held series and inc(labels) add to the same line", () => {
    const c = new Counter("gh_decisions_total", "Decisions");
    const allow = c.labels({ route: "api", outcome: "allow" });
    allow.inc();
    allow.inc();
    c.inc({ route: "api", outcome: "allow" });
    c.inc({ outcome: "401", route: "api" }, 2);
    expect(c.render().split("\n")).toEqual([
      "# HELP gh_decisions_total Decisions",
      "# TYPE gh_decisions_total counter",
      'gh_decisions_total{outcome="allow",route="api"} 3',
      'gh_decisions_total{outcome="401",route="api"} 2',
    ]);
  });

  it("a counter with no observations renders a zero", () => {
    expect(new Counter("gh_x_total", "X").render()).toContain("gh_x_total 0");
  });

  it("histogram buckets are cumulative, +Inf counts everything, sum and count add up", () => {
    const h = new Histogram("gh_seconds", "Latency");
    const s = h.labels({ route: "api" });
    for (const v of [0.0005, 0.001, 0.002, 0.3, 7]) s.observe(v);
    h.observe({ route: "api" }, 0.02);
    const lines = h.render().split("\n");
    const bucket = (le: string) => lines.find((l) => l.startsWith(`gh_seconds_bucket{route="api",le="${le}"}`));
    expect(bucket("0.001")).toMatch(/ 2$/); // 0.0005 and 0.001 (le is inclusive)
    expect(bucket("0.0025")).toMatch(/ 3$/);
    expect(bucket("0.025")).toMatch(/ 4$/);
    expect(bucket("0.25")).toMatch(/ 4$/);
    expect(bucket("0.5")).toMatch(/ 5$/);
    expect(bucket("5")).toMatch(/ 5$/);
    expect(bucket("+Inf")).toMatch(/ 6$/);
    expect(lines).toContain('gh_seconds_count{route="api"} 6');
    const sum = Number(lines.find((l) => l.startsWith("gh_seconds_sum"))?.split(" ")[1]);
    expect(sum).toBeCloseTo(7.3235, 6);
  });

  it("label values are escaped, and renderAll ends with a newline", () => {
    const c = new Counter("gh_q_total", "Q");
    c.inc({ path: 'a"b\\c\nd' });
    const text = renderAll([c]);
    expect(text).toContain('gh_q_total{path="a\\"b\\\\c\\nd"} 1');
    expect(text.endsWith("\n")).toBe(true);
  });
});
