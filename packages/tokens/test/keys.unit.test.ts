import { calculateJwkThumbprint } from "jose";
import { describe, expect, it } from "vitest";
import {
  decryptPrivateKey,
  encryptPrivateKey,
  generateSigningKey,
  JWKS_CACHE_CONTROL,
  parseKek,
  publicJwkOf,
  SIGNING_ALGS,
  TokenError,
  toJwksDocument,
} from "../src/index.ts";
import { codeOf, keyFor } from "./helpers.ts";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"];

function expectPublicOnly(jwk: object): void {
  for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
}

describe("generateSigningKey", () => {
  it.each(SIGNING_ALGS)("%s: kid is the RFC 7638 thumbprint and the public JWK is publishable", async (alg) => {
    const key = await keyFor(alg);
    expect(key.alg).toBe(alg);
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key.kid).toBe(await calculateJwkThumbprint(key.publicJwk, "sha256"));
    expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, use: "sig" });
    expectPublicOnly(key.publicJwk);
    expect(key.privateJwk.d).toEqual(expect.any(String));
    expect(key.privateJwk.kid).toBe(key.kid);
  });

  it("makes 2048-bit RSA keys", async () => {
    const key = await keyFor("RS256");
    expect(Buffer.from(key.publicJwk.n ?? "", "base64url").byteLength * 8).toBe(2048);
  });

  it("uses the expected curves", async () => {
    expect((await keyFor("ES256")).publicJwk).toMatchObject({ kty: "EC", crv: "P-256" });
    expect((await keyFor("EdDSA")).publicJwk).toMatchObject({ kty: "OKP", crv: "Ed25519" });
  });

  it("makes a new key each time", async () => {
    const [a, b] = await Promise.all([generateSigningKey("ES256"), generateSigningKey("ES256")]);
    expect(a.kid).not.toBe(b.kid);
  });
});

describe("publicJwkOf and the JWKS document", () => {
  it("strips every private member, whatever is passed", async () => {
    const rsa = await keyFor("RS256");
    const loaded = { ...rsa.privateJwk, oth: [{ r: "x", d: "y", t: "z" }], k: "secret", priv: "seed" };
    const pub = publicJwkOf(loaded);
    expectPublicOnly(pub);
    expect(pub).toMatchObject({ kty: "RSA", n: rsa.publicJwk.n, e: rsa.publicJwk.e, kid: rsa.kid });
    // The input is left alone.
    expect(loaded.d).toEqual(expect.any(String));
  });

  it("drops key_ops so a public key taken from a private one can still verify", () => {
    expect(publicJwkOf({ kty: "EC", crv: "P-256", x: "x", y: "y", d: "d", key_ops: ["sign"] })).not.toHaveProperty(
      "key_ops",
    );
  });

  it("refuses symmetric keys, which have no public half", () => {
    expect(() => publicJwkOf({ kty: "oct", k: "c2VjcmV0" })).toThrow(TokenError);
  });

  it("publishes only public members even when given private JWKs", async () => {
    const keys = await Promise.all(SIGNING_ALGS.map((alg) => keyFor(alg)));
    const doc = toJwksDocument(keys.map((k) => k.privateJwk));
    expect(doc.keys.map((k) => k.kid)).toEqual(keys.map((k) => k.kid));
    for (const jwk of doc.keys) expectPublicOnly(jwk);
    expect(JSON.stringify(doc)).not.toMatch(/"(d|p|q|dp|dq|qi|k)":/);
  });

  it("refuses keys without a kid or with a duplicate kid", async () => {
    const key = await keyFor("ES256");
    const { kid: _kid, ...noKid } = key.publicJwk;
    expect(() => toJwksDocument([noKid])).toThrow(expect.objectContaining({ code: "key_invalid" }));
    expect(() => toJwksDocument([key.publicJwk, key.publicJwk])).toThrow(
      expect.objectContaining({ code: "key_invalid" }),
    );
  });

  it("recommends a short, shared cache lifetime for the JWKS endpoint", () => {
    expect(JWKS_CACHE_CONTROL).toMatch(/^public, max-age=\d+/);
  });
});

