// @gatehouse/tokens/node: a signer on Node's own crypto, for the auth-service.
//
// Why beside createSigner (Web Crypto, any runtime): Web Crypto signs on libuv's
// thread pool, and on a cold token exchange the trip there and back cost ~0.4 ms,
// more than an ES256 signature itself (bench/README.md). Here ES256 and EdDSA sign
// on the calling thread (~50–150 µs); RS256 (~0.7–1.6 ms a signature) still signs on
// the thread pool, through the callback form, so it never stalls the event loop.
// Same keys, same checks (signerMaterial), same header and claims validation: the
// tokens are interchangeable with createSigner's.
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject, sign, verify } from "node:crypto";
import { type AccessTokenClaims, parseClaims } from "./claims.ts";
import { TokenError } from "./errors.ts";
import { protectedHeader, type Signer, type SignerKey, signerMaterial } from "./sign.ts";

export type { Signer, SignerKey } from "./sign.ts";

const b64url = (s: string) => Buffer.from(s).toString("base64url");

export async function createNodeSigner(key: SignerKey): Promise<Signer> {
  const material = signerMaterial(key);
  const { kid, alg } = key;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: { ...material } as JsonWebKey, format: "jwk" });
  } catch (cause) {
    throw new TokenError("key_invalid", `cannot import private key ${kid}`, { cause });
  }
  // JWS wants ES256 signatures as r || s (IEEE P1363), not Node's default DER.
  const signKey = alg === "ES256" ? { key: privateKey, dsaEncoding: "ieee-p1363" as const } : privateKey;
  const digest = alg === "EdDSA" ? null : "sha256";
  // Node imports an EC or OKP JWK whose d does not belong to its x/y without a word;
  // such a key would sign tokens no verifier accepts. One signature at start proves it.
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...publicMembers } = material;
  let matches = false;
  try {
    const publicKey = createPublicKey({ key: { ...publicMembers } as JsonWebKey, format: "jwk" });
    const probe = Buffer.from(`gatehouse signer check ${kid}`);
    const verifyKey = alg === "ES256" ? { key: publicKey, dsaEncoding: "ieee-p1363" as const } : publicKey;
    matches = verify(digest, probe, verifyKey, sign(digest, probe, signKey));
  } catch {
    matches = false;
  }
  if (!matches) throw new TokenError("key_invalid", `private key ${kid} does not match its public members`);
  const head = `${b64url(JSON.stringify(protectedHeader(key)))}.`;
  const signingInput = (claims: AccessTokenClaims) => head + b64url(JSON.stringify(parseClaims(claims)));

  if (alg === "RS256") {
    return {
      kid,
      alg,
      sign(claims: AccessTokenClaims): Promise<string> {
        try {
          const input = signingInput(claims);
          return new Promise((resolve, reject) => {
            sign(digest, Buffer.from(input), signKey, (err, signature) =>
              err ? reject(err) : resolve(`${input}.${signature.toString("base64url")}`),
            );
          });
        } catch (e) {
          return Promise.reject(e);
        }
      },
    };
  }
  return {
    kid,
    alg,
    async sign(claims: AccessTokenClaims): Promise<string> {
      const input = signingInput(claims);
      return `${input}.${sign(digest, Buffer.from(input), signKey).toString("base64url")}`;
    },
  };
}
