import { describe, expect, it } from "vitest";
import { describeRedis, readRedisConfig } from "../src/config.ts";

const read = (env: Record<string, string>, required = false) => readRedisConfig(env, { required });
const problems = (env: Record<string, string>, required = false) =>
  read(env, required).issues.map((i) => `${i.variable}: ${i.message}`);

describe("readRedisConfig: one of three shapes, every mistake named by its variable", () => {
  it("REDIS_URL: one server", () => {
    expect(read({ REDIS_URL: "redis://:pw@redis.data:6380/2" })).toEqual({
      target: { mode: "standalone", url: "redis://:pw@redis.data:6380/2" },
      issues: [],
    });
    expect(problems({ REDIS_URL: "http://redis:6379" })).toEqual(["REDIS_URL: must be a redis:// URL"]);
    expect(problems({ REDIS_URL: "redis://" })).toEqual(["REDIS_URL: must be a redis:// URL"]);
    expect(problems({ REDIS_URL: "redis://r:6379", REDIS_PASSWORD: "x" })).toEqual([
      "REDIS_PASSWORD: with REDIS_URL, put it in the URL (redis://user:password@host)",
    ]);
  });

  it("REDIS_SENTINELS + REDIS_SENTINEL_NAME: a primary found through Sentinel", () => {
    expect(
      read({
        REDIS_SENTINELS: " s-0.sentinel:26379, s-1.sentinel ,[::1]:26380",
        REDIS_SENTINEL_NAME: "mymaster",
        REDIS_SENTINEL_PASSWORD: "sp",
        REDIS_USERNAME: "gatehouse",
        REDIS_PASSWORD: "dp",
      }),
    ).toEqual({
      target: {
        mode: "sentinel",
        sentinels: [
          { host: "s-0.sentinel", port: 26_379 },
          { host: "s-1.sentinel", port: 26_379 },
          { host: "::1", port: 26_380 },
        ],
        name: "mymaster",
        sentinelPassword: "sp",
        username: "gatehouse",
        password: "dp",
      },
      issues: [],
    });
    expect(problems({ REDIS_SENTINELS: "s-0:26379" })).toEqual(["REDIS_SENTINEL_NAME: required with REDIS_SENTINELS"]);
    expect(problems({ REDIS_SENTINELS: "s-0:99999,http://x", REDIS_SENTINEL_NAME: "m" })).toEqual([
      'REDIS_SENTINELS: "s-0:99999" is not host:port (e.g. redis-0.redis:26379)',
      'REDIS_SENTINELS: "http://x" is not host:port (e.g. redis-0.redis:26379)',
    ]);
    expect(problems({ REDIS_SENTINELS: " , ", REDIS_SENTINEL_NAME: "m" })).toEqual([
      "REDIS_SENTINELS: lists no host:port",
    ]);
  });

  it("REDIS_CLUSTER_NODES: a cluster", () => {
    expect(read({ REDIS_CLUSTER_NODES: "10.0.0.1:7000,10.0.0.2", REDIS_PASSWORD: "dp" })).toEqual({
      target: {
        mode: "cluster",
        nodes: [
          { host: "10.0.0.1", port: 7000 },
          { host: "10.0.0.2", port: 6379 },
        ],
        password: "dp",
      },
      issues: [],
    });
    expect(problems({ REDIS_CLUSTER_NODES: "a:b" })).toEqual([
      'REDIS_CLUSTER_NODES: "a:b" is not host:port (e.g. redis-0.redis:6379)',
    ]);
    expect(problems({ REDIS_CLUSTER_NODES: "a:6379", REDIS_SENTINEL_NAME: "m" })).toEqual([
      "REDIS_SENTINEL_NAME: only with REDIS_SENTINELS",
    ]);
  });

  it("only one shape at a time; empty counts as unset; required or not", () => {
    expect(problems({ REDIS_URL: "redis://r", REDIS_CLUSTER_NODES: "a:1" })).toEqual([
      "REDIS_CLUSTER_NODES: set only one of REDIS_URL, REDIS_CLUSTER_NODES",
    ]);
    expect(read({ REDIS_URL: "", REDIS_SENTINELS: " " })).toEqual({ target: undefined, issues: [] });
    expect(problems({}, true)).toEqual([
      "REDIS_URL: required (or REDIS_SENTINELS with REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES)",
    ]);
    expect(problems({ REDIS_PASSWORD: "x" })).toEqual([
      "REDIS_PASSWORD: only with REDIS_SENTINELS or REDIS_CLUSTER_NODES",
    ]);
  });

  it("describeRedis never shows a password", () => {
    const show = (env: Record<string, string>) => {
      const r = read(env);
      if (!("target" in r) || !r.target) throw new Error("no target");
      return describeRedis(r.target);
    };
    expect(show({ REDIS_URL: "redis://user:secret@redis.data:6379/1" })).toBe("redis://redis.data:6379/1");
    expect(show({ REDIS_SENTINELS: "a:1,[::1]:2", REDIS_SENTINEL_NAME: "m", REDIS_PASSWORD: "secret" })).toBe(
      "sentinel m via a:1,[::1]:2",
    );
    expect(show({ REDIS_CLUSTER_NODES: "a:1", REDIS_PASSWORD: "secret" })).toBe("cluster via a:1");
  });
});
