import { decodeProtectedHeader, exportJWK, exportSPKI, importJWK, jwtVerify, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createLocalJwks,
  createSigner,
  generateSigningKey,
  type JwksSource,
  SIGNING_ALGS,
  type SigningAlg,
  TokenError,
} from "../src/index.ts";
import { createNodeSigner } from "../src/node.ts";
import {
  AUDIENCE,
  b64urlJson,
  claimsAt,
  codeOf,
  craft,
  ISSUER,
  keyFor,
  NOW,
  tokenFor,
  verifierFor,
} from "./helpers.ts";

async function verifierForAlg(alg: SigningAlg, options: Parameters<typeof verifierFor>[1] = {}) {
  return verifierFor([(await keyFor(alg)).publicJwk], options);
}

describe("sign → verify", () => {
  it.each(SIGNING_ALGS)("%s: round trip returns the signed claims", async (alg) => {
    const claims = claimsAt();
    const token = await tokenFor(alg, claims);
    const verified = await (await verifierForAlg(alg)).verify(token);
    expect(verified).toEqual(claims);
    expect(verified.role).toBe("admin");
    expect(verified.teams).toEqual([{ id: "team_core", role: "lead" }]);
  });

  it.each(SIGNING_ALGS)("%s: header is {alg, kid, typ: at+jwt} and nothing else", async (alg) => {
    const key = await keyFor(alg);
    expect(decodeProtectedHeader(await tokenFor(alg))).toEqual({ alg, kid: key.kid, typ: "at+jwt" });
  });

  it("verifies against a set holding several keys of different algorithms", async () => {
    const keys = await Promise.all(SIGNING_ALGS.map((alg) => keyFor(alg)));
    const verifier = verifierFor(keys.map((k) => k.publicJwk));
    for (const alg of SIGNING_ALGS) await expect(verifier.verify(await tokenFor(alg))).resolves.toBeDefined();
  });

  it("returns frozen claims, so one request cannot alter what another sees", async () => {
    const verified = await (await verifierForAlg("ES256")).verify(await tokenFor("ES256"));
    expect(Object.isFrozen(verified)).toBe(true);
    expect(Object.isFrozen(verified.perms)).toBe(true);
    expect(Object.isFrozen(verified.teams[0])).toBe(true);
  });

  it("accepts a token whose aud list contains one of the accepted audiences", async () => {
    const token = await tokenFor("ES256", claimsAt(NOW, 300, { aud: ["other", AUDIENCE] }));
    await expect((await verifierForAlg("ES256")).verify(token)).resolves.toMatchObject({ aud: ["other", AUDIENCE] });
  });
});

describe.each([
  ["createSigner (Web Crypto)", createSigner],
  ["createNodeSigner (node:crypto)", createNodeSigner],
])("%s", (_name, create) => {
  it.each(SIGNING_ALGS)("%s: tokens verify here and with jose against the public JWK", async (alg) => {
    const key = await keyFor(alg);
    const claims = claimsAt();
    const token = await (await create(key)).sign(claims);
    expect(decodeProtectedHeader(token)).toEqual({ alg, kid: key.kid, typ: "at+jwt" });
    expect(await verifierFor([key.publicJwk]).verify(token)).toEqual(claims);
    const { payload } = await jwtVerify(token, await importJWK(key.publicJwk, alg), {
      typ: "at+jwt",
      currentDate: new Date(NOW * 1000),
    });
    expect(payload).toEqual(claims);
    // Another key of the same algorithm does not verify it.
    const other = await generateSigningKey(alg);
    await expect(verifierFor([{ ...other.publicJwk, kid: key.kid }]).verify(token)).rejects.toMatchObject({
      code: "token_signature_invalid",
    });
  });

  it("refuses claims a verifier would reject", async () => {
    const signer = await create(await keyFor("ES256"));
    await expect(signer.sign({ ...claimsAt(), perms: "all" as unknown as string[] })).rejects.toMatchObject({
      code: "token_claims_invalid",
      claim: "perms",
    });
    const rs = await create(await keyFor("RS256"));
    await expect(rs.sign({ ...claimsAt(), sub: "" })).rejects.toMatchObject({ code: "token_claims_invalid" });
  });

  it("refuses a public key, or a key of the wrong type for its alg", async () => {
    const es = await keyFor("ES256");
    const rs = await keyFor("RS256");
    expect(await codeOf(create({ ...es, privateJwk: es.publicJwk }))).toBe("key_invalid");
    expect(await codeOf(create({ kid: rs.kid, alg: "ES256", privateJwk: rs.privateJwk }))).toBe("key_invalid");
    expect(await codeOf(create({ ...es, kid: "someone-else" }))).toBe("key_invalid");
    expect(await codeOf(create({ ...es, privateJwk: { ...es.privateJwk, d: "AAAA" } }))).toBe("key_invalid");
  });
});

