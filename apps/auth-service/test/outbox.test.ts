// A committed change is acknowledged as committed, and announced later, never lost,
// when Redis is down: the announcement goes to the outbox in the change's own
// transaction (domain/affected.ts decides who it touches) and the relay delivers it
// once Redis is back. Against a private Redis killed with -9.
import { INVALIDATION_CHANNEL } from "@gatehouse/contracts";
import { subscribeInvalidations } from "@gatehouse/guard";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { joinOrganization } from "../../../test/support/invitations.ts";
import { eventually } from "../../../test/support/private-services.ts";
import { type PrivateRedis, privateRedis } from "../../../test/support/redis.ts";
import { type Running, startAuthService } from "./in-process.ts";
import { call, newUser, type TestUser } from "./support.ts";

let redis: PrivateRedis;
let svc: Running;
let db: pg.Client;
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await privateRedis();
  svc = await startAuthService({ REDIS_URL: redis.url });
  db = new pg.Client({ connectionString: svc.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await db?.end();
  await svc?.stop();
  await redis?.stop();
});

const claims = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()) as {
    role?: string;
    sid: string;
    iat: number;
  };
const tokenOf = async (u: TestUser) => {
  const r = await call("/v1/token", { base: svc.url, token: u.sessionToken, json: {} });
  expect(r.status).toBe(200);
  return r.body.access_token as string;
};
const pending = async () =>
  Number((await db.query("select count(*)::int as n from outbox where published_at is null")).rows[0].n);

describe("the outbox", () => {
  it("a role change while Redis is down is answered 200, and announced to other instances once Redis is back", async () => {
    const owner = await newUser("outbox-owner");
    const member = await newUser("outbox-member");
    const org = await call("/v1/onboarding", { base: svc.url, token: owner.sessionToken, json: { name: "Outbox Co" } });
    const orgId = (org.body.organization as { id: string }).id;
    await joinOrganization(
      { authUrl: svc.url, kratosAdmin: inject("stack").KRATOS_ADMIN_URL ?? "" },
      owner,
      orgId,
      member,
      "member",
    );
    expect(claims(await tokenOf(member)).role).toBe("member");

    // Another instance listening on the channel (a guard, the gateway, another auth-service).
    const heard: string[] = [];
    const listener = new Redis(redis.url, { maxRetriesPerRequest: null });
    listener.on("error", () => {});
    clients.push(listener);
    listener.on("message", (_channel: string, message: string) => heard.push(message));
    await listener.subscribe(INVALIDATION_CHANNEL);
    const heardMember = () => heard.some((m) => m.includes(member.identityId));

    await redis.kill();
    const changed = await call(`/v1/organizations/${orgId}/members/${member.identityId}`, {
      base: svc.url,
      token: owner.sessionToken,
      method: "PATCH",
      json: { role: "admin" },
    });
    expect(changed.status).toBe(200);
    expect(await pending()).toBeGreaterThanOrEqual(1);
    // This instance applied it at once: the next exchange carries the new role.
    expect(claims(await tokenOf(member)).role).toBe("admin");
    expect(heardMember()).toBe(false);

    await redis.restart();
    expect(await eventually(async () => (await pending()) === 0, Boolean, 15_000), "delivered").toBe(true);
    expect(await eventually(async () => heardMember(), Boolean, 15_000), "heard elsewhere").toBe(true);
  });

  it("a revoked API key is refused by other instances, even when revoked while Redis was down", async () => {
    const owner = await newUser("outbox-key-owner");
    const org = await call("/v1/onboarding", { base: svc.url, token: owner.sessionToken, json: { name: "Keys Co" } });
    const orgId = (org.body.organization as { id: string }).id;
    const created = await call(`/v1/organizations/${orgId}/api-keys`, {
      base: svc.url,
      token: owner.sessionToken,
      json: { name: "ci", scopes: ["org:read"] },
    });
    expect(created.status).toBe(201);
    const keyId = (created.body.api_key as { id: string }).id;
    const subscriber = new Redis(redis.url, { maxRetriesPerRequest: null });
    const reader = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    for (const c of [subscriber, reader]) c.on("error", () => {});
    clients.push(subscriber, reader);
    const elsewhere = subscribeInvalidations(subscriber, { reader });
    expect(await eventually(async () => subscriber.status === "ready", Boolean, 15_000), "subscribed").toBe(true);

    await redis.kill();
    const revoked = await call(`/v1/organizations/${orgId}/api-keys/${keyId}`, {
      base: svc.url,
      token: owner.sessionToken,
      method: "DELETE",
    });
    expect(revoked.status).toBe(204);
    await redis.restart();
    expect(
      await eventually(async () => elsewhere.isRevoked(`api_key:${keyId}`), Boolean, 15_000),
      "refused elsewhere",
    ).toBe(true);
  });
});
