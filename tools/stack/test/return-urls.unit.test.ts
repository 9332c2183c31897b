// GATEHOUSE_RETURN_URLS: an app of your own (the guard README's Express example on
// http://localhost:3000) is a place a sign-in may return to, for Kratos and the gateway alike.
import { describe, expect, it } from "vitest";
import { ConfigError, stackConfig } from "../config.ts";
import { extraReturnUrls, gatewayEnv, kratosEnv } from "../services.ts";

describe("GATEHOUSE_RETURN_URLS", () => {
  const cfg = stackConfig("dev", { env: {}, domain: "gatehouse.localhost" });

  it("adds the origins to Kratos' allowed return URLs and their hosts to the gateway's", () => {
    const before = process.env.GATEHOUSE_RETURN_URLS;
    process.env.GATEHOUSE_RETURN_URLS = "http://localhost:3000, https://mine.gatehouse.localhost:8443";
    try {
      const kratos = kratosEnv(cfg, "smtp://127.0.0.1:1", "postgres://x").SELFSERVICE_ALLOWED_RETURN_URLS?.split(",");
      expect(kratos).toContain("http://app.gatehouse.localhost:7401");
      expect(kratos).toContain("http://localhost:3000");
      expect(kratos).toContain("https://mine.gatehouse.localhost:8443");
      const hosts = gatewayEnv(cfg, { GATEHOUSE_RETURN_URLS: "http://localhost:3000" }).ALLOWED_RETURN_HOSTS;
      expect(hosts?.split(",")).toContain("localhost");
    } finally {
      if (before === undefined) delete process.env.GATEHOUSE_RETURN_URLS;
      else process.env.GATEHOUSE_RETURN_URLS = before;
    }
  });

  it("is empty by default and refuses anything but http(s) origins, naming the variable", () => {
    expect(extraReturnUrls({})).toEqual([]);
    for (const bad of ["localhost:3000", "http://localhost:3000/app", "javascript:alert(1)", "ftp://x"]) {
      expect(() => extraReturnUrls({ GATEHOUSE_RETURN_URLS: bad }), bad).toThrow(ConfigError);
      expect(() => extraReturnUrls({ GATEHOUSE_RETURN_URLS: bad }), bad).toThrow(/GATEHOUSE_RETURN_URLS/);
    }
  });
});
