// Node entry: feeds an InvalidationLog from the auth-service's Redis channel.
// Pass a dedicated ioredis connection (a subscribed connection can do nothing else).
import { INVALIDATION_CHANNEL, InvalidationLog } from "./core/invalidation.ts";

export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
}

export async function subscribeInvalidations(subscriber: RedisSubscriber): Promise<InvalidationLog> {
  const log = new InvalidationLog();
  subscriber.on("message", (channel, message) => {
    if (channel === INVALIDATION_CHANNEL) log.apply(message);
  });
  await subscriber.subscribe(INVALIDATION_CHANNEL);
  return log;
}
