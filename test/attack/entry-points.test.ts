// The standing attack suite (security issue): one table of attacks, run against every
// entry point a request can come in by — the gateway's proxied routes, its
// forward-auth /decisions behind a real nginx, Traefik and Caddy running the
// configurations deploy/README.md documents (read from that file, test/support/proxies.ts) and as
// Envoy would call it, the example API's Express guard, and the Next.js middleware of
// the web app — each through one small runner (entry-points.ts). Classes: forged and misplaced JWTs, identity and routing
// headers sent by the client, path tricks next to an anonymous route, odd and
// revoked session cookies, smuggling-shaped requests on the proxied route, and an
// admin-only rule against a member. A valid credential works everywhere first, so
// nothing passes by refusing everything.
//
// Expectations are data: a case names the outcomes it accepts and, for an allowed
// request, who the code behind the entry point must have been told the caller is;
// where an entry point's contract differs (a redirect instead of JSON, a page that
// takes only the cookie), the case says so per entry point. Every answer, whatever
// the case: never a 5xx, never a value the client made up reaching the code behind.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { call, joinOrg, newUser, type TestUser } from "../../apps/auth-service/test/support.ts";
import { echoUpstream, routesFile, type Seen, startGateway } from "../../apps/gateway/test/harness.ts";
import { IDENTITY_HEADERS } from "../../packages/guard/src/core/mutate.ts";
import { Browser } from "../support/browser.ts";
import { PASSWORD, stack, startBrowserFlow, submitBrowserFlow } from "../support/kratos.ts";
import { type RealProxy, type Running, startProxy } from "../support/proxies.ts";
import {
  type Attempt,
  type EntryPoint,
  envoyExtAuthz,
  expressApi,
  gatewayProxy,
  gatewayRoutes,
  nextMiddleware,
  type Outcome,
  type Paths,
  type Result,
  realProxy,
  uniqueId,
} from "./entry-points.ts";
import { forgedTokens } from "./forge.ts";

// --- who takes part ------------------------------------------------------------------

interface Person extends TestUser {
  cookie: string;
  jwt: string;
  role: "owner" | "member";
}
interface World {
  owner: Person;
  member: Person;
  /** Signed in and seen by every entry point, then signed out (POST /v1/logout). */
  revoked: Person;
  orgId: string;
  forged: Record<string, string>;
  /** In every made-up value, so a leak is found by searching for it. */
  marker: string;
}

const COOKIE = "ory_kratos_session";
type Header = readonly [string, string];

async function loginCookie(email: string): Promise<string> {
  const b = new Browser();
  const { flow } = await startBrowserFlow(b, stack(), "login");
  const r = await submitBrowserFlow(b, flow, { method: "password", identifier: email, password: PASSWORD });
  if (r.status !== 200) throw new Error(`browser login failed: ${r.status} ${r.text.slice(0, 200)}`);
  const c = await b.cookie(stack().kratosBrowser, COOKIE);
  if (!c) throw new Error("no session cookie after the browser login");
  return c.value;
}

async function person(prefix: string, role: Person["role"], join?: { owner: TestUser; orgId: string }) {
  const u = await newUser(prefix);
  let orgId = join?.orgId;
  if (join) await joinOrg(join.owner, join.orgId, u, role);
  else {
    const r = await call("/v1/onboarding", { token: u.sessionToken, json: { name: `Attack ${prefix}` } });
    orgId = (r.body.organization as { id: string }).id;
  }
  // The JWT belongs to the browser session whose cookie this person carries, so that
  // signing that session out ends both.
  const sessionCookie = await loginCookie(u.email);
  const minted = await call("/v1/token", { headers: { cookie: `${COOKIE}=${sessionCookie}` }, json: {} });
  if (minted.status !== 200) throw new Error(`token exchange failed: ${minted.status} ${minted.text}`);
  const p: Person = { ...u, role, cookie: sessionCookie, jwt: minted.body.access_token as string };
  return { p, orgId: orgId as string };
}

// --- cases ---------------------------------------------------------------------------

type Who = "owner" | "member" | "anonymous";
interface Expect {
  outcomes: readonly Outcome[];
  /** For an allowed answer: who the code behind must have been told the caller is. */
  as?: Who;
  /** For an unauthenticated answer: JSON or the login page. */
  form?: "json" | "login-redirect";
}
interface Case {
  name: string;
  attempt: (w: World, ep: EntryPoint) => Attempt;
  /** What this case expects; `by` overrides it per entry point (key, or its part before ":"). */
  expect: Expect;
  by?: Record<string, Expect>;
  /** Values the client made up, which must never reach the code behind the entry point. */
  never?: (w: World, ep: EntryPoint) => string[];
  /** The entry points this case is about (default: all). */
  only?: (ep: EntryPoint) => boolean;
  /** Ask again while the answer is still "allowed", at most this many times (a pub/sub message in flight). */
  settle?: number;
}

const DENIED: Expect = { outcomes: ["unauthenticated", "refused"] };
const UNAUTHENTICATED: Expect = { outcomes: ["unauthenticated"] };
const allowedAs = (as: Who): Expect => ({ outcomes: ["allowed"], as });
const bearer = (t: string): Header => ["Authorization", `Bearer ${t}`];
const cookie = (v: string): Header => ["Cookie", v];
const hasJwt = (ep: EntryPoint) => ep.accepts.includes("jwt");
// The web app's pages take the browser's cookie only (they call on with it): a native
// client's session token gets past the middleware but the page sends it to the login.
const PAGES_NEED_THE_COOKIE = { next: UNAUTHENTICATED };
// The web app's middleware accepts no JWT (accept: [session]): a token there is no sign-in.
const NO_JWT_HERE = { next: UNAUTHENTICATED };

