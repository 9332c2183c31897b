// The login lockout the seed describes, on the gateway's own counters (in memory, a
// clock of our own): after 1, 2, 3, 4 failures an account's next submission waits 1 s,
// 5 s, 30 s, 30 s; the 5th failure locks it for 15 minutes, with the seconds left for
// Retry-After, and the same answer for an account that does not exist.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { BruteForce } from "../src/throttle/brute-force.ts";
import { MemoryCounters } from "../src/throttle/counters.ts";

const SEED = { maxFailures: 5, lockoutSec: 900, maxIpFailures: 50, delaysMs: [1_000, 5_000, 30_000] };

describe("progressive delays, then a lockout", () => {
  it("waits 1 s, 5 s, 30 s, 30 s; locks after the 5th failure for 15 minutes; unlocks after", async () => {
    let now = 0;
    const bf = new BruteForce(new MemoryCounters(1_000, () => now), SEED);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      if (i > 0) now += 1_000;
      const v = await bf.check("login", "203.0.113.7", "Someone@Example.org");
      if (!v.allow) throw new Error(`locked after ${i} failures`);
      waits.push(v.delayMs);
      await bf.failure("login", "203.0.113.7", "someone@example.org");
    }
    expect(waits).toEqual([0, 1_000, 5_000, 30_000, 30_000]);
    const locked = await bf.check("login", "198.51.100.9", "someone@example.org");
    expect(locked).toEqual({ allow: false, retryAfterSec: 900 });
    now += 899_000;
    expect(await bf.check("login", "198.51.100.9", "someone@example.org")).toEqual({ allow: false, retryAfterSec: 1 });
    now += 1_000;
    expect(await bf.check("login", "198.51.100.9", "someone@example.org")).toEqual({ allow: true, delayMs: 0 });
  });

  it("an account that does not exist is answered exactly as one that does", async () => {
    const bf = new BruteForce(new MemoryCounters(), SEED);
    for (const who of ["real@example.org", "nobody-at-all@example.org"]) {
      for (let i = 0; i < 5; i++) await bf.failure("login", "192.0.2.1", who);
    }
    expect(await bf.check("login", "192.0.2.2", "real@example.org")).toEqual(
      await bf.check("login", "192.0.2.2", "nobody-at-all@example.org"),
    );
  });

  it("the schedule is configuration: BRUTE_FORCE_DELAYS_MS, seed 1 s, 5 s, 30 s by default; a bad one is refused", () => {
    const base = {
      KRATOS_PUBLIC_URL: "http://127.0.0.1:4433",
      KRATOS_ADMIN_URL: "http://127.0.0.1:4434",
      AUTH_SERVICE_URL: "http://127.0.0.1:7410",
      ROUTES_FILE: "routes.yaml",
    };
    expect(loadConfig(base).BRUTE_FORCE_DELAYS_MS).toEqual([1_000, 5_000, 30_000]);
    expect(loadConfig({ ...base, BRUTE_FORCE_DELAYS_MS: "0, 200" }).BRUTE_FORCE_DELAYS_MS).toEqual([0, 200]);
    expect(() => loadConfig({ ...base, BRUTE_FORCE_DELAYS_MS: "1s" })).toThrow(/BRUTE_FORCE_DELAYS_MS/);
  });
});
