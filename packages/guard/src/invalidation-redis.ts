// Node entry: feeds an InvalidationLog from the auth-service's Redis channel.
// Pass a dedicated ioredis connection (a subscribed connection can do nothing else).
// Subscribing never blocks start-up: with Redis down, the log waits, and it subscribes
// whenever the connection becomes ready (at start, or when Redis comes back, however
// long it was away). Pub/sub drops what is published while a subscriber is away, so
// after each (re)subscription every token issued until then counts as stale once
// (InvalidationLog.resync()), and the log catches up on the revocations still in force
// (the auth-service's "gh:rv:<sid>" keys) through `reader`: a logout made while this
// instance was disconnected is honoured from the reconnect on. The reader may come back
// later than the subscriber (both are dropped at once by a Sentinel failover): a catch-up
// that fails is tried again, backing off up to 2 s, until it succeeds or the channel goes.
// In a Redis Cluster the markers are spread over the primaries: each is scanned.
// `log.listening` says whether the channel is heard right now (for readiness).
import { INVALIDATION_CHANNEL, REVOKED_KEY_PREFIX } from "@gatehouse/contracts";
import { InvalidationLog } from "./core/invalidation.ts";

export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  on(event: "ready" | "close", listener: () => void): unknown;
  /** ioredis' connection status ("ready" once connected). */
  readonly status?: string;
}

/** A second connection (any ioredis client, a Cluster too) that reads the revocations in force. */
export interface RedisReader {
  scan(cursor: string, match: "MATCH", pattern: string, count: "COUNT", n: number): Promise<[string, string[]]>;
  pttl(key: string): Promise<number>;
  /** ioredis' Cluster: its primaries, each scanned in turn (a SCAN sees one node's keys only). */
  nodes?(role: "master"): Pick<RedisReader, "scan">[];
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
  // One per (re)subscription: a catch-up still retrying for an older one gives up.
  let epoch = 0;
  const catchUpUntilDone = async (r: RedisReader, mine: number) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await catchUp(r, log);
      } catch (e) {
        onError(e as Error);
      }
      await new Promise((res) => setTimeout(res, Math.min(2_000, 100 * 2 ** attempt)).unref());
      if (mine !== epoch || !log.listening) return;
    }
  };
  const subscribe = () => {
    const mine = ++epoch;
    subscriber
      .subscribe(INVALIDATION_CHANNEL)
      .then(async () => {
        if (!log.listening) {
          log.listening = true;
          log.resync();
        }
        if (reader) await catchUpUntilDone(reader, mine);
      })
      .catch(onError);
  };
  subscriber.on("ready", subscribe);
  subscriber.on("close", () => {
    log.listening = false;
  });
  // Already connected (or a client without ioredis' status): subscribe now; else on 'ready'.
  if (subscriber.status === undefined || subscriber.status === "ready") subscribe();
  return log;
}

async function catchUp(reader: RedisReader, log: InvalidationLog): Promise<void> {
  const scanners = typeof reader.nodes === "function" ? reader.nodes("master") : [reader];
  for (const scanner of scanners) {
    let cursor = "0";
    do {
      const [next, keys] = await scanner.scan(cursor, "MATCH", `${REVOKED_KEY_PREFIX}*`, "COUNT", 1000);
      cursor = next;
      const ttls = await Promise.all(keys.map((k) => reader.pttl(k)));
      const now = Date.now();
      keys.forEach((key, i) => {
        const ttl = ttls[i] ?? -2;
        if (ttl > 0) log.revoke(key.slice(REVOKED_KEY_PREFIX.length), now + ttl);
      });
    } while (cursor !== "0");
  }
}