const baseline: Case[] = [
  { name: "anonymous, the public route", attempt: () => ({ target: "public" }), expect: allowedAs("anonymous") },
  {
    name: "anonymous, the protected route, an API call",
    attempt: () => ({ target: "protected" }),
    expect: { outcomes: ["unauthenticated"], form: "json" },
  },
  {
    name: "anonymous, the protected route, a browser page load",
    attempt: () => ({ target: "protected", navigation: true }),
    expect: { outcomes: ["unauthenticated"], form: "login-redirect" },
    by: {
      // The example API is an API: no login page to send anyone to.
      express: { outcomes: ["unauthenticated"], form: "json" },
      // Envoy, configured as deploy/README.md shows, sends ext_authz only the credential
      // headers: the gateway cannot tell a page load from an API call and answers JSON.
      "decisions:envoy": { outcomes: ["unauthenticated"], form: "json" },
    },
  },
  {
    name: "the owner's session cookie",
    attempt: (w) => ({ target: "protected", headers: [cookie(`${COOKIE}=${w.owner.cookie}`)] }),
    expect: allowedAs("owner"),
  },
  {
    name: "the owner's session cookie, a browser page load",
    attempt: (w) => ({ target: "protected", navigation: true, headers: [cookie(`${COOKIE}=${w.owner.cookie}`)] }),
    expect: allowedAs("owner"),
  },
  {
    name: "the member's session cookie",
    attempt: (w) => ({ target: "protected", headers: [cookie(`theme=dark; ${COOKIE}=${w.member.cookie}`)] }),
    expect: allowedAs("member"),
  },
  {
    name: "the owner's session token (X-Session-Token)",
    attempt: (w) => ({ target: "protected", headers: [["X-Session-Token", w.owner.sessionToken]] }),
    expect: allowedAs("owner"),
    by: PAGES_NEED_THE_COOKIE,
  },
  {
    name: "the owner's session token as a bearer token",
    attempt: (w) => ({ target: "protected", headers: [bearer(w.owner.sessionToken)] }),
    expect: allowedAs("owner"),
    by: PAGES_NEED_THE_COOKIE,
  },
  {
    name: "the owner's JWT",
    attempt: (w) => ({ target: "protected", headers: [bearer(w.owner.jwt)] }),
    expect: allowedAs("owner"),
    by: NO_JWT_HERE,
  },
  {
    name: "the member's JWT",
    attempt: (w) => ({ target: "protected", headers: [bearer(w.member.jwt)] }),
    expect: allowedAs("member"),
    by: NO_JWT_HERE,
  },
];

const hasAdmin = (ep: EntryPoint) => ep.admin !== undefined;
const authz: Case[] = [
  ["the owner's session cookie", (w: World) => [cookie(`${COOKIE}=${w.owner.cookie}`)], allowedAs("owner")],
  ["the owner's JWT", (w: World) => [bearer(w.owner.jwt)], allowedAs("owner")],
  ["the member's session cookie", (w: World) => [cookie(`${COOKIE}=${w.member.cookie}`)], { outcomes: ["forbidden"] }],
  [
    "the member's session token",
    (w: World) => [["X-Session-Token", w.member.sessionToken]],
    { outcomes: ["forbidden"] },
  ],
  ["the member's JWT", (w: World) => [bearer(w.member.jwt)], { outcomes: ["forbidden"] }],
  [
    "the member's JWT with X-User-Roles: owner and friends",
    (w: World) => [
      bearer(w.member.jwt),
      ["X-User-Roles", "owner"],
      ["X-User-Role", "owner"],
      ["X-Org-Role", "owner"],
      ["X-Gatehouse-Role", "owner"],
      ["X-Roles", "owner,admin"],
    ],
    { outcomes: ["forbidden"] },
  ],
  [
    "the member's cookie naming the organization again (X-Org-Id)",
    (w: World) => [cookie(`${COOKIE}=${w.member.cookie}`), ["X-Org-Id", w.orgId]],
    { outcomes: ["forbidden"] },
  ],
  [
    "the member's JWT with its role raised to owner (signature kept)",
    (w: World) => [bearer(w.forged["role raised to owner, original signature"] ?? "")],
    DENIED,
  ],
].map(([name, headers, exp]) => ({
  name: `admin route: ${name as string}`,
  attempt: (w: World) => ({ target: "admin" as const, headers: (headers as (w: World) => Header[])(w) }),
  expect: exp as Expect,
  only: hasAdmin,
}));