describe("tampering", () => {
  it.each(SIGNING_ALGS)("%s: a changed payload fails with token_signature_invalid", async (alg) => {
    const [header, , signature] = (await tokenFor(alg)).split(".");
    const forged = `${header}.${b64urlJson({ ...claimsAt(), role: "owner" })}.${signature}`;
    expect(await codeOf((await verifierForAlg(alg)).verify(forged))).toBe("token_signature_invalid");
  });

  it.each(SIGNING_ALGS)("%s: a changed signature fails with token_signature_invalid", async (alg) => {
    const [header, payload, signature = ""] = (await tokenFor(alg)).split(".");
    const bytes = Buffer.from(signature, "base64url");
    bytes[0] = (bytes[0] ?? 0) ^ 0x01;
    const forged = `${header}.${payload}.${bytes.toString("base64url")}`;
    expect(await codeOf((await verifierForAlg(alg)).verify(forged))).toBe("token_signature_invalid");
  });

  it("a token signed by another key under our kid fails with token_signature_invalid", async () => {
    const ours = await keyFor("ES256");
    const theirs = await generateSigningKey("ES256");
    const forged = await craft({ ...theirs, kid: ours.kid }, {});
    expect(await codeOf((await verifierForAlg("ES256")).verify(forged))).toBe("token_signature_invalid");
  });

  it("never rejects with anything but a TokenError, whatever the bytes", async () => {
    const token = await tokenFor("EdDSA");
    const verifier = await verifierForAlg("EdDSA");
    const alphabet = "ABCxyz019-_.=+/ ";
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 200; i++) {
      const chars = [...token];
      for (let j = 0; j < 1 + random(4); j++) chars[random(chars.length)] = alphabet[random(alphabet.length)] ?? "A";
      const mutated = chars.join("");
      if (mutated === token) continue;
      await expect(verifier.verify(mutated)).rejects.toBeInstanceOf(TokenError);
    }
  });

  it.each([
    ["empty", ""],
    ["one segment", "abc"],
    ["two segments", "a.b"],
    ["four segments", "a.b.c.d"],
    ["garbage header", "!!!.e30.sig"],
    ["oversized", `${"a".repeat(20_000)}.b.c`],
  ])("a malformed token (%s) fails with token_malformed", async (_label, token) => {
    expect(await codeOf((await verifierForAlg("ES256")).verify(token))).toBe("token_malformed");
  });

  it("a validly signed token with invalid claims fails with token_claims_invalid", async () => {
    const key = await keyFor("ES256");
    const verifier = await verifierForAlg("ES256");
    await expect(verifier.verify(await craft(key, {}, { ...claimsAt(), ver: 2 }))).rejects.toMatchObject({
      code: "token_claims_invalid",
      claim: "ver",
    });
    await expect(verifier.verify(await craft(key, {}, [1, 2, 3]))).rejects.toBeInstanceOf(TokenError);
  });
});

describe("time", () => {
  // Token: iat = nbf = NOW, exp = NOW + 300.
  const at = async (now: number, clockToleranceSec?: number) =>
    (
      await verifierForAlg("ES256", {
        now: () => now,
        ...(clockToleranceSec === undefined ? {} : { clockToleranceSec }),
      })
    ).verify(await tokenFor("ES256"));

  it("accepts up to the last second of leeway after exp, and not one more", async () => {
    await expect(at(NOW + 329)).resolves.toBeDefined();
    expect(await codeOf(at(NOW + 330))).toBe("token_expired");
  });

  it("with no leeway, a token expires exactly at exp", async () => {
    await expect(at(NOW + 299, 0)).resolves.toBeDefined();
    expect(await codeOf(at(NOW + 300, 0))).toBe("token_expired");
  });

  it("accepts a token from a clock up to the leeway ahead of ours, and rejects one further ahead", async () => {
    await expect(at(NOW - 30)).resolves.toBeDefined();
    expect(await codeOf(at(NOW - 31))).toBe("token_not_yet_valid");
    expect(await codeOf(at(NOW - 1, 0))).toBe("token_not_yet_valid");
  });
});

