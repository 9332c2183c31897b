// The gateway's entry. Tracing, when configured (OTEL_EXPORTER_OTLP_ENDPOINT), starts
// before the modules it instruments (node:http, ioredis) are loaded, so the service
// itself (service.ts) is imported only after it; with tracing off nothing of it loads.
import type { DestinationStream } from "pino";
import { ConfigError, loadConfig } from "./config.ts";

export async function start(env: NodeJS.ProcessEnv = process.env, opts: { logDestination?: DestinationStream } = {}) {
  const cfg = loadConfig(env);
  const tracing = cfg.tracing && (await import("@gatehouse/observability/tracing")).startTracing(cfg.tracing);
  const { run } = await import("./service.ts");
  return run(cfg, { ...opts, ...(tracing ? { tracing } : {}) });
}

if (import.meta.main) {
  try {
    const s = await start();
    const { terminateOnSignals } = await import("@gatehouse/observability/shutdown");
    terminateOnSignals(() => s.stop(), { graceMs: s.graceMs, log: s.log });
  } catch (e) {
    const { RoutesError } = await import("./routes/schema.ts");
    if (e instanceof ConfigError || e instanceof RoutesError) {
      console.error(`gateway: ${e.message}`);
      process.exit(2);
    }
    console.error(`gateway: failed to start: ${(e as Error).message}`);
    process.exit(1);
  }
}