/** Every forged token in Authorization, then valid tokens where no token belongs. */
const FORGED_NAMES = [
  "alg none, no signature",
  "alg None, no signature",
  "alg NONE with the real signature kept",
  "HS256 keyed with the public JWK (JSON)",
  "HS256 keyed with the public key (PEM)",
  "HS256 with an empty key and a path-traversal kid",
  "ES256 declared over an RS256 signature",
  "wrong iss (real key)",
  "iss with a trailing slash (real key)",
  "wrong aud, a token for another service (real key)",
  "aud list without ours (real key)",
  "expired an hour ago (real key)",
  "expired two minutes ago, past the leeway (real key)",
  "nbf an hour ahead (real key)",
  "unknown kid (real key)",
  "no kid (real key)",
  "an attacker's key under the real kid",
  "jku naming an attacker's JWKS (real key)",
  "jku naming an attacker's JWKS (attacker's key)",
  "x5u naming an attacker's certificate (real key)",
  "jwk header carrying the attacker's key, signed with it",
  "x5c header (real key)",
  "crit naming exp (real key)",
  "crit naming an unknown extension (real key)",
  "typ JWT instead of at+jwt (real key)",
  "typ missing (real key)",
  "typ id_token+jwt (real key)",
  "signature truncated by four characters",
  "signature removed",
  "another token's signature",
  "another token's claims under this signature",
  "sub changed, original signature",
  "role raised to owner, original signature",
  "a fourth segment",
  "JWE-shaped (five segments)",
  "padding added to the header segment",
  "claims that are not JSON (real key)",
  "a header that is not JSON",
  "20 KB of token",
];
const jwt: Case[] = [
  ...FORGED_NAMES.map(
    (name): Case => ({
      name: `forged: ${name}`,
      attempt: (w) => {
        const t = w.forged[name];
        if (t === undefined) throw new Error(`forge.ts made no token "${name}"`);
        return { target: "protected", headers: [bearer(t)] };
      },
      expect: DENIED,
    }),
  ),
  ...(
    [
      ["a valid JWT in an access_token cookie", (w) => ({ headers: [cookie(`access_token=${w.owner.jwt}`)] })],
      ["a valid JWT as the session cookie", (w) => ({ headers: [cookie(`${COOKIE}=${w.owner.jwt}`)] })],
      [
        "a valid JWT in an Authorization cookie",
        (w) => ({ headers: [cookie(`Authorization=Bearer%20${w.owner.jwt}`)] }),
      ],
      ["a valid JWT in ?access_token=", (w) => ({ query: `access_token=${w.owner.jwt}` })],
      ["a valid JWT in ?token= and ?jwt=", (w) => ({ query: `token=${w.owner.jwt}&jwt=${w.owner.jwt}` })],
      ["a valid JWT in ?authorization=", (w) => ({ query: `authorization=Bearer%20${w.owner.jwt}` })],
      [
        "a valid JWT in X-Access-Token, X-Auth-Token, X-Jwt-Assertion",
        (w) => ({
          headers: [
            ["X-Access-Token", w.owner.jwt],
            ["X-Auth-Token", w.owner.jwt],
            ["X-Jwt-Assertion", w.owner.jwt],
            ["X-Forwarded-Access-Token", w.owner.jwt],
          ],
        }),
      ],
      ["a valid JWT as the session token", (w) => ({ headers: [["X-Session-Token", w.owner.jwt]] })],
      ["a valid JWT under the Token scheme", (w) => ({ headers: [["Authorization", `Token ${w.owner.jwt}`]] })],
      ["a valid JWT under the JWT scheme", (w) => ({ headers: [["Authorization", `JWT ${w.owner.jwt}`]] })],
      [
        "a valid JWT under Basic",
        (w) => ({ headers: [["Authorization", `Basic ${Buffer.from(`${w.owner.jwt}:`).toString("base64")}`]] }),
      ],
      [
        "two Authorization headers: valid, then alg none",
        (w) => ({ headers: [bearer(w.owner.jwt), bearer(w.forged["alg none, no signature"] ?? "")] }),
      ],
      [
        "two Authorization headers: alg none, then valid",
        (w) => ({ headers: [bearer(w.forged["alg none, no signature"] ?? ""), bearer(w.owner.jwt)] }),
      ],
      [
        "two Authorization headers: the member's, then the owner's",
        (w) => ({ headers: [bearer(w.member.jwt), ["authorization", `Bearer ${w.owner.jwt}`]] }),
      ],
      [
        "two bearer tokens in one Authorization header",
        (w) => ({ headers: [["Authorization", `Bearer ${w.member.jwt}, Bearer ${w.owner.jwt}`]] }),
      ],
      [
        "the member's session token and the owner's JWT",
        (w) => ({ headers: [["X-Session-Token", w.member.sessionToken], bearer(w.owner.jwt)] }),
      ],
    ] as [string, (w: World) => { headers?: Header[]; query?: string }][]
  ).map(
    ([name, f]): Case => ({
      name,
      attempt: (w) => {
        const { headers = [], query } = f(w);
        return { target: query ? (p) => `${p.protected}?${query}` : "protected", headers };
      },
      expect: DENIED,
    }),
  ),
  {
    name: "a forged JWT next to the member's valid session cookie",
    attempt: (w) => ({
      target: "protected",
      headers: [bearer(w.forged["alg none, no signature"] ?? ""), cookie(`${COOKIE}=${w.member.cookie}`)],
    }),
    // A broken explicit credential is answered as such, never shadowed by the cookie;
    // the web app takes no JWT, so there the cookie alone decides.
    expect: DENIED,
    by: { next: allowedAs("member") },
  },
];