describe("issuer and audience", () => {
  it("a token from another issuer fails with token_issuer_invalid", async () => {
    const token = await tokenFor("ES256", claimsAt(NOW, 300, { iss: "https://evil.example" }));
    expect(await codeOf((await verifierForAlg("ES256")).verify(token))).toBe("token_issuer_invalid");
  });

  it("a token for another audience fails with token_audience_invalid", async () => {
    const verifier = await verifierForAlg("ES256");
    for (const aud of ["billing.gatehouse.test", ["a", "b"]]) {
      const token = await tokenFor("ES256", claimsAt(NOW, 300, { aud }));
      expect(await codeOf(verifier.verify(token))).toBe("token_audience_invalid");
    }
  });

  it("a verifier may accept several audiences", async () => {
    const token = await tokenFor("ES256", claimsAt(NOW, 300, { aud: "admin.gatehouse.test" }));
    const verifier = await verifierForAlg("ES256", { audience: [AUDIENCE, "admin.gatehouse.test"] });
    await expect(verifier.verify(token)).resolves.toMatchObject({ iss: ISSUER });
  });
});

describe("algorithms", () => {
  it.each(["none", "None", "NONE"])("an unsigned token (alg %s) fails with token_alg_not_allowed", async (alg) => {
    const key = await keyFor("RS256");
    const token = `${b64urlJson({ alg, kid: key.kid, typ: "at+jwt" })}.${b64urlJson(claimsAt())}.`;
    expect(await codeOf((await verifierForAlg("RS256")).verify(token))).toBe("token_alg_not_allowed");
  });

  it("HS256 signed with the RSA public key (PEM or JWK bytes) as secret fails: no alg confusion", async () => {
    const key = await keyFor("RS256");
    const publicKey = await importJWK(key.publicJwk, "RS256", { extractable: true });
    if (publicKey instanceof Uint8Array) throw new Error("unexpected");
    const secrets = [
      await exportSPKI(publicKey),
      JSON.stringify(key.publicJwk),
      JSON.stringify(await exportJWK(publicKey)),
    ];
    const verifier = await verifierForAlg("RS256");
    for (const secret of secrets) {
      const token = await new SignJWT({ ...claimsAt(), aud: AUDIENCE })
        .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "at+jwt" })
        .sign(new TextEncoder().encode(secret));
      expect(await codeOf(verifier.verify(token))).toBe("token_alg_not_allowed");
    }
  });

  it("an algorithm outside the verifier's allowlist fails, even with a good signature", async () => {
    const keys = await Promise.all(SIGNING_ALGS.map((alg) => keyFor(alg)));
    const verifier = verifierFor(
      keys.map((k) => k.publicJwk),
      { algorithms: ["EdDSA"] },
    );
    expect(await codeOf(verifier.verify(await tokenFor("RS256")))).toBe("token_alg_not_allowed");
    await expect(verifier.verify(await tokenFor("EdDSA"))).resolves.toBeDefined();
  });

  it("a token whose alg does not fit the key named by its kid fails with token_alg_not_allowed", async () => {
    const rsa = await keyFor("RS256");
    const ec = await keyFor("ES256");
    const verifier = verifierFor([rsa.publicJwk, ec.publicJwk]);
    const forged = await craft({ ...ec, kid: rsa.kid }, {});
    expect(await codeOf(verifier.verify(forged))).toBe("token_alg_not_allowed");
  });
});

