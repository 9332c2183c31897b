// The conformance table: what every entry point of the guard answers for a
// credential on a route. One row = one request; the same rows run at every entry
// point (runners.ts), and must get the same answer there:
//   allowed  → the code behind is told who the caller is (or nobody), with the
//              guard's headers added and the client's claims and credentials stripped
//              (checked in conformance.test.ts);
//   refused  → the status, the error code, and the one refusal form (JSON with the
//              request id, WWW-Authenticate on 401), or for a page load a 303 to the
//              login (401) or a page saying what to do (403).

/** Who takes part; the world (conformance.test.ts) fills in their credentials. */
export interface Person {
  identityId: string;
  email: string;
  role: "owner" | "member";
  sessionToken: string;
  /** The Kratos session cookie's value (a browser login). */
  cookie: string;
  /** A Gatehouse JWT of that browser session. */
  jwt: string;
}

export interface World {
  owner: Person;
  member: Person;
  /** Owner of another organization, on the enterprise plan, that requires a second factor; signed in with a password only (aal1). */
  mfa: Person;
  /** In every made-up value, so a leak is found by searching for it. */
  marker: string;
}

export type Route = "public" | "private" | "admin";
type Header = readonly [string, string];

export const COOKIE = "ory_kratos_session";

/** What a client sends, by name. */
export const CREDENTIALS: Record<string, (w: World) => Header[]> = {
  none: () => [],
  "the owner's cookie (next to another cookie)": (w) => [["Cookie", `theme=dark; ${COOKIE}=${w.owner.cookie}`]],
  "the member's cookie": (w) => [["Cookie", `${COOKIE}=${w.member.cookie}`]],
  "the owner's session token": (w) => [["X-Session-Token", w.owner.sessionToken]],
  "the owner's session token as a bearer token": (w) => [["Authorization", `Bearer ${w.owner.sessionToken}`]],
  "the owner's JWT": (w) => [["Authorization", `Bearer ${w.owner.jwt}`]],
  "the member's JWT": (w) => [["Authorization", `Bearer ${w.member.jwt}`]],
  "the cookie of an aal1 member of an organization that requires a second factor": (w) => [
    ["Cookie", `${COOKIE}=${w.mfa.cookie}`],
  ],
  "the JWT of an aal1 member of an organization that requires a second factor": (w) => [
    ["Authorization", `Bearer ${w.mfa.jwt}`],
  ],
  "a cookie Kratos never issued": () => [["Cookie", `${COOKIE}=not-a-session-at-all`]],
  "the owner's JWT with a broken signature": (w) => [
    ["Authorization", `Bearer ${w.owner.jwt.slice(0, -4)}${w.owner.jwt.endsWith("AAAA") ? "BBBB" : "AAAA"}`],
  ],
  "the member's session token and the owner's JWT": (w) => [
    ["X-Session-Token", w.member.sessionToken],
    ["Authorization", `Bearer ${w.owner.jwt}`],
  ],
  "the member's cookie, and identity headers naming the owner": (w) => [
    ["Cookie", `${COOKIE}=${w.member.cookie}`],
    ["X-User-Id", w.owner.identityId],
    ["X-User-Roles", "owner"],
    ["X_User_Email", `${w.marker}@evil.example`],
    ["X-Org-Id", w.marker],
    ["Remote-User", w.owner.identityId],
  ],
};
export type CredentialName = keyof typeof CREDENTIALS;

export type Expect =
  | { allowed: "owner" | "member" | "anonymous" }
  | { status: 400 | 401 | 403; error: string }
  /** A refused page load: the same status and code, as a page for a person (HTML, with the request id). */
  | { status: 403; error: string; page: true }
  /** A 303 to the app's login page; with aal "aal2", to its second-factor step. */
  | { login: true; aal?: "aal2" };

export interface Case {
  credential: CredentialName;
  route: Route;
  /** A browser's top-level page load (else an API call). */
  page?: boolean;
  expect: Expect;
}