// Identity headers a client must never get past an entry point: the guard's own
// (IDENTITY_HEADERS) and what other auth proxies use, with made-up values.
function identitySpoof(w: World): Header[] {
  const m = w.marker;
  const ours: Header[] = Object.values(IDENTITY_HEADERS).map((name): Header => {
    switch (name) {
      case IDENTITY_HEADERS.userId:
        return [name, w.owner.identityId];
      case IDENTITY_HEADERS.email:
        return [name, `${m}@evil.example`];
      case IDENTITY_HEADERS.roles:
        return [name, "owner"];
      case IDENTITY_HEADERS.orgId:
        return [name, m];
      default:
        return [name, "aal2"];
    }
  });
  return [
    ...ours,
    ["x-gatehouse-principal", `{"sub":"${w.owner.identityId}","role":"owner","m":"${m}"}`],
    ["x-gatehouse-user-id", w.owner.identityId],
    ["x-forwarded-user", w.owner.identityId],
    ["x-forwarded-email", `${m}@evil.example`],
    ["x-forwarded-groups", `admins-${m}`],
    ["remote-user", w.owner.identityId],
    ["x-remote-user", w.owner.identityId],
    ["x-auth-request-user", w.owner.identityId],
    ["x-auth-request-email", `${m}@evil.example`],
    ["x-authenticated-userid", w.owner.identityId],
  ];
}
const title = (n: string) => n.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
const SPELLINGS: Record<string, (h: Header[]) => Header[]> = {
  "lower case": (h) => h,
  "Title-Case": (h) => h.map(([n, v]) => [title(n), v]),
  "UPPER CASE": (h) => h.map(([n, v]) => [n.toUpperCase(), v]),
  "underscores (X_User_Id)": (h) => h.map(([n, v]) => [title(n).replaceAll("-", "_"), v]),
  "each sent twice, the made-up value second": (h) =>
    h.flatMap(([n, v]): Header[] => [
      [n, "x"],
      [n, v],
    ]),
  "each sent twice in two spellings": (h) =>
    h.flatMap(([n, v]): Header[] => [
      [n.toUpperCase(), v],
      [title(n), v],
    ]),
};
// Headers that ask for another URL, method or host than the request's own.
const ROUTING: Record<string, (p: Paths, m: string) => Header[]> = {
  "X-Original-URL": (p, m) => [["X-Original-URL", `${p.public}?m=${m}`]],
  "X-Rewrite-URL": (p, m) => [["X-Rewrite-URL", `${p.public}?m=${m}`]],
  "X-Original-URI": (p, m) => [["X-Original-URI", `${p.public}?m=${m}`]],
  "X-Forwarded-Uri": (p, m) => [["X-Forwarded-Uri", `${p.public}?m=${m}`]],
  "X-Forwarded-Prefix": (_, m) => [["X-Forwarded-Prefix", `/public-${m}`]],
  "X-Envoy-Original-Path": (p, m) => [["X-Envoy-Original-Path", `${p.public}?m=${m}`]],
  "X-Invoke-Path": (p, m) => [["X-Invoke-Path", `${p.public}?m=${m}`]],
  "X-Middleware-Subrequest (Next.js' own)": () => [
    ["X-Middleware-Subrequest", "middleware:middleware:middleware:middleware:middleware"],
  ],
  "X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override": () => [
    ["X-HTTP-Method-Override", "OPTIONS"],
    ["X-HTTP-Method", "OPTIONS"],
    ["X-Method-Override", "OPTIONS"],
  ],
  "X-Original-Method, X-Forwarded-Method": () => [
    ["X-Original-Method", "OPTIONS"],
    ["X-Forwarded-Method", "OPTIONS"],
  ],
  "X-Forwarded-Host, X-Host, Forwarded": (_, m) => [
    ["X-Forwarded-Host", `${m}.evil.example`],
    ["X-Host", `${m}.evil.example`],
    ["Forwarded", `host=${m}.evil.example;proto=https`],
  ],
};
const headers: Case[] = [
  ...Object.entries(SPELLINGS).flatMap(([spelling, spell]): Case[] => [
    {
      name: `identity headers in ${spelling}, anonymous, protected route`,
      attempt: (w) => ({ target: "protected", headers: spell(identitySpoof(w)) }),
      expect: DENIED,
      never: (w) => [w.marker, w.owner.identityId],
    },
    {
      name: `identity headers in ${spelling}, anonymous, public route`,
      attempt: (w) => ({ target: "public", headers: spell(identitySpoof(w)) }),
      expect: allowedAs("anonymous"),
      never: (w) => [w.marker, w.owner.identityId],
    },
    {
      name: `identity headers in ${spelling}, the member signed in`,
      attempt: (w) => ({
        target: "protected",
        headers: [cookie(`${COOKIE}=${w.member.cookie}`), ...spell(identitySpoof(w))],
      }),
      expect: allowedAs("member"),
      never: (w) => [w.marker, w.owner.identityId],
    },
    {
      name: `identity headers in ${spelling}, the member at the admin route`,
      attempt: (w) => ({
        target: "admin",
        headers: [cookie(`${COOKIE}=${w.member.cookie}`), ...spell(identitySpoof(w))],
      }),
      expect: { outcomes: ["forbidden"] },
      never: (w) => [w.marker, w.owner.identityId],
      only: hasAdmin,
    },
  ]),
  ...Object.entries(ROUTING).flatMap(([name, make]): Case[] => {
    // Neither the made-up value nor the header itself may reach the code behind (the
    // gateway writes its own X-Forwarded-Host, so that name alone proves nothing).
    const never = (w: World, ep: EntryPoint) => [
      w.marker,
      ...make(ep.paths, w.marker)
        .map(([n]) => n.toLowerCase())
        .filter((n) => n !== "x-forwarded-host")
        .map((n) => `"${n}"`),
    ];
    return [
      {
        name: `${name}, anonymous, protected route`,
        attempt: (w, ep) => ({ target: "protected", headers: make(ep.paths, w.marker) }),
        expect: DENIED,
        never,
      },
      {
        name: `${name}, the member signed in`,
        attempt: (w, ep) => ({
          target: "protected",
          headers: [cookie(`${COOKIE}=${w.member.cookie}`), ...make(ep.paths, w.marker)],
        }),
        // Served as the request line says, or refused; never as the header says.
        expect: { outcomes: ["allowed", "refused"], as: "member" },
        never,
      },
    ];
  }),
];

// What a proxy in front must not pass on, besides identity and routing claims: the
// Kratos session cookie (a credential the gateway consumed; Traefik cannot remove one
// cookie, deploy/README.md says so), and a method other than the one decided on.
const passedOn: Case[] = [
  {
    name: "the Kratos session cookie does not reach the code behind, the other cookies do",
    attempt: (w) => ({ target: "protected", headers: [cookie(`theme=dark; ${COOKIE}=${w.owner.cookie}; lang=en`)] }),
    expect: allowedAs("owner"),
    never: (w) => [w.owner.cookie],
    only: (ep) => ep.key === "gateway" || /^proxy:(nginx|caddy)/.test(ep.key),
  },
  ...(
    [
      ["the member", (w: World) => [cookie(`${COOKIE}=${w.member.cookie}`)], { outcomes: ["forbidden"] }],
      ["anonymous", () => [], UNAUTHENTICATED],
    ] as [string, (w: World) => Header[], Expect][]
  ).map(
    ([who, creds, exp]): Case => ({
      // The routes give DELETE on the public path to owners and admins only.
      name: `DELETE on the public path by ${who}, with headers naming GET`,
      attempt: (w) => ({
        method: "DELETE",
        target: () => "/public/x",
        headers: [
          ...creds(w),
          ["X-HTTP-Method-Override", "GET"],
          ["X-Original-Method", "GET"],
          ["X-Forwarded-Method", "GET"],
          ["X-Method-Override", "GET"],
        ],
      }),
      expect: exp,
      only: (ep) => /^(gateway|proxy|decisions)/.test(ep.key),
    }),
  ),
  {
    name: "DELETE on the public path by the owner is let through, as the owner",
    attempt: (w) => ({ method: "DELETE", target: () => "/public/x", headers: [cookie(`${COOKIE}=${w.owner.cookie}`)] }),
    expect: allowedAs("owner"),
    only: (ep) => /^(gateway|proxy)/.test(ep.key),
  },
];

