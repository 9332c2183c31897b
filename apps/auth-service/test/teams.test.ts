import { createRemoteJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { auth, call, expectErrorShape, joinOrg, newUser, token } from "./support.ts";

const claims = async (jwt: string) =>
  (
    await jwtVerify(jwt, createRemoteJWKSet(new URL(`${auth().url}/.well-known/jwks.json`)), {
      issuer: auth().url,
      audience: "gatehouse",
    })
  ).payload;

describe("teams", () => {
  it("owners create teams and set leads; the team shows up in the member's next token", async () => {
    const owner = await newUser("teams-owner");
    const orgId = (
      (await call("/v1/onboarding", { token: owner.sessionToken, json: { name: "Teams Co" } })).body.organization as {
        id: string;
      }
    ).id;
    const dev = await newUser("teams-dev");
    const outsider = await newUser("teams-outsider");
    await joinOrg(owner, orgId, dev, "member");

    const team = await call(`/v1/organizations/${orgId}/teams`, {
      token: owner.sessionToken,
      json: { name: "Platform" },
    });
    expect(team.status).toBe(201);
    const teamId = (team.body.team as { id: string }).id;
    const dup = await call(`/v1/organizations/${orgId}/teams`, {
      token: owner.sessionToken,
      json: { name: "Platform" },
    });
    expect(dup.status).toBe(409);

    const add = await call(`/v1/organizations/${orgId}/teams/${teamId}/members/${dev.identityId}`, {
      method: "PUT",
      token: owner.sessionToken,
      json: { role: "lead" },
    });
    expect(add.status).toBe(201);
    expect((await claims(await token(dev))).teams).toEqual([{ id: teamId, role: "lead" }]);
    // The roster, as the teams page reads it: members may read it; strangers may not.
    const roster = await call(`/v1/organizations/${orgId}/teams/${teamId}/members`, { token: dev.sessionToken });
    expect(roster.status).toBe(200);
    expect(roster.body.members).toMatchObject([{ identityId: dev.identityId, role: "lead", email: dev.email }]);
    expect(
      (await call(`/v1/organizations/${orgId}/teams/${teamId}/members`, { token: outsider.sessionToken })).status,
    ).toBe(403);

    const notMember = await call(`/v1/organizations/${orgId}/teams/${teamId}/members/${outsider.identityId}`, {
      method: "PUT",
      token: owner.sessionToken,
      json: {},
    });
    expect(notMember.status).toBe(400);
    expectErrorShape(notMember.body, "bad_request");

    const byMember = await call(`/v1/organizations/${orgId}/teams`, {
      token: dev.sessionToken,
      json: { name: "Rogue" },
    });
    expect(byMember.status).toBe(403);

    const del = await call(`/v1/organizations/${orgId}/teams/${teamId}`, {
      method: "DELETE",
      token: owner.sessionToken,
    });
    expect(del.status).toBe(204);
    expect((await claims(await token(dev))).teams).toEqual([]);
  });
});