describe("header", () => {
  it("the crafting helper itself makes tokens that verify (so the rejections below are about the header)", async () => {
    await expect((await verifierForAlg("ES256")).verify(await craft(await keyFor("ES256"), {}))).resolves.toBeDefined();
  });

  it.each([
    ["jku", { jku: "https://evil.example/jwks.json" }],
    ["x5u", { x5u: "https://evil.example/cert.pem" }],
    ["x5c", { x5c: ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"] }],
    ["crit", { crit: ["gh"], gh: true }],
  ])("a validly signed token carrying %s fails with token_header_forbidden", async (_name, extra) => {
    const key = await keyFor("ES256");
    expect(await codeOf((await verifierForAlg("ES256")).verify(await craft(key, extra)))).toBe(
      "token_header_forbidden",
    );
  });

  it("a token embedding its own jwk is rejected even when that jwk is the real key", async () => {
    const key = await keyFor("EdDSA");
    const token = await craft(key, { jwk: key.publicJwk });
    expect(await codeOf((await verifierForAlg("EdDSA")).verify(token))).toBe("token_header_forbidden");
  });

  it.each([
    ["missing", undefined],
    ["JWT", "JWT"],
    ["application/jwt", "application/jwt"],
    ["at+jwt-ish", "at+jwt2"],
  ])("a token with typ %s fails with token_type_invalid", async (_label, typ) => {
    // An undefined member is dropped by JSON.stringify: the header has no typ at all.
    const token = await craft(await keyFor("ES256"), { typ });
    expect(await codeOf((await verifierForAlg("ES256")).verify(token))).toBe("token_type_invalid");
  });

  it.each(["AT+JWT", "application/at+jwt", "Application/AT+JWT"])("typ %s is accepted", async (typ) => {
    const token = await craft(await keyFor("ES256"), { typ });
    await expect((await verifierForAlg("ES256")).verify(token)).resolves.toBeDefined();
  });

  it("a token without kid, or with a kid we do not have, fails with token_key_unknown", async () => {
    const key = await keyFor("ES256");
    const verifier = await verifierForAlg("ES256");
    expect(await codeOf(verifier.verify(await craft(key, { kid: undefined })))).toBe("token_key_unknown");
    expect(await codeOf(verifier.verify(await craft(key, { kid: "nope" })))).toBe("token_key_unknown");
  });
});

describe("verified-token cache", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  function countingSource(inner: JwksSource): JwksSource & { calls: number } {
    const source = {
      calls: 0,
      getKey(kid: string, alg: SigningAlg) {
        source.calls++;
        return inner.getKey(kid, alg);
      },
      refresh: () => inner.refresh(),
    };
    return source;
  }

  it("returns the same claims for a repeated token without checking the signature again", async () => {
    const key = await keyFor("RS256");
    const source = countingSource(createLocalJwks([key.publicJwk]));
    const verify = vi.spyOn(crypto.subtle, "verify");
    const verifier = verifierFor(source, { cacheSize: 10 });
    const token = await tokenFor("RS256");

    const first = await verifier.verify(token);
    const subtleCallsAfterFirst = verify.mock.calls.length;
    expect(subtleCallsAfterFirst).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(await verifier.verify(token)).toBe(first);
    expect(verify.mock.calls.length).toBe(subtleCallsAfterFirst);
    expect(source.calls).toBe(1);
  });

  it("is off by default: every verify checks the signature", async () => {
    const source = countingSource(createLocalJwks([(await keyFor("ES256")).publicJwk]));
    const verifier = verifierFor(source);
    const token = await tokenFor("ES256");
    await verifier.verify(token);
    await verifier.verify(token);
    expect(source.calls).toBe(2);
  });

  it("never serves a token past its exp", async () => {
    let now = NOW;
    const verifier = verifierFor([(await keyFor("ES256")).publicJwk], {
      cacheSize: 10,
      clockToleranceSec: 0,
      now: () => now,
    });
    const token = await tokenFor("ES256", claimsAt(NOW, 20)); // exp = NOW + 20
    await verifier.verify(token);
    now = NOW + 19;
    await expect(verifier.verify(token)).resolves.toBeDefined();
    now = NOW + 20;
    expect(await codeOf(verifier.verify(token))).toBe("token_expired");
  });

  it("re-verifies after 60 s even for a long-lived token, and after leaving the LRU", async () => {
    let now = NOW;
    const source = countingSource(createLocalJwks([(await keyFor("ES256")).publicJwk]));
    const verifier = verifierFor(source, { cacheSize: 1, now: () => now });
    const a = await tokenFor("ES256", claimsAt(NOW, 3600));
    const b = await tokenFor("ES256", claimsAt(NOW, 3600));
    await verifier.verify(a);
    now = NOW + 59;
    await verifier.verify(a);
    expect(source.calls).toBe(1);
    now = NOW + 60;
    await verifier.verify(a);
    expect(source.calls).toBe(2);
    await verifier.verify(b); // evicts a
    await verifier.verify(a);
    expect(source.calls).toBe(4);
  });

  it("a token that shares a cached token's signature but not its payload is verified in full, and refused", async () => {
    const verifier = verifierFor([(await keyFor("RS256")).publicJwk], { cacheSize: 10 });
    const token = await tokenFor("RS256");
    const claims = await verifier.verify(token);
    expect(verifier.peek(token)).toBe(claims);
    const [h, p, sig] = token.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, role: "owner", sub: "someone-else" })).toString("base64url")}.${sig}`;
    expect(verifier.peek(forged)).toBeUndefined();
    expect(await codeOf(verifier.verify(forged))).toBe("token_signature_invalid");
    // The genuine token is still served from the cache.
    expect(verifier.peek(token)).toBe(claims);
  });

  it("does not cache failures", async () => {
    const source = countingSource(createLocalJwks([(await keyFor("ES256")).publicJwk]));
    const verifier = verifierFor(source, { cacheSize: 10 });
    const token = await tokenFor("ES256", claimsAt(NOW, 300, { aud: "elsewhere" }));
    expect(await codeOf(verifier.verify(token))).toBe("token_audience_invalid");
    expect(await codeOf(verifier.verify(token))).toBe("token_audience_invalid");
    expect(source.calls).toBe(2);
  });
});
