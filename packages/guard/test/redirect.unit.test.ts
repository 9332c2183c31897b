// Open-redirect defence for return_to, on its own and through the guard's login
// redirect. Every refused candidate must fall back to a safe default.
import { describe, expect, it } from "vitest";
import { createGuard, parseAllowedHosts, safeReturnTo } from "../src/index.ts";
import { BROWSER_NAV, req } from "./support.ts";

const ALLOWED = ["app.example", ".example.com", "docs.example.org/guide"];
const BASE = "https://app.example/current";

describe("safeReturnTo", () => {
  it("accepts allowlisted absolute URLs and same-origin paths", () => {
    expect(safeReturnTo("https://app.example/dashboard?tab=1#x", ALLOWED)).toBe(
      "https://app.example/dashboard?tab=1#x",
    );
    expect(safeReturnTo("http://app.example:8080/", ALLOWED)).toBe("http://app.example:8080/");
    expect(safeReturnTo("https://eu.example.com/settings", ALLOWED)).toBe("https://eu.example.com/settings");
    expect(safeReturnTo("/settings/profile", ALLOWED, BASE)).toBe("https://app.example/settings/profile");
    expect(safeReturnTo("https://docs.example.org/guide", ALLOWED)).toBe("https://docs.example.org/guide");
    expect(safeReturnTo("https://docs.example.org/guide/intro", ALLOWED)).toBe("https://docs.example.org/guide/intro");
    // An encoded value inside the query stays on the allowed host.
    expect(safeReturnTo("https://app.example/r?next=https%3A%2F%2Fapp.example%2Fx", ALLOWED)).toBeDefined();
  });

  const attacks: Record<string, string> = {
    "protocol-relative": "//evil.example",
    "protocol-relative with path": "//evil.example/app.example",
    "scheme without slashes": "https:evil.example",
    "scheme with one slash": "https:/evil.example",
    backslashes: "\\\\evil.example",
    "slash-backslash": "/\\evil.example",
    "backslash inside an absolute URL": "https://app.example\\@evil.example",
    userinfo: "https://app.example@evil.example",
    "userinfo with password": "https://app.example:pw@evil.example",
    "allowed host as a prefix": "https://app.example.evil.example",
    "allowed host as a suffix of a longer name": "https://evilapp.example",
    "apex of a subdomain-only entry": "https://example.com",
    "suffix without dot": "https://evilexample.com",
    "other host": "https://evil.example/",
    "percent-encoded slashes": "/%2F%2Fevil.example",
    "double-encoded slashes": "/%252F%252Fevil.example",
    "percent-encoded backslash": "/%5Cevil.example",
    "percent-encoded dot in host": "https://app.example%2eevil.example",
    "percent-encoded at in host": "https://app.example%40evil.example",
    "tab-injected": "/\t/evil.example",
    "newline-injected": "/\n/evil.example",
    "CR-injected scheme": "https:\r//evil.example",
    "encoded tab": "/%09/evil.example",
    "encoded newline": "/%0a/evil.example",
    "leading space": " https://evil.example",
    "leading space on allowed host": " //evil.example",
    javascript: "javascript:alert(1)",
    "javascript upper case": "JAVASCRIPT:alert(1)",
    "javascript with tab": "java\tscript:alert(1)",
    "javascript after slash": "/javascript:alert(1)//%0a",
    data: "data:text/html,<script>alert(1)</script>",
    "data base64": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    vbscript: "vbscript:msgbox",
    file: "file:///etc/passwd",
    ftp: "ftp://app.example/",
    "path outside the allowed prefix": "https://docs.example.org/guidebook",
    "dot segments out of the prefix": "https://docs.example.org/guide/../admin",
    "encoded dot segments out of the prefix": "https://docs.example.org/guide/%2e%2e/admin",
    "encoded slash at the prefix boundary": "https://docs.example.org/guide%2F..%2Fadmin",
    "non-ASCII look-alike": "https://app.examp\u0142e/",
    "malformed escape": "/%E0%A4%A",
    empty: "",
    "relative without base": "dashboard",
    "too long": `https://app.example/${"a".repeat(3000)}`,
  };

  for (const [name, candidate] of Object.entries(attacks)) {
    it(`refuses ${name}`, () => {
      expect(safeReturnTo(candidate, ALLOWED, BASE)).toBeUndefined();
    });
  }

  it("refuses non-strings", () => {
    expect(safeReturnTo(undefined, ALLOWED, BASE)).toBeUndefined();
    expect(safeReturnTo({ toString: () => "https://app.example" }, ALLOWED, BASE)).toBeUndefined();
  });

  it("rejects bad allowlist entries at configuration time", () => {
    for (const bad of ["*.example.com", "https://user@app.example", "app.example?x=1", "", "app example"]) {
      expect(() => parseAllowedHosts([bad]), bad).toThrow(TypeError);
    }
    expect(parseAllowedHosts(["https://app.example:8443/app/"])).toEqual([
      { scheme: "https:", host: "app.example", subdomains: false, port: "8443", path: "/app" },
    ]);
  });

  it("honours a fixed scheme and port", () => {
    const strict = ["https://app.example:8443"];
    expect(safeReturnTo("https://app.example:8443/x", strict)).toBe("https://app.example:8443/x");
    expect(safeReturnTo("http://app.example:8443/x", strict)).toBeUndefined();
    expect(safeReturnTo("https://app.example/x", strict)).toBeUndefined();
  });
});

describe("login redirect with return_to (through the guard)", () => {
  const guard = createGuard({
    authServiceUrl: "http://127.0.0.1:9", // never called: these requests carry no credential
    audience: "gatehouse",
    login: {
      url: "https://auth.example/self-service/login/browser",
      allowedReturnHosts: ["app.example"],
      defaultReturnTo: "https://app.example/",
    },
  });

  it("sends the requested page as return_to", async () => {
    const d = await guard.check(req("https://app.example/reports?id=7", BROWSER_NAV));
    expect(d).toEqual({
      kind: "redirect",
      status: 303,
      location: `https://auth.example/self-service/login/browser?return_to=${encodeURIComponent("https://app.example/reports?id=7")}`,
    });
  });

  it("falls back to the safe default when the request's own URL is not allowed (spoofed Host)", async () => {
    for (const url of [
      "https://evil.example/x",
      "https://app.example.evil.example/",
      "http://app.example@evil.example/",
    ]) {
      const d = await guard.check(req(url, BROWSER_NAV));
      expect(d.kind, url).toBe("redirect");
      const location = new URL((d as { location: string }).location);
      expect(location.origin + location.pathname).toBe("https://auth.example/self-service/login/browser");
      expect(location.searchParams.get("return_to"), url).toBe("https://app.example/");
    }
  });

  it("refuses an unsafe defaultReturnTo at construction, naming the option", () => {
    expect(() =>
      createGuard({
        authServiceUrl: "http://127.0.0.1:9",
        audience: "gatehouse",
        login: {
          url: "https://auth.example/login",
          allowedReturnHosts: ["app.example"],
          defaultReturnTo: "//evil.example",
        },
      }),
    ).toThrow(/login\.defaultReturnTo/);
  });
});