const owner = { allowed: "owner" } as const;
const member = { allowed: "member" } as const;
const anonymous = { allowed: "anonymous" } as const;
const signIn = { status: 401, error: "unauthenticated" } as const;
const forbidden = { status: 403, error: "forbidden" } as const;
const login = { login: true } as const;
const forbiddenPage = { status: 403, error: "forbidden", page: true } as const;
const secondFactor = { status: 403, error: "aal2_required" } as const;

export const CASES: Case[] = [
  // An anonymous route: a working credential is used, anything else is nobody.
  { credential: "none", route: "public", expect: anonymous },
  { credential: "the owner's cookie (next to another cookie)", route: "public", expect: owner },
  { credential: "a cookie Kratos never issued", route: "public", expect: anonymous },
  { credential: "the owner's JWT with a broken signature", route: "public", expect: anonymous },
  { credential: "the member's session token and the owner's JWT", route: "public", expect: anonymous },
  // Any signed-in caller.
  { credential: "none", route: "private", expect: signIn },
  { credential: "none", route: "private", page: true, expect: login },
  { credential: "the owner's cookie (next to another cookie)", route: "private", expect: owner },
  { credential: "the owner's cookie (next to another cookie)", route: "private", page: true, expect: owner },
  { credential: "the member's cookie", route: "private", expect: member },
  { credential: "the owner's session token", route: "private", expect: owner },
  { credential: "the owner's session token as a bearer token", route: "private", expect: owner },
  { credential: "the owner's JWT", route: "private", expect: owner },
  { credential: "the member's JWT", route: "private", expect: member },
  { credential: "a cookie Kratos never issued", route: "private", expect: signIn },
  { credential: "a cookie Kratos never issued", route: "private", page: true, expect: login },
  {
    credential: "the owner's JWT with a broken signature",
    route: "private",
    expect: { status: 401, error: "invalid_token" },
  },
  {
    credential: "the member's session token and the owner's JWT",
    route: "private",
    expect: { status: 400, error: "ambiguous_credentials" },
  },
  { credential: "the member's cookie, and identity headers naming the owner", route: "private", expect: member },
  // Owners and admins only.
  { credential: "the owner's cookie (next to another cookie)", route: "admin", expect: owner },
  { credential: "the owner's JWT", route: "admin", expect: owner },
  { credential: "the member's cookie", route: "admin", expect: forbidden },
  { credential: "the member's cookie", route: "admin", page: true, expect: forbiddenPage },
  { credential: "the member's JWT", route: "admin", expect: forbidden },
  { credential: "the member's cookie, and identity headers naming the owner", route: "admin", expect: forbidden },
  { credential: "none", route: "admin", expect: signIn },
  { credential: "none", route: "admin", page: true, expect: login },
  // An organization that requires a second factor: every route but an anonymous one
  // refuses its members' aal1 sessions, whatever the route's rule, and sends a page
  // load to the second-factor step (where the app leads someone without one to set it up).
  {
    credential: "the cookie of an aal1 member of an organization that requires a second factor",
    route: "private",
    expect: secondFactor,
  },
  {
    credential: "the cookie of an aal1 member of an organization that requires a second factor",
    route: "private",
    page: true,
    expect: { login: true, aal: "aal2" },
  },
  {
    credential: "the cookie of an aal1 member of an organization that requires a second factor",
    route: "admin",
    page: true,
    expect: { login: true, aal: "aal2" },
  },
  {
    credential: "the JWT of an aal1 member of an organization that requires a second factor",
    route: "private",
    expect: secondFactor,
  },
  {
    credential: "the JWT of an aal1 member of an organization that requires a second factor",
    route: "admin",
    expect: secondFactor,
  },
  {
    credential: "the cookie of an aal1 member of an organization that requires a second factor",
    route: "public",
    expect: anonymous,
  },
];

export const caseName = (c: Case) => `${c.credential} → ${c.route}${c.page ? " (page load)" : ""}`;