describe("private keys at rest", () => {
  const kek = new Uint8Array(32).fill(1);
  const otherKek = new Uint8Array(32).fill(2);

  it("round-trips a private JWK, with a fresh IV every time", async () => {
    const key = await keyFor("EdDSA");
    const a = await encryptPrivateKey(key.privateJwk, kek, key.kid);
    const b = await encryptPrivateKey(key.privateJwk, kek, key.kid);
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(key.privateJwk.d);
    expect(await decryptPrivateKey(a, kek, key.kid)).toEqual(key.privateJwk);
  });

  it("fails with key_decrypt_failed for a wrong KEK, a wrong kid, or any altered byte", async () => {
    const key = await keyFor("ES256");
    const blob = await encryptPrivateKey(key.privateJwk, kek, key.kid);
    expect(await codeOf(decryptPrivateKey(blob, otherKek, key.kid))).toBe("key_decrypt_failed");
    expect(await codeOf(decryptPrivateKey(blob, kek, "another-kid"))).toBe("key_decrypt_failed");

    const [version, iv, ciphertext] = blob.split(".") as [string, string, string];
    const bytes = Buffer.from(ciphertext, "base64url");
    for (const index of [0, bytes.length >> 1, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[index] = (flipped[index] ?? 0) ^ 0x01;
      const tampered = `${version}.${iv}.${flipped.toString("base64url")}`;
      expect(await codeOf(decryptPrivateKey(tampered, kek, key.kid))).toBe("key_decrypt_failed");
    }
    const ivBytes = Buffer.from(iv, "base64url");
    ivBytes[0] = (ivBytes[0] ?? 0) ^ 0x80;
    expect(
      await codeOf(decryptPrivateKey(`${version}.${ivBytes.toString("base64url")}.${ciphertext}`, kek, key.kid)),
    ).toBe("key_decrypt_failed");
  });

  it.each(["", "v1", "v2.aaaa.bbbb", "v1.!!.??", `v1.${"A".repeat(16)}.AAAA`, "not a blob at all"])(
    "rejects a malformed blob %j with key_decrypt_failed",
    async (blob) => {
      expect(await codeOf(decryptPrivateKey(blob, kek, "kid"))).toBe("key_decrypt_failed");
    },
  );

  it("refuses a KEK that is not 32 bytes", async () => {
    const key = await keyFor("ES256");
    expect(await codeOf(encryptPrivateKey(key.privateJwk, new Uint8Array(16), key.kid))).toBe("key_invalid");
  });
});

describe("parseKek", () => {
  const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 3);
  const b64 = Buffer.from(bytes).toString("base64");
  const b64url = Buffer.from(bytes).toString("base64url");
  const hex = Buffer.from(bytes).toString("hex");

  it.each([
    ["base64", b64],
    ["base64 without padding", b64.replace(/=+$/, "")],
    ["base64url", b64url],
    ["hex", hex],
    ["upper-case hex", hex.toUpperCase()],
    ["base64 with surrounding whitespace (as in an env file)", ` ${b64}\n`],
  ])("accepts %s", (_label, value) => {
    expect(parseKek(value)).toEqual(bytes);
  });

  it.each([
    ["16 bytes of base64", Buffer.alloc(16, 9).toString("base64"), "16 bytes"],
    ["33 bytes of base64url", Buffer.alloc(33, 9).toString("base64url"), "33 bytes"],
    ["31 bytes of hex", Buffer.alloc(31, 9).toString("hex"), "31 bytes"],
    ["64 bytes of hex", Buffer.alloc(64, 9).toString("hex"), "64 bytes"],
    ["an empty string", "  ", "empty"],
    ["text with stray characters", "this is not a key!", "characters"],
  ])("rejects %s with a message naming the problem", (_label, value, expected) => {
    expect(() => parseKek(value)).toThrow(expected);
  });

  it("never echoes the value in the error", () => {
    const secretish = Buffer.alloc(20, 0xab).toString("base64");
    expect(() => parseKek(secretish)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(secretish) }),
    );
  });
});
