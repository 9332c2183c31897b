// Redis as production teams run it, from Debian's own binaries on loopback: a primary,
// a replica and three sentinels (redis-sentinel), and a three-node Redis Cluster. For
// tests that fail a primary over under load. Nothing here is shared with the test stack.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { redisPing } from "../../tools/stack/services.ts";
import { eventually } from "./private-services.ts";
import { freePort, redisBinary } from "./redis.ts";

interface Proc {
  child: ChildProcess;
  start(): Promise<void>;
}

/** One redis-server (or redis-sentinel) process that can be killed and started again. */
async function serve(bin: string, args: string[], port: number): Promise<Proc> {
  const p: Proc = {
    child: undefined as unknown as ChildProcess,
    async start() {
      p.child = spawn(bin, args, { stdio: "ignore" });
      for (let i = 0; i < 200; i++) {
        if (await redisPing(port)) return;
        if (p.child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${bin} ${args.join(" ")} did not start on ${port}`);
    },
  };
  await p.start();
  return p;
}

async function kill9(p: Proc): Promise<void> {
  const c = p.child;
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGKILL");
  await exited;
}

/** One command on a short-lived connection (the harness never holds connections open). */
export async function ask<T = unknown>(port: number, ...args: (string | number)[]): Promise<T> {
  const c = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  c.on("error", () => {});
  try {
    await c.connect();
    return (await c.call(String(args[0]), ...args.slice(1).map(String))) as T;
  } finally {
    c.disconnect();
  }
}

const dataArgs = (port: number) => ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];

export interface SentinelGroup {
  /** The primary's name in the sentinels' configuration. */
  name: string;
  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME for an app. */
  env: Record<string, string>;
  /** The primary's port, as the sentinels say. */
  primaryPort(): Promise<number>;
  /** `SENTINEL FAILOVER`: the replica becomes the primary; resolves once every sentinel says so. */
  failover(): Promise<{ from: number; to: number }>;
  /** kill -9 of the primary; resolves once the sentinels have promoted the replica. */
  killPrimary(): Promise<{ from: number; to: number }>;
  /** Starts a killed server again (empty: it saves nothing); the sentinels make it a replica. */
  restart(port: number): Promise<void>;
  /**
   * Waits until the server that is not the primary replicates it again (the sentinels
   * turn a former primary into a replica some seconds after a failover) and every
   * sentinel sees it healthy: until then a second failover could promote a server
   * that missed the latest writes.
   */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A primary, a replica and three sentinels (quorum 2). A primary is judged down after
 * `downAfterMs` without an answer; a failover then takes the sentinels a few seconds.
 */
export async function sentinelGroup(opts: { downAfterMs?: number } = {}): Promise<SentinelGroup> {
  const name = "gatehouse";
  const dir = mkdtempSync(join(tmpdir(), "gh-sentinel-"));
  const server = redisBinary("redis-server");
  const [p0, p1, s0, s1, s2] = (await distinctFreePorts(5)) as [number, number, number, number, number];
  const servers = new Map<number, Proc>();
  const sentinels: Proc[] = [];
  const stop = async () => {
    await Promise.all([...servers.values(), ...sentinels].map(kill9));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A replica's full sync goes through an RDB file in --dir, even with saving off.
    const own = (port: number) => {
      mkdirSync(join(dir, String(port)));
      return [...dataArgs(port), "--dir", join(dir, String(port))];
    };
    servers.set(p0, await serve(server, own(p0), p0));
    servers.set(p1, await serve(server, [...own(p1), "--replicaof", "127.0.0.1", String(p0)], p1));
    await eventually(
      () => ask<string>(p1, "INFO", "replication"),
      (info) => info.includes("master_link_status:up"),
      20_000,
    );
    for (const port of [s0, s1, s2]) {
      // Sentinel rewrites its configuration file as it learns: one file each.
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${p0} 2`,
          `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 1_000}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          "",
        ].join("\n"),
      );
      sentinels.push(await serve(redisBinary("redis-sentinel"), [conf], port));
    }
    // Ready for a failover once each sentinel knows the replica and the two other sentinels.
    for (const port of [s0, s1, s2]) {
      await eventually(
        async () => [
          (await ask<unknown[]>(port, "SENTINEL", "REPLICAS", name)).length,
          (await ask<unknown[]>(port, "SENTINEL", "SENTINELS", name)).length,
        ],
        ([replicas, others]) => replicas === 1 && others === 2,
        30_000,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const primaryPort = async (sentinel = s0) =>
    Number((await ask<string[]>(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name))[1]);
  /** Every sentinel names `to`, and `to` says it is a primary. */
  const switched = async (from: number) => {
    let to = 0;
    await eventually(
      async () => Promise.all([s0, s1, s2].map((s) => primaryPort(s).catch(() => 0))),
      (ports) => ports.every((p) => p !== from && p === ports[0]),
      60_000,
    ).then((ports) => {
      to = ports[0] ?? 0;
    });
    await eventually(
      () => ask<string>(to, "ROLE").then((r) => String(r[0])),
      (role) => role === "master",
      30_000,
    );
    return { from, to };
  };
  return {
    name,
    env: { REDIS_SENTINELS: [s0, s1, s2].map((p) => `127.0.0.1:${p}`).join(","), REDIS_SENTINEL_NAME: name },
    primaryPort: () => primaryPort(),
    async failover() {
      const from = await primaryPort();
      await ask(s0, "SENTINEL", "FAILOVER", name);
      return switched(from);
    },
    async killPrimary() {
      const from = await primaryPort();
      const p = servers.get(from);
      if (p) await kill9(p);
      return switched(from);
    },
    async restart(port) {
      await servers.get(port)?.start();
    },
    async settled() {
      const primary = await primaryPort();
      const replica = primary === p0 ? p1 : p0;
      await eventually(
        () => ask<unknown[]>(replica, "ROLE").then((r) => `${r[0]}:${r[2]}:${r[3]}`),
        (role) => role === `slave:${primary}:connected`,
        60_000,
      );
      for (const s of [s0, s1, s2]) {
        await eventually(
          () => ask<string[][]>(s, "SENTINEL", "REPLICAS", name),
          (list) => {
            const info = list[0] ?? [];
            const field = (k: string) => info[info.indexOf(k) + 1];
            return list.length === 1 && field("flags") === "slave" && field("master-link-status") === "ok";
          },
          60_000,
        );
      }
    },
    stop,
  };
}

export interface RedisClusterNodes {
  ports: number[];
  /** REDIS_CLUSTER_NODES for an app. */
  env: Record<string, string>;
  /** kill -9 of the i-th node (its slots stay uncovered: this cluster has no replicas). */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
}

/** Three primaries sharing the 16384 slots (no replicas): the smallest cluster Redis allows. */
export async function redisCluster(): Promise<RedisClusterNodes> {
  const dir = mkdtempSync(join(tmpdir(), "gh-cluster-"));
  const server = redisBinary("redis-server");
  // Each node needs a second port for the cluster bus: asked for explicitly, as the
  // default (port + 10000) may be taken or out of range.
  const all = await distinctFreePorts(6);
  const ports = all.slice(0, 3);
  const nodes: Proc[] = [];
  const stop = async () => {
    await Promise.all(nodes.map(kill9));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, port] of ports.entries()) {
      const args = [
        ...dataArgs(port),
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        String(all[i + 3]),
        "--cluster-config-file",
        join(dir, `nodes-${port}.conf`),
        "--cluster-node-timeout",
        "2000",
        "--dir",
        dir,
      ];
      nodes.push(await serve(server, args, port));
    }
    const per = Math.ceil(16_384 / ports.length);
    for (const [i, port] of ports.entries()) {
      await ask(port, "CLUSTER", "ADDSLOTSRANGE", i * per, Math.min(16_383, (i + 1) * per - 1));
    }
    for (const [i, port] of ports.entries()) {
      if (i > 0) await ask(ports[0] as number, "CLUSTER", "MEET", "127.0.0.1", port, all[i + 3] as number);
    }
    for (const port of ports) {
      await eventually(
        () => ask<string>(port, "CLUSTER", "INFO"),
        (info) => info.includes("cluster_state:ok") && info.includes(`cluster_known_nodes:${ports.length}`),
        30_000,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    ports,
    env: { REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(",") },
    kill: async (i) => {
      const node = nodes[i];
      if (node) await kill9(node);
    },
    stop,
  };
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}
