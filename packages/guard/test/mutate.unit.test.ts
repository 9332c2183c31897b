// Step 4 on its own: which client headers count as identity claims (always
// stripped), and what the guard adds.
import { describe, expect, it } from "vitest";
import { identityHeaders } from "../src/core/mutate.ts";
import { isIdentityHeader, type Principal } from "../src/index.ts";

const principal: Principal = {
  subject: "11111111-1111-4111-8111-111111111111",
  sessionId: "s",
  email: "zoë@exämple.org",
  emailVerified: true,
  organizationId: "org-1",
  role: "admin",
  teams: [],
  permissions: [],
  aal: "aal1",
  amr: ["password"],
  via: "session",
  token: "jwt",
  expiresAt: 0,
};

describe("identity headers", () => {
  it("treats every spelling of an identity header as spoofable", () => {
    for (const name of [
      "X-User-Id",
      "x-user-id",
      "X-USER-ID",
      "X_User_Id",
      " x-user-id ",
      "x-user-email",
      "x-user-roles",
      "x-org-id",
      "x-user-aal",
      "X-Auth-Request-User",
      "x-auth-anything",
      "X-Forwarded-User",
      "X-Forwarded-Email",
      "X-Remote-User",
      "Remote-User",
      "REMOTE_USER",
      "X-Amzn-Oidc-Identity",
      "X-Goog-Authenticated-User-Email",
      "X-MS-CLIENT-PRINCIPAL-NAME",
      "Cf-Access-Authenticated-User-Email",
    ]) {
      expect(isIdentityHeader(name), name).toBe(true);
    }
  });

  it("leaves ordinary headers alone", () => {
    for (const name of [
      "authorization",
      "cookie",
      "user-agent",
      "x-request-id",
      "x-forwarded-for",
      "x-forwarded-proto",
      "accept",
    ]) {
      expect(isIdentityHeader(name), name).toBe(false);
    }
  });

  it("adds the principal's headers; values cannot smuggle CR/LF or non-ASCII", () => {
    expect(identityHeaders(principal, { jwt: true, identity: true })).toEqual({
      authorization: "Bearer jwt",
      "x-user-id": principal.subject,
      "x-user-email": "zo%C3%AB%40ex%C3%A4mple.org",
      "x-user-roles": "admin",
      "x-org-id": "org-1",
      "x-user-aal": "aal1",
    });
    expect(
      identityHeaders({ ...principal, organizationId: "a\r\nx-user-id: root" }, { jwt: false, identity: true })[
        "x-org-id"
      ],
    ).toBe("a%0D%0Ax-user-id%3A%20root");
    expect(identityHeaders(principal, { jwt: false, identity: false })).toEqual({});
  });
});
