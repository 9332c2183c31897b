// The auth-service's metrics (series shared with the gateway live in @gatehouse/observability).
import { Counter, Histogram, renderAll } from "@gatehouse/observability";

export class Metrics {
  readonly requests = new Histogram(
    "gatehouse_http_request_duration_seconds",
    "HTTP request latency by listener, route and status",
  );
  readonly whoami = new Histogram("gatehouse_kratos_whoami_duration_seconds", "Latency of Kratos whoami calls");
  readonly cache = new Counter("gatehouse_session_cache_total", "Session cache lookups by tier and result (hit/miss)");
  readonly tokensMinted = new Counter("gatehouse_tokens_minted_total", "Access tokens signed, by algorithm");
  readonly tokensReused = new Counter("gatehouse_tokens_reused_total", "Exchanges answered with a cached minted token");
  readonly webhooks = new Counter("gatehouse_webhook_total", "Kratos webhook outcomes");

  observeRequest(listener: string, method: string, route: string, status: number, seconds: number): void {
    this.requests.observe({ listener, method, route, status: String(status) }, seconds);
  }

  render(): string {
    return renderAll([this.requests, this.whoami, this.cache, this.tokensMinted, this.tokensReused, this.webhooks]);
  }
}
