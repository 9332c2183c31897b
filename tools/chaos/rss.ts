// Resident memory of the stack's long-lived processes, sampled during the soak, and a
// trend per process: a leak shows as a steady slope once caches are warm.
import { readFileSync } from "node:fs";

/** VmRSS of `pid` in MB, or undefined when it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RssTrend {
  service: string;
  samples: number;
  firstMb: number;
  lastMb: number;
  maxMb: number;
  /** Least-squares slope over the second half of the soak (the first warms caches), MB per minute. */
  slopeMbPerMin: number;
  /** [seconds into the soak, MB] */
  series: [number, number][];
}

export function trend(service: string, points: { t: number; mb: number }[]): RssTrend {
  const half = points.slice(Math.floor(points.length / 2));
  const n = half.length;
  const mx = half.reduce((a, p) => a + p.t, 0) / n;
  const my = half.reduce((a, p) => a + p.mb, 0) / n;
  const sxy = half.reduce((a, p) => a + (p.t - mx) * (p.mb - my), 0);
  const sxx = half.reduce((a, p) => a + (p.t - mx) ** 2, 0);
  return {
    service,
    samples: points.length,
    firstMb: points[0]?.mb ?? 0,
    lastMb: points.at(-1)?.mb ?? 0,
    maxMb: Math.max(...points.map((p) => p.mb)),
    slopeMbPerMin: sxx > 0 ? (sxy / sxx) * 60_000 : 0,
    series: points.map((p) => [Math.round(p.t / 1000), Math.round(p.mb * 10) / 10]),
  };
}
