// Node entry: feeds an InvalidationLog from the auth-service's Redis channel.
// Pass a dedicated ioredis connection (a subscribed connection can do nothing else).
// Subscribing never blocks start-up: with Redis down, the log waits, and it subscribes
// whenever the connection becomes ready (at start, or when Redis comes back, however
// long it was away). After each (re)subscription it cannot know what it missed, so
// every token issued until then counts as stale once (InvalidationLog.resync()).
// `log.listening` says whether the channel is heard right now (for readiness).
import { INVALIDATION_CHANNEL, InvalidationLog } from "./core/invalidation.ts";

export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  on(event: "ready" | "close", listener: () => void): unknown;
  /** ioredis' connection status ("ready" once connected). */
  readonly status?: string;
}

export function subscribeInvalidations(
  subscriber: RedisSubscriber,
  onError: (e: Error) => void = () => {},
): InvalidationLog {
  const log = new InvalidationLog();
  subscriber.on("message", (channel, message) => {
    if (channel === INVALIDATION_CHANNEL) log.apply(message);
  });
  const subscribe = () => {
    subscriber.subscribe(INVALIDATION_CHANNEL).then(() => {
      if (log.listening) return;
      log.listening = true;
      log.resync();
    }, onError);
  };
  subscriber.on("ready", subscribe);
  subscriber.on("close", () => {
    log.listening = false;
  });
  // Already connected (or a client without ioredis' status): subscribe now; else on 'ready'.
  if (subscriber.status === undefined || subscriber.status === "ready") subscribe();
  return log;
}
