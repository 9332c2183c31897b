// Forged and damaged access tokens for the entry-point attack suite. Most are signed
// with the test stack's REAL signing key (read from its Postgres and decrypted with
// the stack's KEK, as the auth-service does), so that each variant differs from a
// token the verifier must accept in exactly one property: the issuer, the audience,
// the lifetime, one header member. The rest are the classic forgeries (alg none,
// HS256 keyed with the public key, an attacker's key under our kid, key material
// carried in the header). Signing is done here with node:crypto, not with the
// library the verifier uses, so nothing about the forgery depends on that library.
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from "node:crypto";
import pg from "pg";
import { decryptPrivateKey, parseKek } from "../../packages/tokens/src/index.ts";
import { stackConfig } from "../../tools/stack/config.ts";

type Json = Record<string, unknown>;
const b64u = (data: string | Buffer) => Buffer.from(data).toString("base64url");

export function decodeJwt(token: string): { header: Json; payload: Json; signature: string } {
  const [h = "", p = "", s = ""] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString()) as Json,
    payload: JSON.parse(Buffer.from(p, "base64url").toString()) as Json,
    signature: s,
  };
}

interface SigningKey {
  kid: string;
  alg: string;
  key: KeyObject;
  publicJwk: JsonWebKey;
}

function signWith(alg: string, key: KeyObject, data: Buffer): Buffer {
  if (alg === "EdDSA") return cryptoSign(null, data, key);
  if (alg === "ES256") return cryptoSign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
  return cryptoSign("sha256", data, key);
}

/** A compact JWS of `header` and `payload` (or raw payload text), signed by `signer` (none: empty signature). */
export function jws(header: Json, payload: Json | string, signer?: (data: Buffer) => Buffer): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(typeof payload === "string" ? payload : JSON.stringify(payload))}`;
  return `${input}.${signer ? b64u(signer(Buffer.from(input))) : ""}`;
}

/** The private key that signed `realToken`, from the stack's database (the auth-service's own store). */
export async function stackSigningKey(databaseUrl: string, realToken: string): Promise<SigningKey> {
  const kid = String(decodeJwt(realToken).header.kid);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const r = await db.query<{ alg: string; private_key_enc: string; public_jwk: JsonWebKey }>(
      "select alg, private_key_enc, public_jwk from signing_keys where kid = $1",
      [kid],
    );
    const row = r.rows[0];
    if (!row) throw new Error(`the stack's database has no signing key ${kid}`);
    // The KEK the stack gave its auth-service (tools/stack: GATEHOUSE_KEK or the local default).
    const jwk = await decryptPrivateKey(row.private_key_enc, parseKek(stackConfig("test").secrets.kek), kid);
    return {
      kid,
      alg: row.alg,
      key: createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" }),
      publicJwk: row.public_jwk,
    };
  } finally {
    await db.end();
  }
}

/**
 * Tokens the verifier must refuse, by name. `real` is a token the stack minted for
 * the victim (the forgeries claim to be them); `other` one minted for somebody else.
 */
