// The people of a chaos run: real Kratos identities, each with a session token (native
// app: Kratos' API registration flow) and a browser session cookie (a login through the
// gateway, as a browser's), in organizations of five (an owner and four members who
// joined by invitation, the product's only way in).

import { pooled } from "../../bench/lib/harness.ts";
import { PASSWORD, register } from "../../bench/lib/kratos.ts";
import { joinOrganization } from "../../test/support/invitations.ts";
import { call, setCookies } from "./http.ts";

export type OrgRole = "owner" | "admin" | "member";

export interface ChaosUser {
  index: number;
  email: string;
  identityId: string;
  sessionToken: string;
  /** The value of the ory_kratos_session cookie. */
  cookie: string;
  /**
   * The address this person's requests come from (X-Forwarded-For, which the gateway and
   * the auth-service honour from loopback): 50 people are 50 clients, not one.
   */
  address: string;
  orgId: string;
  /** Role at setup (owners stay owners; members' roles change during the run). */
  role: OrgRole;
  /** The latest access token from an exchange, and when it expires (ms). */
  jwt?: { value: string; exp: number };
}

export interface Org {
  id: string;
  owner: ChaosUser;
  members: ChaosUser[];
}

export interface Urls {
  kratosPublic: string;
  kratosAdmin: string;
  auth: string;
  gateway: string;
}

/** A browser login through the gateway (SPA style: JSON in and out); returns the session cookie's value. */
async function browserLogin(urls: Urls, email: string, address: string): Promise<string> {
  const client = { "x-forwarded-for": address, accept: "application/json" };
  const start = await call(`${urls.gateway}/self-service/login/browser`, { headers: client });
  const csrfCookie = setCookies(start)
    .map((c) => c.split(";")[0])
    .join("; ");
  const flow = start.body as { id?: string; ui?: { nodes: { attributes: { name?: string; value?: unknown } }[] } };
  const csrf = flow.ui?.nodes.find((n) => n.attributes.name === "csrf_token")?.attributes.value;
  if (start.status !== 200 || !flow.id) throw new Error(`login flow: ${start.status} ${start.error ?? ""}`);
  const done = await call(`${urls.gateway}/self-service/login?flow=${flow.id}`, {
    headers: { ...client, cookie: csrfCookie },
    json: { csrf_token: csrf, method: "password", identifier: email, password: PASSWORD },
  });
  const session = setCookies(done).find((c) => c.startsWith("ory_kratos_session="));
  if (done.status !== 200 || !session) throw new Error(`browser login: ${done.status} ${done.error ?? ""}`);
  return session.split(";")[0]?.slice("ory_kratos_session=".length) ?? "";
}

async function onboard(urls: Urls, owner: ChaosUser, name: string): Promise<string> {
  const r = await call(`${urls.auth}/v1/onboarding`, {
    headers: { "x-session-token": owner.sessionToken },
    json: { name },
  });
  const id = (r.body.organization as { id?: string } | undefined)?.id;
  if (r.status !== 201 || !id) throw new Error(`onboarding: ${r.status} ${JSON.stringify(r.body)}`);
  return id;
}

/** Members' roles at setup: two admins, two members (owners then move them between the two). */
const MEMBER_ROLES: OrgRole[] = ["admin", "member", "member", "admin"];

/** `count` people (a multiple of 5) in count/5 organizations. */
export async function createPeople(urls: Urls, count: number, log: (l: string) => void): Promise<Org[]> {
  const t0 = performance.now();
  const people = await pooled(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (index): Promise<ChaosUser> => {
      const s = await register(urls.kratosPublic, "chaos");
      // 10.77.x.y: a private range nobody else uses in these logs.
      const address = `10.77.${Math.floor(index / 250)}.${(index % 250) + 1}`;
      const cookie = await browserLogin(urls, s.email, address);
      return {
        index,
        email: s.email,
        identityId: s.identityId,
        sessionToken: s.token,
        cookie,
        address,
        orgId: "",
        role: "member",
      };
    },
  );
  log(`${count} people registered, each with a session token and a browser session (${sec(t0)} s)`);
  const t1 = performance.now();
  const orgs = await pooled(
    Array.from({ length: count / 5 }, (_, i) => i),
    4,
    async (i): Promise<Org> => {
      const [owner, ...members] = people.slice(i * 5, i * 5 + 5) as [ChaosUser, ...ChaosUser[]];
      const id = await onboard(urls, owner, `Chaos Org ${i + 1}`);
      owner.orgId = id;
      owner.role = "owner";
      for (const [j, m] of members.entries()) {
        const role = MEMBER_ROLES[j % MEMBER_ROLES.length] ?? "member";
        await joinOrganization({ authUrl: urls.auth, kratosAdmin: urls.kratosAdmin }, owner, id, m, role);
        m.orgId = id;
        m.role = role;
      }
      return { id, owner, members };
    },
  );
  log(`${orgs.length} organizations of 5 (owner + 4 invited members) in ${sec(t1)} s`);
  return orgs;
}

const sec = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);
