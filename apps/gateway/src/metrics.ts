// What the gateway counts (Prometheus) and, with ACCESS_LOG, logs: one latency
// observation and one line per answered request, one count per guard decision.
import type { IncomingMessage } from "node:http";
import type { Decision } from "@gatehouse/guard";
import { Counter, type CounterSeries, Histogram, type HistogramSeries, renderAll } from "@gatehouse/observability";
import { accessLineWriter } from "@gatehouse/observability/logger";
import type { Logger } from "pino";

/** One request as the metrics see it (the gateway's exchange, exchange.ts). */
export interface Answered {
  readonly req: IncomingMessage;
  readonly requestId: string;
  /** performance.now() when it arrived. */
  readonly t0: number;
  /** The method and normalized path it is about (a forward-auth check's: the original request's). */
  readonly method: string;
  readonly path: string;
  /** The matched route's name ("-" none, "kratos" the passthrough). */
  readonly route: string;
  /** A forward-auth check: counted under the route "decisions". */
  readonly forwardAuth: boolean;
}

/** Two-level memo (route name, then status or outcome) of metric series, so a request does no label-key work. */
function seriesTable<K, S>(make: (route: string, k: K) => S): (route: string, k: K) => S {
  const byRoute = new Map<string, Map<K, S>>();
  return (route, k) => {
    let m = byRoute.get(route);
    if (m === undefined) {
      m = new Map();
      byRoute.set(route, m);
    }
    let s = m.get(k);
    if (s === undefined) {
      s = make(route, k);
      m.set(k, s);
    }
    return s;
  };
}

const outcomeOf = (d: Decision) => (d.kind === "deny" ? String(d.status) : d.kind);

export class GatewayMetrics {
  readonly #requests = new Histogram(
    "gatehouse_gateway_request_duration_seconds",
    "Gateway request latency by route and status",
  );
  readonly #decisions = new Counter("gatehouse_gateway_decisions_total", "Guard decisions by route and outcome");
  readonly #websockets = new Counter("gatehouse_gateway_websockets_closed_total", "Websockets closed by a re-check");
  // Route names come from the routes file: a reload that renames routes adds series,
  // it does not grow them per request.
  readonly #requestSeries = seriesTable<number, HistogramSeries>((route, status) =>
    this.#requests.labels({ route, status: String(status) }),
  );
  readonly #decisionSeries = seriesTable<string, CounterSeries>((route, outcome) =>
    this.#decisions.labels({ route, outcome }),
  );
  // Forward-auth decisions are counted as "decisions:<route>", apart from proxied ones.
  readonly #forwardAuthSeries = seriesTable<string, CounterSeries>((route, outcome) =>
    this.#decisions.labels({ route: `decisions:${route}`, outcome }),
  );
  // ACCESS_LOG: its fields are ours and never secret (no header, cookie or query string).
  readonly #access: ReturnType<typeof accessLineWriter> | undefined;
  readonly #clientIp: (req: IncomingMessage) => string;

  constructor(log: Logger, accessLog: boolean, clientIp: (req: IncomingMessage) => string) {
    this.#access = accessLog ? accessLineWriter(log) : undefined;
    this.#clientIp = clientIp;
  }

  /** A request was answered with `status`. */
  answered(a: Answered, status: number): void {
    const ms = performance.now() - a.t0;
    this.#requestSeries(a.forwardAuth ? "decisions" : a.route, status).observe(ms / 1000);
    this.#access?.({
      request_id: a.requestId,
      method: a.method,
      path: a.path,
      route: a.forwardAuth ? (a.route === "-" ? "decisions" : `decisions:${a.route}`) : a.route,
      status,
      ms: Math.round(ms * 10) / 10,
      client: this.#clientIp(a.req),
    });
  }

  decided(a: Pick<Answered, "route" | "forwardAuth">, d: Decision): void {
    (a.forwardAuth ? this.#forwardAuthSeries : this.#decisionSeries)(a.route, outcomeOf(d)).inc();
  }

  websocketClosed(status: number): void {
    this.#websockets.inc({ reason: String(status) });
  }

  render(): string {
    return renderAll([this.#requests, this.#decisions, this.#websockets]);
  }
}
