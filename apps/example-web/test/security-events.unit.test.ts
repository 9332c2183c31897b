// The security history's sentences (lib/security-events.ts): every type the
// auth-service puts in a person's history has one, and the details read right.
import { describe, expect, it } from "vitest";
import { SECURITY_ACTIONS } from "../../auth-service/src/domain/audit.ts";
import type { AuditEntry } from "../lib/api.ts";
import { ago, describeEvent, eventDetail } from "../lib/security-events.ts";

const entry = (action: string, after: Record<string, unknown> | null = null, actor = "kratos-webhook"): AuditEntry => ({
  id: "1",
  at: "2026-01-01T00:00:00.000Z",
  actor,
  action,
  targetType: "user",
  targetId: null,
  organizationId: null,
  before: null,
  after,
  requestId: null,
});

describe("security history sentences", () => {
  it("has words for every type in GET /v1/me/security-events", () => {
    for (const action of SECURITY_ACTIONS) expect(describeEvent(entry(action, {}))).not.toBe(action);
  });

  it("names the sign-in methods and the second factor", () => {
    expect(describeEvent(entry("user.authenticated", { aal: "aal2", methods: ["password", "totp"] }))).toBe(
      "Signed in with password and TOTP",
    );
    expect(describeEvent(entry("user.authenticated", { methods: ["code"] }))).toBe("Signed in with an emailed code");
    expect(describeEvent(entry("user.mfa_enabled", { method: "totp" }))).toBe("Second factor added: TOTP");
    expect(describeEvent(entry("user.mfa_disabled", { method: "lookup_secret" }))).toBe(
      "Second factor removed: backup codes",
    );
    expect(describeEvent(entry("api_key.created", { name: "ci", prefix: "sk_ab" }))).toBe("API key created: ci");
    expect(describeEvent(entry("identity.other_sessions_revoked", { reason: "recovered" }))).toMatch(/recovery/);
    expect(describeEvent(entry("something.new"))).toBe("something.new");
  });

  it("says who acted when it was not the person, and until when a lock holds", () => {
    const exact = (iso: string) => `<${iso}>`;
    expect(eventDetail(entry("session.revoked", null, "operator"), exact)).toBe("by an administrator");
    expect(
      eventDetail(entry("user.account_locked", { locked_until: "2026-01-01T00:15:00.000Z" }, "system"), exact),
    ).toBe("until <2026-01-01T00:15:00.000Z>");
    expect(eventDetail(entry("user.authenticated"), exact)).toBeUndefined();
  });

  it("puts the time in the largest whole unit", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(ago("2026-01-01T11:59:40Z", now)).toBe("just now");
    expect(ago("2026-01-01T11:55:00Z", now)).toBe("5 minutes ago");
    expect(ago("2025-12-31T11:00:00Z", now)).toBe("yesterday");
  });
});
