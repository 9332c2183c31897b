// One request through the gateway: what every room reads (the request id, the
// route it matched) and what the metrics record when it is answered. It is also the
// guard's Exchange (@gatehouse/guard/node): enforce() answers on it, or rewrites its
// request and hands it on.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Decision } from "@gatehouse/guard";
import type { Exchange } from "@gatehouse/guard/node";
import type { Answered, GatewayMetrics } from "./metrics.ts";
import type { CompiledRoute } from "./routes/schema.ts";

export class GatewayExchange implements Exchange, Answered {
  readonly t0 = performance.now();
  method: string;
  path = "-";
  route = "-";
  forwardAuth = false;
  /** The route this request is guarded by and sent to, once matched. */
  matched: CompiledRoute | undefined;
  /** Path and query the upstream receives (the normalized ones the rule matched). */
  target = "";
  /** What the gateway states about the client to the upstream (X-Forwarded-*). */
  stated: readonly string[] | undefined;
  /** The upstream request is built from the rewritten header list; `req` is left as it came. */
  readonly buildsUpstream = true;

  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly metrics: GatewayMetrics;

  constructor(req: IncomingMessage, res: ServerResponse, requestId: string, metrics: GatewayMetrics) {
    this.req = req;
    this.res = res;
    this.requestId = requestId;
    this.metrics = metrics;
    this.method = req.method ?? "GET";
  }

  onDecision(decision: Decision): void {
    this.metrics.decided(this, decision);
  }

  /** Records the answer once it has been written (for answers written at once, e.g. forward-auth's). */
  answered(status: number = this.res.statusCode): void {
    this.metrics.answered(this, status);
  }
}
