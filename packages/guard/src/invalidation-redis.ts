// Node entry: feeds an InvalidationLog from the auth-service's Redis channel.
// Pass a dedicated ioredis connection (a subscribed connection can do nothing else).
// Subscribing never blocks start-up: with Redis down, ioredis queues the command
// and re-subscribes on reconnect. Pub/sub drops what is published while a
// subscriber is away, so after every (re)subscription the log catches up on the
// revocations still in force (the auth-service's "gh:rv:<sid>" keys) through `reader`:
// a logout made while this instance was disconnected is honoured from the reconnect on.
import { INVALIDATION_CHANNEL, InvalidationLog, REVOKED_KEY_PREFIX } from "./core/invalidation.ts";

export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
}

/** A second connection (any ioredis client) that reads the revocations in force. */
export interface RedisReader {
  scan(cursor: string, match: "MATCH", pattern: string, count: "COUNT", n: number): Promise<[string, string[]]>;
  pttl(key: string): Promise<number>;
}

export interface SubscribeOptions {
  /** Catches up on revocations after each (re)subscription. Without it, a missed logout lasts until its tokens expire. */
  reader?: RedisReader;
  /** A subscription or catch-up failed (Redis down); the next reconnect tries again. */
  onError?: (e: Error) => void;
}

export function subscribeInvalidations(subscriber: RedisSubscriber, options: SubscribeOptions = {}): InvalidationLog {
  const { reader, onError = () => {} } = options;
  const log = new InvalidationLog();
  subscriber.on("message", (channel, message) => {
    if (channel === INVALIDATION_CHANNEL) log.apply(message);
  });
  const subscribeAndCatchUp = async () => {
    await subscriber.subscribe(INVALIDATION_CHANNEL);
    if (reader) await catchUp(reader, log);
  };
  subscribeAndCatchUp().catch(onError);
  // ioredis re-subscribes by itself on reconnect; subscribing again is harmless and
  // orders the catch-up after the subscription, so nothing falls between the two.
  subscriber.on("ready", () => void subscribeAndCatchUp().catch(onError));
  return log;
}

async function catchUp(reader: RedisReader, log: InvalidationLog): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await reader.scan(cursor, "MATCH", `${REVOKED_KEY_PREFIX}*`, "COUNT", 1000);
    cursor = next;
    const ttls = await Promise.all(keys.map((k) => reader.pttl(k)));
    const now = Date.now();
    keys.forEach((key, i) => {
      const ttl = ttls[i] ?? -2;
      if (ttl > 0) log.revoke(key.slice(REVOKED_KEY_PREFIX.length), now + ttl);
    });
  } while (cursor !== "0");
}
