import { describe, expect, it } from "vitest";
import { InvalidationLog } from "../src/core/invalidation.ts";

describe("InvalidationLog (the auth-service's announcements, as the guard's cache sees them)", () => {
  it("a token issued before an identity or session change is stale; one issued after is not", () => {
    let now = 1_000_000;
    const log = new InvalidationLog(() => now);
    const iatBefore = 999; // seconds
    expect(log.isStale("user-1", "sess-1", iatBefore)).toBe(false);
    log.apply(JSON.stringify({ t: "identity", id: "user-1" }));
    expect(log.isStale("user-1", "sess-1", iatBefore)).toBe(true);
    expect(log.isStale("user-2", "sess-2", iatBefore)).toBe(false);
    now = 2_000_000;
    expect(log.isStale("user-1", "sess-1", 1_500)).toBe(false);
    log.apply(JSON.stringify({ t: "session", sid: "sess-9", until: now + 1 }));
    expect(log.isStale("user-9", "sess-9", 1_999)).toBe(true);
  });

  it("a revoked session is refused until its last token has expired; a role change revokes nothing", () => {
    let now = 1_000_000;
    const log = new InvalidationLog(() => now);
    log.apply(JSON.stringify({ t: "identity", id: "user-1" }));
    expect(log.isRevoked("user-1")).toBe(false);
    log.apply(JSON.stringify({ t: "session", sid: "sess-1", until: now + 300_000 }));
    expect(log.isRevoked("sess-1")).toBe(true);
    expect(log.isRevoked("sess-2")).toBe(false);
    now += 299_999;
    expect(log.isRevoked("sess-1")).toBe(true);
    now += 2;
    expect(log.isRevoked("sess-1")).toBe(false);
    // Caught up from Redis after a reconnect: the same answer; an already-expired entry is not kept.
    log.revoke("api_key:k1", now + 1_000);
    log.revoke("sess-old", now - 1);
    expect(log.isRevoked("api_key:k1")).toBe(true);
    expect(log.isRevoked("sess-old")).toBe(false);
  });

  it("ignores malformed or foreign messages", () => {
    const log = new InvalidationLog(() => 5_000);
    for (const m of ["", "{", "null", "[]", '{"t":"identity"}', '{"t":"identity","id":5}', '{"t":"keys"}'])
      log.apply(m);
    expect(log.isStale("5", "x", 1)).toBe(false);
  });
});

describe("InvalidationLog.resync (announcements may have been missed while the channel was down)", () => {
  it("makes every token issued until then stale, and none issued after", () => {
    let now = 1_000_000;
    const log = new InvalidationLog(() => now);
    expect(log.isStale("user-1", "sess-1", 999)).toBe(false);
    log.resync();
    expect(log.isStale("user-1", "sess-1", 999)).toBe(true);
    expect(log.isStale("user-2", "sess-2", 1_000)).toBe(true); // the same second: one extra exchange
    now = 1_001_000;
    expect(log.isStale("user-1", "sess-1", 1_001)).toBe(false);
    // An older token the auth-service handed out again after the resync is its current
    // answer; a per-subject change still applies to it.
    expect(log.isStale("user-1", "sess-1", 999, 1_000_500)).toBe(false);
    log.apply(JSON.stringify({ t: "identity", id: "user-1" }));
    expect(log.isStale("user-1", "sess-1", 999, 1_000_500)).toBe(true);
  });

  it("judges a token by when the guard got it: one the auth-service serves again after the resync is current", () => {
    let now = 1_000_000;
    const log = new InvalidationLog(() => now);
    log.resync();
    now = 1_002_000;
    // Minted at 900 s, fetched again after the resync (the auth-service reuses a minted token).
    expect(log.isStale("user-1", "sess-1", 900, now)).toBe(false);
    // Held since before the resync: stale, whatever its age.
    expect(log.isStale("user-1", "sess-1", 900, 999_000)).toBe(true);
    // A change announced after it was minted still makes it stale, however recently fetched.
    log.apply(JSON.stringify({ t: "identity", id: "user-1" }));
    expect(log.isStale("user-1", "sess-1", 900, now)).toBe(true);
  });
});