export async function forgedTokens(databaseUrl: string, real: string, other: string): Promise<Record<string, string>> {
  const key = await stackSigningKey(databaseUrl, real);
  const { header, payload, signature } = decodeJwt(real);
  const now = Math.floor(Date.now() / 1000);
  const signed = (h: Json, p: Json | string) => jws(h, p, (d) => signWith(key.alg, key.key, d));
  const withClaims = (c: Json) => signed(header, { ...payload, ...c });
  const withHeader = (h: Json) => signed({ ...header, ...h }, payload);
  const withoutHeader = (name: string) => {
    const { [name]: _dropped, ...rest } = header;
    return signed(rest, payload);
  };

  const attacker = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const attackerJwk = attacker.publicKey.export({ format: "jwk" });
  const attackerSigned = (h: Json, p: Json = payload) =>
    jws({ ...header, alg: "RS256", ...h }, p, (d) => cryptoSign("sha256", d, attacker.privateKey));
  const hs256 = (secret: string | Buffer, h: Json = {}) =>
    jws({ ...header, alg: "HS256", ...h }, payload, (d) => createHmac("sha256", secret).update(d).digest());
  const publicPem = createPublicKey({ key: key.publicJwk, format: "jwk" }).export({ type: "spki", format: "pem" });
  const [rh = "", rp = ""] = real.split(".");
  const otherParts = other.split(".");

  return {
    "alg none, no signature": jws({ ...header, alg: "none" }, payload),
    "alg None, no signature": jws({ ...header, alg: "None" }, payload),
    "alg NONE with the real signature kept": `${jws({ ...header, alg: "NONE" }, payload).slice(0, -1)}${signature}`,
    "HS256 keyed with the public JWK (JSON)": hs256(JSON.stringify(key.publicJwk)),
    "HS256 keyed with the public key (PEM)": hs256(String(publicPem)),
    "HS256 with an empty key and a path-traversal kid": hs256("", { kid: "../../../../../../dev/null" }),
    "ES256 declared over an RS256 signature": `${jws({ ...header, alg: key.alg === "ES256" ? "RS256" : "ES256" }, payload).slice(0, -1)}${signature}`,
    "wrong iss (real key)": withClaims({ iss: "https://evil.example" }),
    "iss with a trailing slash (real key)": withClaims({ iss: `${payload.iss}/` }),
    "wrong aud, a token for another service (real key)": withClaims({ aud: "billing-service" }),
    "aud list without ours (real key)": withClaims({ aud: ["billing-service", "reports"] }),
    "expired an hour ago (real key)": withClaims({ iat: now - 7_200, nbf: now - 7_200, exp: now - 3_600 }),
    "expired two minutes ago, past the leeway (real key)": withClaims({
      iat: now - 900,
      nbf: now - 900,
      exp: now - 120,
    }),
    "nbf an hour ahead (real key)": withClaims({ nbf: now + 3_600, exp: now + 7_200 }),
    "unknown kid (real key)": withHeader({ kid: "attack-suite-unknown-kid" }),
    "no kid (real key)": withoutHeader("kid"),
    "an attacker's key under the real kid": attackerSigned({}),
    "jku naming an attacker's JWKS (real key)": withHeader({ jku: "http://127.0.0.1:9/jwks.json" }),
    "jku naming an attacker's JWKS (attacker's key)": attackerSigned({
      kid: "attacker",
      jku: "http://127.0.0.1:9/jwks.json",
    }),
    "x5u naming an attacker's certificate (real key)": withHeader({ x5u: "http://127.0.0.1:9/cert.pem" }),
    "jwk header carrying the attacker's key, signed with it": attackerSigned({ kid: "attacker", jwk: attackerJwk }),
    "x5c header (real key)": withHeader({ x5c: ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"] }),
    "crit naming exp (real key)": withHeader({ crit: ["exp"] }),
    "crit naming an unknown extension (real key)": withHeader({ crit: ["x-attack"], "x-attack": true }),
    "typ JWT instead of at+jwt (real key)": withHeader({ typ: "JWT" }),
    "typ missing (real key)": withoutHeader("typ"),
    "typ id_token+jwt (real key)": withHeader({ typ: "id_token+jwt" }),
    "signature truncated by four characters": real.slice(0, -4),
    "signature removed": `${rh}.${rp}.`,
    "another token's signature": `${rh}.${rp}.${otherParts[2]}`,
    "another token's claims under this signature": `${rh}.${otherParts[1]}.${signature}`,
    "sub changed, original signature": `${rh}.${b64u(JSON.stringify({ ...payload, sub: "00000000-0000-4000-8000-000000000000" }))}.${signature}`,
    "role raised to owner, original signature": `${rh}.${b64u(JSON.stringify({ ...payload, role: "owner" }))}.${signature}`,
    "a fourth segment": `${real}.${signature}`,
    "JWE-shaped (five segments)": `${rh}.${rp}.${rp}.${rp}.${signature}`,
    "padding added to the header segment": `${rh}=.${rp}.${signature}`,
    "claims that are not JSON (real key)": signed(header, "not json"),
    "a header that is not JSON": `${b64u("{alg:RS256")}.${rp}.${signature}`,
    "20 KB of token": `${rh}.${"A".repeat(20_000)}.${signature}`,
  };
}