// Path tricks: from the public route's directory to the protected one. `pub` is the
// public route's first segment ("/public"), `prot` the protected path without its
// leading slash ("private/x"), `head`/`tail` its first segment and the rest.
const TRICKS: Record<string, (pub: string, prot: string, head: string, tail: string) => string> = {
  "..": (pub, prot) => `${pub}/../${prot}`,
  ".. from deeper": (pub, prot) => `${pub}/a/b/../../../${prot}`,
  "%2e%2e": (pub, prot) => `${pub}/%2e%2e/${prot}`,
  "%2E%2E": (pub, prot) => `${pub}/%2E%2E/${prot}`,
  ".%2e": (pub, prot) => `${pub}/.%2e/${prot}`,
  "..%2f": (pub, prot) => `${pub}/..%2f${prot}`,
  "%2f..%2f": (pub, prot) => `${pub}%2f..%2f${prot}`,
  "%2e%2e%2f": (pub, prot) => `${pub}/%2e%2e%2f${prot}`,
  "double-encoded %252e%252e": (pub, prot) => `${pub}/%252e%252e/${prot}`,
  "..;/ (Tomcat)": (pub, prot) => `${pub}/..;/${prot}`,
  ";param then ..": (pub, prot) => `${pub};x=1/../${prot}`,
  ";param on the protected path": (_, prot) => `/${prot};x=1`,
  "%3b on the protected path": (_, prot) => `/${prot}%3bx=1`,
  "//": (_, prot) => `//${prot}`,
  "/./": (_, prot) => `/./${prot}`,
  "trailing slash": (_, prot) => `/${prot}/`,
  "trailing dot": (_, prot) => `/${prot}.`,
  "dot after the first segment": (_, _p, head, tail) => `/${head}.${tail ? `/${tail}` : ""}`,
  "upper case": (_, prot) => `/${prot.toUpperCase()}`,
  "first letter upper case": (_, prot) => `/${prot.charAt(0).toUpperCase()}${prot.slice(1)}`,
  "first letter percent-encoded": (_, prot) => `/%${prot.charCodeAt(0).toString(16)}${prot.slice(1)}`,
  "encoded slash inside the protected path": (_, _p, head, tail) => `/${head}%2f${tail}`,
  "%2f as the first slash": (_, prot) => `/%2f${prot}`,
  backslashes: (pub, prot) => `${pub}\\..\\${prot}`,
  "backslash after ..": (pub, prot) => `${pub}/..\\${prot}`,
  "%5c": (pub, prot) => `${pub}/..%5c${prot}`,
  "overlong UTF-8 dots %c0%ae": (pub, prot) => `${pub}/%c0%ae%c0%ae/${prot}`,
  "overlong UTF-8 slash %c0%af": (pub, prot) => `${pub}/..%c0%af${prot}`,
  "three-byte overlong dots %e0%80%ae": (pub, prot) => `${pub}/%e0%80%ae%e0%80%ae/${prot}`,
  "raw overlong UTF-8 bytes": (pub, prot) => `${pub}/\u00c0\u00ae\u00c0\u00ae/${prot}`,
  "%00 after the protected path": (_, prot) => `/${prot}%00`,
  "%00 and an extension": (_, prot) => `/${prot}%00.css`,
  "%00 before ..": (pub, prot) => `${pub}%00/../${prot}`,
  "..%00": (pub, prot) => `${pub}/..%00/${prot}`,
  "a raw NUL": (_, prot) => `/${prot}\u0000`,
  "%20 and %09 after it": (_, prot) => `/${prot}%20%09`,
  "absolute-form target": (pub, prot) => `http://evil.example${pub}/../${prot}`,
  "absolute-form target, protected": (_, prot) => `http://evil.example/${prot}`,
  "a raw # before ..": (pub, prot) => `${pub}#/../${prot}`,
  // Chosen by the resolved path (the public one), forwarded raw: read as the protected one.
  "out of the protected path back to the public one": (pub, prot) =>
    `/${prot}/${"../".repeat(prot.split("/").length)}${pub.slice(1)}/x`,
  "the same, encoded": (pub, prot) => `/${prot}/${"%2e%2e/".repeat(prot.split("/").length)}${pub.slice(1)}/x`,
};
const paths: Case[] = Object.entries(TRICKS).map(
  ([name, make]): Case => ({
    name: `path trick: ${name}`,
    attempt: () => ({
      target: (p) => {
        const pub = `/${p.public.split("/")[1]}`;
        const prot = p.protected.slice(1);
        const [head = "", ...tail] = prot.split("/");
        return make(pub, prot, head, tail.join("/"));
      },
    }),
    // Any answer but the protected resource: a refusal, a 404, a redirect, the public page.
    expect: { outcomes: ["unauthenticated", "refused", "not_found", "redirect", "allowed"], as: "anonymous" },
  }),
);

