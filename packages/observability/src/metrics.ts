// Prometheus text exposition for the few series Gatehouse's services expose.
// Small enough to own instead of pulling in a client library.
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type Labels = Record<string, string>;
const canonical = (l: Labels) =>
  Object.entries(l)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");

// Sorting and escaping per observation cost several µs on every request; label sets
// are few, so each distinct one (in the order the caller wrote it) is done once.
const keys = new Map<string, string>();
function key(l: Labels): string {
  let signature = "";
  for (const name in l) signature += `${name}\u0000${l[name]}\u0001`;
  let k = keys.get(signature);
  if (k === undefined) {
    k = canonical(l);
    if (keys.size >= 10_000) keys.clear();
    keys.set(signature, k);
  }
  return k;
}

/** One labelled series of a counter, for callers that increment it on a hot path. */
export interface CounterSeries {
  inc(by?: number): void;
}

class CounterValue implements CounterSeries {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class Counter {
  readonly #values = new Map<string, CounterValue>();
  readonly name: string;
  readonly help: string;
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.labels(labels).inc(by);
  }
  /**
   * The series of one label set. Holding on to it skips the label-key lookup of
   * inc(labels) (a few µs on a request path that is otherwise sub-10 µs).
   */
  labels(labels: Labels = {}): CounterSeries {
    const k = key(labels);
    let v = this.#values.get(k);
    if (v === undefined) {
      v = new CounterValue();
      this.#values.set(k, v);
    }
    return v;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.#values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v.value}`);
    return lines.join("\n");
  }
}

/** One labelled series of a histogram, for callers that observe it on a hot path. */
export interface HistogramSeries {
  observe(seconds: number): void;
}

class HistogramValue implements HistogramSeries {
  // Per bucket, not cumulative: an observation touches one slot; render() sums.
  readonly counts: number[] = BUCKETS.map(() => 0);
  sum = 0;
  count = 0;
  observe(seconds: number): void {
    let i = 0;
    while (i < BUCKETS.length && seconds > (BUCKETS[i] as number)) i++;
    if (i < BUCKETS.length) this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += seconds;
    this.count++;
  }
}

export class Histogram {
  readonly #series = new Map<string, HistogramValue>();
  readonly name: string;
  readonly help: string;
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  observe(labels: Labels, seconds: number): void {
    this.labels(labels).observe(seconds);
  }
  /** The series of one label set; see Counter.labels. */
  labels(labels: Labels = {}): HistogramSeries {
    const k = key(labels);
    let s = this.#series.get(k);
    if (s === undefined) {
      s = new HistogramValue();
      this.#series.set(k, s);
    }
    return s;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.#series) {
      const pre = k ? `${k},` : "";
      let cumulative = 0;
      for (const [i, b] of BUCKETS.entries()) {
        cumulative += s.counts[i] as number;
        lines.push(`${this.name}_bucket{${pre}le="${b}"} ${cumulative}`);
      }
      lines.push(`${this.name}_bucket{${pre}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** Renders several metrics as one Prometheus text document. */
export function renderAll(metrics: readonly { render(): string }[]): string {
  return `${metrics.map((m) => m.render()).join("\n")}\n`;
}
