import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createRemoteJwks,
  generateSigningKey,
  type JWK,
  type RemoteJwksOptions,
  type SigningKey,
  toJwksDocument,
} from "../src/index.ts";
import { codeOf, craft, keyFor, tokenFor, verifierFor } from "./helpers.ts";

/** A JWKS endpoint on 127.0.0.1 that counts requests and can be told to misbehave. */
interface FakeJwksServer {
  url: string;
  requests: number;
  keys: JWK[];
  mode: "ok" | "error" | "redirect" | "hang";
  close(): Promise<void>;
}

async function startJwksServer(keys: JWK[]): Promise<FakeJwksServer> {
  const hanging = new Set<() => void>();
  const state: FakeJwksServer = {
    url: "",
    requests: 0,
    keys,
    mode: "ok",
    async close() {
      for (const release of hanging) release();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
  const server: Server = createServer((req, res) => {
    state.requests++;
    switch (state.mode) {
      case "ok":
        res.writeHead(200, { "content-type": "application/jwk-set+json" });
        res.end(JSON.stringify(toJwksDocument(state.keys)));
        return;
      case "error":
        res.writeHead(503).end("down");
        return;
      case "redirect":
        res.writeHead(302, { location: "https://evil.example/jwks.json" }).end();
        return;
      case "hang": {
        const release = () => res.destroy();
        hanging.add(release);
        req.on("close", () => hanging.delete(release));
        return;
      }
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return state;
}

const COOLDOWN = 30_000;
const MAX_AGE = 600_000;

describe("remote JWKS", () => {
  let server: FakeJwksServer;
  let rsa: SigningKey;
  let ec: SigningKey;
  let clock: number;

  beforeEach(async () => {
    rsa = await keyFor("RS256");
    ec = await keyFor("ES256");
    server = await startJwksServer([rsa.publicJwk]);
    clock = 1_000_000;
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await server.close();
  });

  function remote(options: RemoteJwksOptions = {}) {
    return createRemoteJwks(server.url, {
      cooldownMs: COOLDOWN,
      cacheMaxAgeMs: MAX_AGE,
      now: () => clock,
      ...options,
    });
  }

  it("fetches once and reuses the imported key for every later verify", async () => {
    const tokens = await Promise.all(Array.from({ length: 10 }, () => tokenFor("RS256")));
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    const verifier = verifierFor(remote());
    for (const token of tokens) await verifier.verify(token);
    expect(server.requests).toBe(1);
    expect(importKey.mock.calls.filter(([format]) => (format as string) === "jwk")).toHaveLength(1);
  });

  it("cold start: a burst of concurrent verifies shares one fetch", async () => {
    const verifier = verifierFor(remote());
    const token = await tokenFor("RS256");
    await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    expect(server.requests).toBe(1);
  });

  it("refetches once for a newly published kid, but not within the cooldown", async () => {
    const verifier = verifierFor(remote());
    await verifier.verify(await tokenFor("RS256"));
    expect(server.requests).toBe(1);

    server.keys = [rsa.publicJwk, ec.publicJwk]; // rotation: the next key is published
    const next = await tokenFor("ES256");

    clock += COOLDOWN - 1;
    expect(await codeOf(verifier.verify(next))).toBe("token_key_unknown");
    expect(server.requests).toBe(1);

    clock += 1;
    await expect(verifier.verify(next)).resolves.toBeDefined();
    expect(server.requests).toBe(2);
    await verifier.verify(next);
    await verifier.verify(await tokenFor("RS256"));
    expect(server.requests).toBe(2);
  });

  it("50 verifies with random unknown kids cause at most one fetch per cooldown", async () => {
    const verifier = verifierFor(remote());
    await verifier.verify(await tokenFor("RS256"));
    clock += COOLDOWN; // the cooldown has passed: one refetch is allowed now
    const before = server.requests;

    const spray = async () =>
      Promise.all(
        Array.from({ length: 50 }, async () => {
          const kid = crypto.randomUUID();
          return codeOf(verifier.verify(await craft({ ...rsa, kid }, {})));
        }),
      );
    expect(new Set(await spray())).toEqual(new Set(["token_key_unknown"]));
    expect(server.requests - before).toBe(1);

    clock += COOLDOWN - 1;
    await spray();
    expect(server.requests - before).toBe(1);

    // Known kids keep verifying all along.
    await expect(verifier.verify(await tokenFor("RS256"))).resolves.toBeDefined();
  });

  it("keeps verifying known kids when the endpoint goes down, and does not hammer it", async () => {
    const verifier = verifierFor(remote());
    const token = await tokenFor("RS256");
    await verifier.verify(token);

    server.mode = "error";
    clock += MAX_AGE + 1; // cache is stale: a refetch is attempted, and fails
    await expect(verifier.verify(token)).resolves.toBeDefined();
    expect(server.requests).toBe(2);

    for (let i = 0; i < 20; i++) {
      await expect(verifier.verify(token)).resolves.toBeDefined();
      expect(await codeOf(verifier.verify(await craft({ ...rsa, kid: `spray-${i}` }, {})))).toBe("token_key_unknown");
    }
    expect(server.requests).toBe(2);

    server.mode = "ok";
    clock += COOLDOWN;
    await verifier.verify(token);
    expect(server.requests).toBe(3);
  });

  it("keeps verifying known kids when the endpoint is gone altogether", async () => {
    const verifier = verifierFor(remote());
    const token = await tokenFor("RS256");
    await verifier.verify(token);
    await server.close();
    server.close = async () => {};
    clock += MAX_AGE + 1;
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });

  it("with no key ever fetched, fails with jwks_unavailable (an outage, not a bad token)", async () => {
    server.mode = "error";
    const verifier = verifierFor(remote());
    expect(await codeOf(verifier.verify(await tokenFor("RS256")))).toBe("jwks_unavailable");
  });

  it("does not follow redirects", async () => {
    server.mode = "redirect";
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    expect(await codeOf(verifierFor(remote()).verify(await tokenFor("RS256")))).toBe("jwks_unavailable");
    expect(fetchSpy.mock.calls.map(([url]) => String(url))).toEqual([server.url]);
  });

  it("gives up on a hanging endpoint after timeoutMs", async () => {
    server.mode = "hang";
    const started = performance.now();
    expect(await codeOf(verifierFor(remote({ timeoutMs: 200 })).verify(await tokenFor("RS256")))).toBe(
      "jwks_unavailable",
    );
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("does not hang on a fetch that never settles, nor retry it on every request", async () => {
    let calls = 0;
    const jwks = createRemoteJwks("https://auth.example/.well-known/jwks.json", {
      now: () => clock,
      timeoutMs: 100,
      // Ignores its abort signal, as a request cancelled by an edge runtime would.
      fetch: () => {
        calls++;
        return new Promise<Response>(() => {});
      },
    });
    const verifier = verifierFor(jwks);
    const token = await tokenFor("RS256");
    const started = performance.now();
    expect(await codeOf(verifier.verify(token))).toBe("jwks_unavailable");
    expect(await codeOf(verifier.verify(token))).toBe("jwks_unavailable");
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(calls).toBe(1);
  });

  it("refresh() fetches now, ignoring the cooldown, and reports failure", async () => {
    const jwks = remote();
    await jwks.refresh();
    await jwks.refresh();
    expect(server.requests).toBe(2);
    expect(jwks.kids()).toEqual([rsa.kid]);
    server.mode = "error";
    expect(await codeOf(jwks.refresh())).toBe("jwks_unavailable");
    expect(jwks.kids()).toEqual([rsa.kid]);
  });

  it("skips unusable entries in the set and uses the rest", async () => {
    const other = await generateSigningKey("EdDSA");
    const { kid: _kid, ...noKid } = other.publicJwk;
    // toJwksDocument would refuse this set, which is the point: serve it raw.
    const raw = [noKid, { kty: "oct", k: "c2VjcmV0", kid: "hmac" }, { ...ec.publicJwk, use: "enc" }, rsa.publicJwk];
    const jwks = createRemoteJwks(server.url, {
      now: () => clock,
      fetch: async () => new Response(JSON.stringify({ keys: raw }), { status: 200 }),
    });
    const verifier = verifierFor(jwks);
    await expect(verifier.verify(await tokenFor("RS256"))).resolves.toBeDefined();
    expect(jwks.kids()).toEqual([rsa.kid]);
    expect(await codeOf(verifier.verify(await tokenFor("ES256")))).toBe("token_key_unknown");
  });

  it("uses the injected fetch", async () => {
    const doc = JSON.stringify(toJwksDocument([ec.publicJwk]));
    const fetch = vi.fn(async () => new Response(doc, { status: 200 }));
    const verifier = verifierFor(createRemoteJwks("https://auth.example/.well-known/jwks.json", { fetch }));
    await expect(verifier.verify(await tokenFor("ES256"))).resolves.toBeDefined();
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(server.requests).toBe(0);
  });
});