const ALLOWED_OR_NOT: Expect = { outcomes: ["allowed", "unauthenticated", "refused"], as: "owner" };
const cookies: Case[] = [
  ...(
    [
      ["the value in double quotes", (v) => `${COOKIE}="${v}"`, ALLOWED_OR_NOT],
      ["spaces around =", (v) => `${COOKIE} = ${v}`, ALLOWED_OR_NOT],
      ["empty pairs and stray semicolons", (v) => `;;${COOKIE}=${v};; ;`, ALLOWED_OR_NOT],
      [
        "Set-Cookie attributes sent back",
        (v) => `${COOKIE}=${v}; Path=/; Domain=evil.example; HttpOnly; Secure`,
        ALLOWED_OR_NOT,
      ],
      ["the same cookie twice", (v) => `${COOKIE}=${v}; ${COOKIE}=${v}`, ALLOWED_OR_NOT],
      ["a tab before the name", (v) => `\t${COOKIE}=${v}`, ALLOWED_OR_NOT],
      [
        "the value percent-encoded",
        (v) => `${COOKIE}=${encodeURIComponent(v).replace(/[A-Za-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)}`,
        DENIED,
      ],
      ["the name in capitals", (v) => `${COOKIE.toUpperCase()}=${v}`, UNAUTHENTICATED],
      ["a __Host- prefixed name", (v) => `__Host-${COOKIE}=${v}`, UNAUTHENTICATED],
      ["garbage", () => `${COOKIE}=garbage-${randomUUID()}`, DENIED],
      ["valid, then garbage", (v) => `${COOKIE}=${v}; ${COOKIE}=garbage`, DENIED],
      ["garbage, then valid", (v) => `${COOKIE}=garbage; ${COOKIE}=${v}`, DENIED],
      ["a byte appended to the value", (v) => `${COOKIE}=${v}x`, DENIED],
      ["pairs joined with a comma", (v) => `${COOKIE}=${v}, theme=dark`, ALLOWED_OR_NOT],
      ["a 5 KB value", () => `${COOKIE}=${"A".repeat(5_000)}`, DENIED],
      ["the valid cookie in a 9 KB Cookie header", (v) => `pad=${"a".repeat(9_000)}; ${COOKIE}=${v}`, DENIED],
      ["the valid cookie in a 40 KB Cookie header", (v) => `pad=${"a".repeat(40_000)}; ${COOKIE}=${v}`, DENIED],
      ["a control character in the value", (v) => `${COOKIE}=${v}\u0001`, DENIED],
    ] as [string, (v: string) => string, Expect][]
  ).map(
    ([name, make, exp]): Case => ({
      name: `cookie: ${name}`,
      attempt: (w) => ({ target: "protected", headers: [cookie(make(w.owner.cookie))] }),
      expect: exp,
    }),
  ),
  {
    name: "cookie: the valid one and garbage in two Cookie headers",
    attempt: (w) => ({
      target: "protected",
      headers: [cookie(`${COOKIE}=${w.owner.cookie}`), cookie(`${COOKIE}=garbage`)],
    }),
    expect: DENIED,
  },
  {
    name: "cookie: garbage and the valid one in two Cookie headers",
    attempt: (w) => ({
      target: "protected",
      headers: [cookie(`${COOKIE}=garbage`), cookie(`${COOKIE}=${w.owner.cookie}`)],
    }),
    expect: DENIED,
  },
  {
    name: "cookie: the owner's and the member's sessions in one header",
    attempt: (w) => ({
      target: "protected",
      headers: [cookie(`${COOKIE}=${w.owner.cookie}; ${COOKIE}=${w.member.cookie}`)],
    }),
    expect: DENIED,
  },
  {
    name: "cookie: the member's and the owner's sessions in two headers",
    attempt: (w) => ({
      target: "protected",
      headers: [cookie(`${COOKIE}=${w.member.cookie}`), cookie(`${COOKIE}=${w.owner.cookie}`)],
    }),
    expect: DENIED,
  },
  {
    name: "cookie: a session signed out after every entry point had seen it",
    attempt: (w) => ({ target: "protected", headers: [cookie(`${COOKIE}=${w.revoked.cookie}`)] }),
    expect: UNAUTHENTICATED,
    settle: 100,
  },
  {
    name: "cookie: the signed-out session's JWT",
    attempt: (w) => ({ target: "protected", headers: [bearer(w.revoked.jwt)] }),
    expect: UNAUTHENTICATED,
    settle: 100,
  },
];

