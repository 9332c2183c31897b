// The 403 page a browser's refused page load gets (enforce/page.ts through answerOf):
// HTML with what happened and what to do, the links the guard gave, every value
// escaped, nothing it loads or runs; without `page` the same decision stays JSON.
import { describe, expect, it } from "vitest";
import type { DenyDecision } from "../src/core/types.ts";
import { answerOf } from "../src/enforce/answer.ts";

const base: DenyDecision = {
  kind: "deny",
  status: 403,
  error: "forbidden",
  message: "this route needs the role admin",
};

describe("the refusal page", () => {
  it("is HTML with the reason, the advice, the links and the request id; never cached, no script", () => {
    const a = answerOf(
      { ...base, page: { home: "https://app.example.com/", signIn: "https://app.example.com/auth/login?return_to=x" } },
      "req-1",
    );
    expect(a.status).toBe(403);
    expect(a.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(a.headers["cache-control"]).toBe("no-store");
    expect(a.headers["x-request-id"]).toBe("req-1");
    expect(a.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(a.body).toContain('data-error="forbidden"');
    expect(a.body).toContain("Ask an owner or admin");
    expect(a.body).toContain('href="https://app.example.com/auth/login?return_to=x"');
    expect(a.body).toContain("<code>req-1</code>");
    expect(a.body).not.toMatch(/<script|src=/i);
  });

  it("escapes what it puts in", () => {
    const a = answerOf(
      { ...base, message: "<img src=x onerror=alert(1)>", page: { signIn: 'https://a.example/"><script>' } },
      "<b>",
    );
    expect(a.body).not.toContain("<img");
    expect(a.body).not.toContain("<script>");
    expect(a.body).not.toContain("<b>");
    expect(a.body).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  it("tells a second-factor refusal to sign in with it, an organization refusal to switch", () => {
    expect(answerOf({ ...base, error: "aal2_required", message: "m", page: {} }, "r").body).toContain(
      "Sign in again with your authenticator app",
    );
    expect(answerOf({ ...base, message: "this route belongs to another organization", page: {} }, "r").body).toContain(
      "Switch to that organization",
    );
  });

  it("stays the JSON error for a caller that is not a page load", () => {
    const a = answerOf(base, "req-2");
    expect(a.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(JSON.parse(a.body ?? "")).toEqual({ error: "forbidden", message: base.message, request_id: "req-2" });
  });
});
