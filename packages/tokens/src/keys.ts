import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { TokenError } from "./errors.ts";

export type { JWK } from "jose";

/** Asymmetric algorithms only: verifiers must never hold a secret that can also sign. */
export type SigningAlg = "RS256" | "ES256" | "EdDSA";
export const SIGNING_ALGS: readonly SigningAlg[] = ["RS256", "ES256", "EdDSA"];

export function isSigningAlg(value: unknown): value is SigningAlg {
  return typeof value === "string" && (SIGNING_ALGS as readonly string[]).includes(value);
}

export interface SigningKey {
  /** RFC 7638 SHA-256 thumbprint of the public key, base64url. */
  readonly kid: string;
  readonly alg: SigningAlg;
  /** Safe to publish: carries kid, alg and use:"sig", and no private member. */
  readonly publicJwk: JWK;
  /** Secret. Store only encrypted (see encryptPrivateKey). */
  readonly privateJwk: JWK;
}

// Members that carry secret material in any key type (RFC 7518 §6, RFC 8037, AKP).
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"] as const;

/**
 * Public half of a JWK, whatever is passed (a private JWK included). Also drops
 * `key_ops` and `ext`: a private key's key_ops says "sign", which would make the public
 * key unusable for "verify", and `ext` is a Web Crypto export artefact.
 * Throws for symmetric ("oct") keys, which have no public half.
 */
export function publicJwkOf(jwk: JWK): JWK {
  if (typeof jwk !== "object" || jwk === null) throw new TokenError("key_invalid", "JWK must be an object");
  if (jwk.kty === "oct") throw new TokenError("key_invalid", "a symmetric (oct) key has no public part");
  const out: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete out[member];
  delete out.key_ops;
  delete out.ext;
  return out as JWK;
}

/** Whether the JWK is of the type and curve the algorithm needs (guards alg confusion). */
export function jwkFitsAlg(jwk: JWK, alg: SigningAlg): boolean {
  switch (alg) {
    case "RS256":
      return jwk.kty === "RSA";
    case "ES256":
      return jwk.kty === "EC" && jwk.crv === "P-256";
    case "EdDSA":
      return jwk.kty === "OKP" && jwk.crv === "Ed25519";
  }
}

export async function generateSigningKey(alg: SigningAlg): Promise<SigningKey> {
  if (!isSigningAlg(alg)) throw new TokenError("key_invalid", `unsupported signing algorithm ${String(alg)}`);
  const pair = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "RS256" ? { modulusLength: 2048 } : {}),
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  const [pub, priv] = await Promise.all([exportJWK(pair.publicKey), exportJWK(pair.privateKey)]);
  const kid = await calculateJwkThumbprint(pub, "sha256");
  const meta = { kid, alg, use: "sig" } as const;
  return {
    kid,
    alg,
    publicJwk: { ...publicJwkOf(pub), ...meta },
    privateJwk: { ...priv, ...meta },
  };
}

// --- Private keys at rest -------------------------------------------------------------

const BLOB_VERSION = "v1";
const IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const KEK_BYTES = 32;

// The AAD binds the ciphertext to the key id and to this format/purpose, so a blob
// cannot be swapped onto another key row, nor confused with something else encrypted
// under the same KEK.
function additionalData(aad: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`gatehouse.tokens.signing-key.${BLOB_VERSION}:${aad}`);
}

async function importKek(kek: Uint8Array, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  if (!(kek instanceof Uint8Array) || kek.byteLength !== KEK_BYTES) {
    throw new TokenError("key_invalid", `key-encryption key must be ${KEK_BYTES} bytes`);
  }
  // Copy into a fresh ArrayBuffer: Web Crypto wants one, and it must not see later
  // mutation of the caller's buffer.
  return crypto.subtle.importKey("raw", new Uint8Array(kek), { name: "AES-GCM" }, false, [usage]);
}

/**
 * AES-256-GCM under `kek`, bound to `aad` (what the blob belongs to: a kid, a row id).
 * Output: `v1.<base64url iv>.<base64url ciphertext+tag>`. The signing keys' private parts
 * and the webhook subscriptions' secrets are stored this way.
 */
export async function sealString(text: string, kek: Uint8Array, aad: string): Promise<string> {
  if (typeof aad !== "string" || aad.length === 0) throw new TokenError("key_invalid", "aad must be set");
  const key = await importKek(kek, "encrypt");
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plaintext = new TextEncoder().encode(text);
  try {
    const ciphertext = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: additionalData(aad) },
      key,
      plaintext,
    );
    return `${BLOB_VERSION}.${base64url.encode(iv)}.${base64url.encode(new Uint8Array(ciphertext))}`;
  } finally {
    plaintext.fill(0);
  }
}

/** Encrypts a private JWK under `kek`, bound to `aad` (the kid): sealString of its JSON. */
export async function encryptPrivateKey(privateJwk: JWK, kek: Uint8Array, aad: string): Promise<string> {
  if (typeof privateJwk !== "object" || privateJwk === null) {
    throw new TokenError("key_invalid", "private JWK must be an object");
  }
  if (typeof aad !== "string" || aad.length === 0) throw new TokenError("key_invalid", "aad (the kid) must be set");
  return sealString(JSON.stringify(privateJwk), kek, aad);
}

