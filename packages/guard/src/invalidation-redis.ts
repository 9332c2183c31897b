// Node entry: feeds an InvalidationLog from the auth-service's Redis channel.
// Pass a dedicated ioredis connection (a subscribed connection can do nothing else).
// Subscribing never blocks start-up: with Redis down, ioredis queues the command
// and re-subscribes on reconnect; until then cached entries follow their TTL.
import { INVALIDATION_CHANNEL, InvalidationLog } from "./core/invalidation.ts";

export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
}

export function subscribeInvalidations(
  subscriber: RedisSubscriber,
  onError: (e: Error) => void = () => {},
): InvalidationLog {
  const log = new InvalidationLog();
  subscriber.on("message", (channel, message) => {
    if (channel === INVALIDATION_CHANNEL) log.apply(message);
  });
  subscriber.subscribe(INVALIDATION_CHANNEL).catch(onError);
  return log;
}
