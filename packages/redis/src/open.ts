// Opens the connections an app needs to a RedisTarget, with the same behaviour
// whatever its shape: nothing waits for Redis (lazy, no offline queue, one retry), so
// a Redis outage is a fast failure the caller degrades on, never a hung request; every
// connection reconnects by itself for as long as the process lives.
//
// Sentinel: ioredis asks the sentinels for the current primary at every (re)connect,
// and `failoverDetector` drops the connection as soon as the sentinels announce a new
// one (+switch-master), instead of waiting for the old primary to fail.
// Cluster: commands go through ioredis' Cluster (slot routing, MOVED/ASK); the
// subscriber is a plain connection to one node (ClusterSubscriber below).
import { EventEmitter } from "node:events";
import { Cluster, Redis } from "ioredis";
import type { HostPort, RedisTarget } from "./config.ts";

/** A connection for commands: one server (also through Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

/** A connection that only listens to channels (see attach in the callers). */
export interface RedisSubscriber {
  readonly status: string;
  subscribe(channel: string): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): this;
  on(event: "ready" | "close", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  connect(): Promise<void>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

const COMMON = {
  connectTimeout: 2_000,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  lazyConnect: true,
} as const;

interface NodeAuth {
  username?: string;
  password?: string;
}

/** What every connection to a data node is opened with (ClusterSubscriber's nodes too). */
type NodeOptions = NodeAuth & {
  connectTimeout: number;
  maxRetriesPerRequest: number;
  enableOfflineQueue: boolean;
  autoResubscribe: boolean;
};

function nodeOptions(target: RedisTarget): NodeAuth {
  if (target.mode === "standalone") return {};
  return {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
  };
}

function sentinelOptions(target: Extract<RedisTarget, { mode: "sentinel" }>) {
  return {
    sentinels: target.sentinels,
    name: target.name,
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    failoverDetector: true as const,
    // A sentinel that does not answer within this is skipped for the next one.
    sentinelCommandTimeout: 1_000,
  };
}

/** A connection for commands (lazy: call connect(), whose failure is only a first attempt). */
export function openRedis(target: RedisTarget): RedisClient {
  switch (target.mode) {
    case "standalone":
      return new Redis(target.url, { ...COMMON });
    case "sentinel":
      return revived(new Redis({ ...COMMON, ...nodeOptions(target), ...sentinelOptions(target) }));
    case "cluster":
      return new Cluster(target.nodes, {
        lazyConnect: true,
        enableOfflineQueue: false,
        redisOptions: { connectTimeout: COMMON.connectTimeout, maxRetriesPerRequest: 1, ...nodeOptions(target) },
      });
  }
}

/**
 * A Sentinel connection that connects again after ioredis gave it up. ioredis ends one
 * for good ("Connection is closed.", status "end") when the sentinels announce a new
 * primary (+switch-master, its failover detector) while it is reconnecting after the
 * old primary died: the detector stops the connect under way, and a failed connect is
 * final. Seen under load in the kill -9 failover test: every later command failed. A
 * deliberate quit() or disconnect() stays final.
 */
function revived(client: Redis): Redis {
  let closing = false;
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.quit = ((...args: Parameters<Redis["quit"]>) => {
    closing = true;
    return quit(...args);
  }) as Redis["quit"];
  client.disconnect = (reconnect = false) => {
    if (!reconnect) closing = true;
    disconnect(reconnect);
  };
  let attempts = 0;
  client.on("ready", () => {
    attempts = 0;
  });
  client.on("end", () => {
    if (closing) return;
    const delay = Math.min(2_000, 100 * 2 ** attempts++);
    setTimeout(() => {
      if (!closing && client.status === "end") client.connect().catch(() => {});
    }, delay).unref();
  });
  return client;
}

/**
 * A connection that only subscribes. It never resubscribes by itself (the caller
 * subscribes on every 'ready', so it knows when it listens and that it may have
 * missed messages while it did not: 'close').
 */
export function openSubscriber(target: RedisTarget): RedisSubscriber {
  const own = { ...COMMON, autoResubscribe: false } as const;
  switch (target.mode) {
    case "standalone":
      return new Redis(target.url, own);
    case "sentinel":
      return revived(new Redis({ ...own, ...nodeOptions(target), ...sentinelOptions(target) }));
    case "cluster":
      return new ClusterSubscriber(target.nodes, { ...own, ...nodeOptions(target) });
  }
}

/**
 * Subscribes through one node of a cluster at a time (a PUBLISH reaches every node of a
 * cluster). ioredis' Cluster moves its subscription to another node by itself when a
 * node goes, but silently: a subscriber could not tell it missed messages meanwhile.
 * This one says 'close' when its node goes, tries the next node of the list (backing
 * off up to 2 s while none answers), and says 'ready' when it is connected again.
 */
export class ClusterSubscriber extends EventEmitter implements RedisSubscriber {
  readonly #nodes: HostPort[];
  readonly #options: NodeOptions;
  #conn: Redis | undefined;
  #next = 0;
  #failures = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(nodes: HostPort[], options: NodeOptions) {
    super();
    if (nodes.length === 0) throw new Error("ClusterSubscriber needs at least one node");
    this.#nodes = nodes;
    this.#options = options;
  }

  get status(): string {
    return this.#stopped ? "end" : (this.#conn?.status ?? "wait");
  }

  connect(): Promise<void> {
    if (this.#conn) return Promise.resolve();
    this.#stopped = false;
    return this.#open();
  }

  #open(): Promise<void> {
    const node = this.#nodes[this.#next++ % this.#nodes.length] as HostPort;
    const conn = new Redis({ ...this.#options, ...node, lazyConnect: true, retryStrategy: () => null });
    this.#conn = conn;
    conn.on("message", (channel: string, message: string) => this.emit("message", channel, message));
    conn.on("ready", () => {
      this.#failures = 0;
      this.emit("ready");
    });
    conn.on("error", (e: Error) => {
      if (this.listenerCount("error") > 0) this.emit("error", e);
    });
    conn.on("close", () => this.emit("close"));
    conn.once("end", () => {
      if (this.#stopped || this.#conn !== conn) return;
      const delay = Math.min(2_000, 50 * 2 ** this.#failures++);
      this.#timer = setTimeout(() => void this.#open().catch(() => {}), delay);
    });
    return conn.connect();
  }

  subscribe(channel: string): Promise<unknown> {
    if (!this.#conn) return Promise.reject(new Error("not connected"));
    return this.#conn.subscribe(channel);
  }

  async quit(): Promise<unknown> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    return this.#conn?.quit().catch(() => "OK");
  }

  disconnect(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#conn?.disconnect();
  }
}