// Smuggling-shaped requests on a proxied route: framing a front end and the server
// behind it could read differently. Each hides a second request for the protected
// route in the body of a POST to the public one. The answer: refused (400, or the
// connection closed), or exactly one request reaching the upstream; the hidden one
// never reaches it (the gateway may parse it as a request of its own, which its
// guard then refuses). `hidden` is that request, `len(body)` a body's byte length.
type Smuggle = (hidden: string) => { framing: string; body: string; version?: string; method?: string };
const END = "0\r\n\r\n";
const len = (b: string) => Buffer.byteLength(b);
const TE_VALUES = [
  "chunked",
  " chunked",
  "chunked ",
  "Chunked",
  "CHUNKED",
  "\tchunked",
  "xchunked",
  "chunk",
  "chunked, identity",
  "identity, chunked",
  "chunked, chunked",
  "chunked;q=1",
  "chunked\u000b",
];
const SMUGGLING: Record<string, Smuggle> = {
  ...Object.fromEntries(
    TE_VALUES.flatMap((te): [string, Smuggle][] => [
      [
        `Content-Length and Transfer-Encoding: ${JSON.stringify(te)}`,
        (h) => ({ framing: `Content-Length: ${len(END + h)}\r\nTransfer-Encoding: ${te}`, body: END + h }),
      ],
      [
        `Transfer-Encoding: ${JSON.stringify(te)}, then Content-Length`,
        (h) => ({ framing: `Transfer-Encoding: ${te}\r\nContent-Length: ${len(END + h)}`, body: END + h }),
      ],
      [
        `Transfer-Encoding: ${JSON.stringify(te)} alone`,
        (h) => ({ framing: `Transfer-Encoding: ${te}`, body: END + h }),
      ],
    ]),
  ),
  "Transfer-Encoding with a space before the colon, and Content-Length": (h) => ({
    framing: `Transfer-Encoding : chunked\r\nContent-Length: ${len(END + h)}`,
    body: END + h,
  }),
  "Transfer_Encoding, and Content-Length": (h) => ({
    framing: `Transfer_Encoding: chunked\r\nContent-Length: ${len(END + h)}`,
    body: END + h,
  }),
  "Transfer-Encoding folded onto a second line, and Content-Length": (h) => ({
    framing: `Transfer-Encoding:\r\n chunked\r\nContent-Length: ${len(END + h)}`,
    body: END + h,
  }),
  "Transfer-Encoding hidden in the fold of another header": (h) => ({
    framing: `X-Pad: a\r\n Transfer-Encoding: chunked\r\nContent-Length: ${len(END + h)}`,
    body: END + h,
  }),
  "two Transfer-Encoding headers (chunked, identity)": (h) => ({
    framing: `Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: ${len(END + h)}`,
    body: END + h,
  }),
  "two Content-Lengths that differ": (h) => ({ framing: `Content-Length: 0\r\nContent-Length: ${len(h)}`, body: h }),
  "two equal Content-Lengths": (h) => ({ framing: `Content-Length: ${len(h)}\r\nContent-Length: ${len(h)}`, body: h }),
  "Content-Length listing two values": (h) => ({ framing: `Content-Length: ${len(h)}, 0`, body: h }),
  "Content-Length with a plus sign": (h) => ({ framing: `Content-Length: +${len(h)}`, body: h }),
  "Content-Length in hex": (h) => ({ framing: `Content-Length: 0x${len(h).toString(16)}`, body: h }),
  "Content-Length shorter than the body": (h) => ({ framing: "Content-Length: 0", body: h }),
  "a chunk extension on the last chunk": (h) => ({
    framing: "Transfer-Encoding: chunked",
    body: `0;ext=1\r\n\r\n${h}`,
  }),
  "bare LF line ends in the chunked body": (h) => ({ framing: "Transfer-Encoding: chunked", body: `0\n\n${h}` }),
  "a chunk size that overflows 64 bits": (h) => ({
    framing: "Transfer-Encoding: chunked",
    body: `10000000000000001\r\n${h}\r\n${END}`,
  }),
  "a chunk size in 0x form": (h) => ({ framing: "Transfer-Encoding: chunked", body: `0x0\r\n\r\n${h}` }),
  "HTTP/1.0 with Transfer-Encoding: chunked": (h) => ({
    framing: `Transfer-Encoding: chunked\r\nContent-Length: ${len(END + h)}`,
    body: END + h,
    version: "HTTP/1.0",
  }),
  "a GET with a body that is a request": (h) => ({ framing: `Content-Length: ${len(h)}`, body: h, method: "GET" }),
  "Expect: 100-continue with Content-Length and chunked": (h) => ({
    framing: `Expect: 100-continue\r\nContent-Length: ${len(END + h)}\r\nTransfer-Encoding: chunked`,
    body: END + h,
  }),
};

const CLASSES: Record<string, Case[]> = {
  "a valid credential works, and nothing else does": baseline,
  "an admin-only rule against a member": authz,
  "forged and misplaced JWTs": jwt,
  "identity and routing headers from the client": headers,
  "what a proxy must not pass on": passedOn,
  "path tricks next to an anonymous route": paths,
  "odd, duplicated, oversized and revoked session cookies": cookies,
};

// --- checking one answer --------------------------------------------------------------

function expectationFor(c: Case, ep: EntryPoint): Expect {
  return c.by?.[ep.key] ?? c.by?.[ep.key.split(":")[0] ?? ""] ?? c.expect;
}

function problems(c: Case, ep: EntryPoint, w: World, r: Result): string[] {
  const exp = expectationFor(c, ep);
  const out: string[] = [];
  if (r.outcome === "error") out.push("an error answer (5xx or unknown status)");
  if (!exp.outcomes.includes(r.outcome)) out.push(`outcome ${r.outcome}, expected ${exp.outcomes.join(" or ")}`);
  if (r.outcome === "unauthenticated" && exp.form && r.form !== exp.form)
    out.push(`answered as ${r.form}, expected ${exp.form}`);
  if (r.outcome === "allowed" && exp.as !== undefined) {
    if (exp.as === "anonymous") {
      if (r.servedProtected) out.push("the protected resource was served to an anonymous caller");
      if (r.identity) out.push(`an anonymous caller was passed on as ${JSON.stringify(r.identity)}`);
    } else {
      const who = exp.as === "owner" ? w.owner : w.member;
      const id = r.identity;
      if (!id) out.push(`allowed, but the code behind was told no identity (expected the ${exp.as})`);
      else if (
        (id.subject !== undefined && id.subject !== who.identityId) ||
        (id.email !== undefined && id.email !== who.email) ||
        (id.role !== undefined && id.role !== who.role)
      )
        out.push(`passed on as ${JSON.stringify(id)}, expected the ${exp.as} (${who.identityId}, ${who.role})`);
    }
  }
  for (const v of c.never?.(w, ep) ?? [])
    if (r.downstream.includes(v)) out.push(`made-up value ${v} reached the code behind`);
  return out;
}

async function runCase(c: Case, ep: EntryPoint, w: World): Promise<string | undefined> {
  const attempt = c.attempt(w, ep);
  let r = await ep.run(attempt);
  for (let i = 0; i < (c.settle ?? 0) && r.outcome === "allowed"; i++) {
    await new Promise((res) => setTimeout(res, 50));
    r = await ep.run(attempt);
  }
  const p = problems(c, ep, w, r);
  return p.length ? `${c.name}: ${p.join("; ")} [${r.summary.slice(0, 240)}]` : undefined;
}

async function inParallel<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

// --- the entry points -------------------------------------------------------------------

