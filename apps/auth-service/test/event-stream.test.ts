// The Redis Stream of events (@gatehouse/contracts' EVENT_STREAM), against a private
// real Redis: a consumer group reads the events in order per subject and acknowledges
// them (XREADGROUP / XACK); a Redis outage (kill -9) delays the stream and loses
// nothing, because the outbox stays the source of truth until Redis took each entry.
import { EVENT_STREAM } from "@gatehouse/contracts";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../../test/support/private-services.ts";
import { type PrivateRedis, privateRedis } from "../../../test/support/redis.ts";
import { type Running, startAuthService } from "./in-process.ts";
import { call, newUser, type TestUser } from "./support.ts";

let redis: PrivateRedis;
let svc: Running;
let reader: Redis;
beforeAll(async () => {
  redis = await privateRedis();
  svc = await startAuthService({ REDIS_URL: redis.url, EVENT_STREAM_MAXLEN: "1000" });
  reader = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  reader?.disconnect();
  await svc?.stop();
  await redis?.stop();
});

type Entry = { streamId: string; id: string; type: string; sequence: number; subject: string };

/** Everything new for the group, acknowledged as read (a consumer's loop, one round). */
async function readGroup(group: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for (;;) {
    const r = (await reader.xreadgroup("GROUP", group, "c1", "COUNT", 100, "STREAMS", EVENT_STREAM, ">")) as
      | [string, [string, string[]][]][]
      | null;
    const entries = r?.[0]?.[1] ?? [];
    if (entries.length === 0) return out;
    for (const [streamId, fields] of entries) {
      const f = Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : [])));
      const event = JSON.parse(String(f.event)) as { id: string; sequence: string; subject: { id: string } };
      expect(f.id).toBe(event.id);
      out.push({
        streamId,
        id: event.id,
        type: String(f.type),
        sequence: Number(event.sequence),
        subject: event.subject.id,
      });
    }
    await reader.xack(EVENT_STREAM, group, ...entries.map(([id]) => id));
  }
}

const newOrg = async (owner: TestUser, name: string) => {
  const r = await call("/v1/onboarding", { base: svc.url, token: owner.sessionToken, json: { name } });
  expect(r.status).toBe(201);
  return (r.body.organization as { id: string }).id;
};
const changePlan = async (owner: TestUser, orgId: string, plan: string) =>
  (
    await call(`/v1/organizations/${orgId}`, {
      base: svc.url,
      token: owner.sessionToken,
      method: "PATCH",
      json: { plan },
    })
  ).status;

describe("the event stream", () => {
  it("a consumer group reads every event once, in order per subject, and acknowledges it", async () => {
    await reader.xgroup("CREATE", EVENT_STREAM, "billing", "$", "MKSTREAM");
    const owner = await newUser("stream-owner");
    const orgId = await newOrg(owner, "Stream Co");
    const plans = ["pro", "enterprise", "starter", "pro"];
    for (const plan of plans) expect(await changePlan(owner, orgId, plan)).toBe(200);

    const seen: Entry[] = [];
    await eventually(
      async () => {
        seen.push(...(await readGroup("billing")));
        return seen.filter((e) => e.subject === orgId && e.type === "organization.plan_changed").length;
      },
      (n) => n === plans.length,
      15_000,
    );
    const org = seen.filter((e) => e.subject === orgId);
    expect(org.map((e) => e.type)).toEqual(["organization.created", ...plans.map(() => "organization.plan_changed")]);
    // In order per subject: sequence (and the stream's own ids) only grow.
    expect(org.map((e) => e.sequence)).toEqual([...org.map((e) => e.sequence)].sort((a, b) => a - b));
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    const pending = (await reader.xpending(EVENT_STREAM, "billing")) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
    // Bounded: MAXLEN ~ keeps about EVENT_STREAM_MAXLEN entries (trimmed by whole nodes).
    expect(await reader.xlen(EVENT_STREAM)).toBeLessThan(1000 + 200);
  });

  it("a Redis outage delays the stream and loses nothing: committed changes arrive once Redis is back", async () => {
    const owner = await newUser("stream-outage");
    const orgId = await newOrg(owner, "Outage Co");
    await redis.kill();
    const plans = ["pro", "starter", "enterprise"];
    // The changes commit with Redis gone (the outbox holds their events).
    for (const plan of plans) expect(await changePlan(owner, orgId, plan)).toBe(200);
    await redis.restart(); // an empty Redis: the stream and the group start over
    await reader.xgroup("CREATE", EVENT_STREAM, "after-outage", "0", "MKSTREAM");
    const seen: Entry[] = [];
    await eventually(
      async () => {
        seen.push(...(await readGroup("after-outage")));
        return seen.filter((e) => e.subject === orgId && e.type === "organization.plan_changed").length;
      },
      (n) => n >= plans.length,
      20_000,
    );
    const changes = seen.filter((e) => e.subject === orgId && e.type === "organization.plan_changed");
    expect(changes.map((e) => e.sequence)).toEqual([...changes.map((e) => e.sequence)].sort((a, b) => a - b));
    expect(new Set(changes.map((e) => e.id)).size).toBe(plans.length);
  });
});