function decryptFailed(detail: string, cause?: unknown): TokenError {
  return new TokenError("key_decrypt_failed", `cannot decrypt: ${detail}`, { cause });
}

function decodePart(value: string | undefined): Uint8Array<ArrayBuffer> | undefined {
  if (value === undefined || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  try {
    return new Uint8Array(base64url.decode(value));
  } catch {
    return undefined;
  }
}

/**
 * Reverses sealString. Any tampering, wrong KEK or wrong aad fails with
 * TokenError("key_decrypt_failed"); GCM cannot tell these apart, and neither do we.
 */
export async function openString(blob: string, kek: Uint8Array, aad: string): Promise<string> {
  const key = await importKek(kek, "decrypt");
  const parts = typeof blob === "string" ? blob.split(".") : [];
  if (parts.length !== 3 || parts[0] !== BLOB_VERSION) {
    throw decryptFailed(`not a ${BLOB_VERSION} encrypted blob`);
  }
  const iv = decodePart(parts[1]);
  const ciphertext = decodePart(parts[2]);
  if (iv === undefined || iv.byteLength !== IV_BYTES || ciphertext === undefined) {
    throw decryptFailed("malformed blob");
  }
  if (ciphertext.byteLength <= GCM_TAG_BYTES) throw decryptFailed("ciphertext too short");

  let plaintext: Uint8Array;
  try {
    plaintext = new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: additionalData(aad) }, key, ciphertext),
    );
  } catch (cause) {
    throw decryptFailed("wrong key-encryption key, wrong aad, or the blob was altered", cause);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(plaintext);
  } catch (cause) {
    throw new TokenError("key_invalid", "decrypted blob is not UTF-8", { cause });
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Reverses encryptPrivateKey. Any tampering, wrong KEK or wrong aad fails with
 * TokenError("key_decrypt_failed").
 */
export async function decryptPrivateKey(blob: string, kek: Uint8Array, aad: string): Promise<JWK> {
  const text = await openString(blob, kek, aad);
  try {
    const jwk: unknown = JSON.parse(text);
    if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk) || typeof (jwk as JWK).kty !== "string") {
      throw new Error("plaintext is not a JWK");
    }
    return jwk as JWK;
  } catch (cause) {
    // Authenticated but unreadable: written by something else under the same KEK and aad.
    throw new TokenError("key_invalid", "decrypted signing key is not a JWK", { cause });
  }
}

const HEX_KEK = /^[0-9a-fA-F]{64}$/;
const B64_KEK = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * Parses a 32-byte key-encryption key from base64, base64url or 64 hex characters.
 * Error messages name the problem but never echo the value (it is a secret); the
 * caller prefixes the variable name.
 */
export function parseKek(value: string): Uint8Array {
  if (typeof value !== "string") throw new Error("must be a string");
  const text = value.trim();
  if (text.length === 0) throw new Error("is empty; expected 32 bytes as base64, base64url or 64 hex characters");

  // Hex wins: 64 hex characters would also be valid base64 (of 48 bytes), never what was meant.
  if (HEX_KEK.test(text)) {
    const bytes = new Uint8Array(KEK_BYTES);
    for (let i = 0; i < KEK_BYTES; i++) bytes[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
    return bytes;
  }
  // Even-length pure hex is never 32 bytes of base64 (that is 43 chars, or 44 with "=").
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0) {
    throw new Error(`looks like hex of ${text.length / 2} bytes; expected 64 hex characters (32 bytes)`);
  }
  if (!B64_KEK.test(text)) {
    throw new Error("contains characters outside base64, base64url and hex; expected 32 bytes");
  }
  if (/[+/]/.test(text) && /[-_]/.test(text)) {
    throw new Error("mixes base64 (+/) and base64url (-_) characters; the value looks corrupted");
  }
  const standard = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (standard.length % 4 === 1) throw new Error("is not valid base64 (bad length)");
  let binary: string;
  try {
    binary = atob(standard);
  } catch {
    throw new Error("is not valid base64");
  }
  if (binary.length !== KEK_BYTES) {
    throw new Error(
      `decodes to ${binary.length} bytes; expected exactly ${KEK_BYTES} (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * Parses a comma-separated list of KEKs (e.g. the previous ones kept during a KEK
 * rotation), each as parseKek reads it. Empty entries are skipped, so an unset or empty
 * value is an empty list. Errors name the entry by position, never its value.
 */
export function parseKekList(value: string): Uint8Array[] {
  if (typeof value !== "string") throw new Error("must be a string");
  const entries = value
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  return entries.map((entry, i) => {
    try {
      return parseKek(entry);
    } catch (e) {
      throw new Error(entries.length === 1 ? (e as Error).message : `entry ${i + 1}: ${(e as Error).message}`);
    }
  });
}