const env = inject("stack");
const domain = env.GATEHOUSE_DOMAIN as string;
const portOf = (u: string | undefined) => Number(new URL(u ?? "").port);
// The gateway and its echo upstream start in beforeAll; the runners read them when they run.
const gw = { port: 0 };
const up: { seen: Seen[] } = { seen: [] };
// One gateway per forward-auth proxy (FORWARD_AUTH_PROXY names one), and the proxies.
const gwEnvoy = { port: 0 };
const proxies: Record<RealProxy, { port: number }> = { nginx: { port: 0 }, traefik: { port: 0 }, caddy: { port: 0 } };
const ENTRY_POINTS: EntryPoint[] = [
  gatewayProxy(gw, up, domain),
  realProxy(proxies.nginx, up, domain, "nginx", "/public/x"),
  realProxy(proxies.nginx, up, domain, "nginx", "/static/x"),
  // Every Traefik router goes through the decision (deploy/README.md says why): no route without one.
  realProxy(proxies.traefik, up, domain, "traefik", "/public/x"),
  realProxy(proxies.caddy, up, domain, "caddy", "/public/x"),
  realProxy(proxies.caddy, up, domain, "caddy", "/static/x"),
  envoyExtAuthz(gwEnvoy, domain),
  expressApi(portOf(env.API_URL), domain),
  nextMiddleware(portOf(env.WEB_URL), domain),
];

let world: World;
let upstream: Awaited<ReturnType<typeof echoUpstream>> | undefined;
const gateways: Awaited<ReturnType<typeof startGateway>>[] = [];
const running: Running[] = [];

beforeAll(async () => {
  upstream = await echoUpstream();
  up.seen = upstream.seen;
  const routes = routesFile(gatewayRoutes(upstream.url));
  const gateway = async (forwardAuthProxy?: string) => {
    const g = await startGateway(routes, {
      LOG_LEVEL: "warn",
      ACCESS_LOG: "false",
      ...(forwardAuthProxy ? { FORWARD_AUTH_PROXY: forwardAuthProxy } : {}),
    });
    gateways.push(g);
    return g.port;
  };
  gw.port = await gateway();
  gwEnvoy.port = await gateway("envoy");
  const upstreamPort = Number(new URL(upstream.url).port);
  for (const name of ["nginx", "traefik", "caddy"] as const) {
    const p = await startProxy(name, await gateway(name), upstreamPort);
    running.push(p);
    proxies[name].port = p.port;
  }

  const { p: owner, orgId } = await person("ep-owner", "owner");
  const { p: member } = await person("ep-member", "member", { owner, orgId });
  const { p: revoked } = await person("ep-revoked", "owner");
  world = {
    owner,
    member,
    revoked,
    orgId,
    // Forgeries claim to be the member (a raised role is an escalation); "other" is the owner.
    forged: await forgedTokens(env.DATABASE_URL as string, member.jwt, owner.jwt),
    marker: `spoof${randomUUID().slice(0, 8)}`,
  };
  // Every entry point lets the session in (and caches what it caches), then it is signed out.
  for (const ep of ENTRY_POINTS) {
    for (const h of [cookie(`${COOKIE}=${revoked.cookie}`), ...(hasJwt(ep) ? [bearer(revoked.jwt)] : [])]) {
      const r = await ep.run({ target: "protected", headers: [h] });
      if (r.outcome !== "allowed") throw new Error(`${ep.name} did not let the session in before logout: ${r.summary}`);
    }
  }
  const out = await call("/v1/logout", { method: "POST", headers: { cookie: `${COOKIE}=${revoked.cookie}` } });
  if (out.status !== 204) throw new Error(`logout failed: ${out.status} ${out.text}`);
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await Promise.all(gateways.map((g) => g.stop()));
  await upstream?.close();
});

describe.each(ENTRY_POINTS.map((ep) => [ep.name, ep] as const))("attacks on the %s", (_name, ep) => {
  const classes = Object.entries(CLASSES)
    .map(([cls, cases]) => [cls, cases.filter((c) => c.only?.(ep) ?? true)] as const)
    .filter(([, cases]) => cases.length > 0);
  it.each(classes)("%s", async (_cls, cases) => {
    const failures: string[] = [];
    await inParallel(cases, 6, async (c) => {
      const f = await runCase(c, ep, world);
      if (f) failures.push(f);
    });
    expect(failures).toEqual([]);
  });
});

describe.each(ENTRY_POINTS.filter((ep) => ep.raw).map((ep) => [ep.name, ep] as const))(
  "smuggling-shaped requests to the %s",
  (_name, ep) => {
    it("are refused, or reach the upstream as exactly one request; the hidden one never does", async () => {
      const failures: string[] = [];
      const hiddenSeen: string[] = [];
      await inParallel(Object.entries(SMUGGLING), 6, async ([name, smuggle]) => {
        const id = uniqueId("smuggle");
        const r = await ep.raw?.((host, p) => {
          const hidden = `GET ${p.protected}/smuggled-${id} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
          const { framing, body, version = "HTTP/1.1", method = "POST" } = smuggle(hidden);
          return [
            `${method} ${p.public} ${version}\r\nHost: ${host}\r\nX-Request-Id: ${id}\r\n${framing}\r\n\r\n${body}`,
          ];
        }, id);
        if (!r) throw new Error("no raw exchange");
        hiddenSeen.push(...r.allUpstream.filter((s) => s.url.includes("smuggled-")).map((s) => `${s.method} ${s.url}`));
        const refused = r.status === undefined || r.status === 400;
        const single = r.status !== undefined && r.status >= 200 && r.status < 300 && r.upstream.length === 1;
        if (!(refused && r.upstream.length === 0) && !single)
          failures.push(`${name}: ${r.status ?? "closed"}, ${r.upstream.length} upstream request(s)`);
      });
      expect(hiddenSeen).toEqual([]);
      expect(failures).toEqual([]);
      // And the proxied route still serves.
      expect((await ep.run({ target: "public" })).outcome).toBe("allowed");
    });
  },
);
