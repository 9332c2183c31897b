export {
  AALS,
  type Aal,
  type AccessTokenClaims,
  CLAIMS_VERSION,
  type ClaimsVersion,
  type GatehouseClaims,
  ORG_ROLES,
  type OrgRole,
  type PersonName,
  PLANS,
  type Plan,
  parseClaims,
  permissionsFor,
  type RegisteredClaims,
  type RolePermissionMap,
  TEAM_ROLES,
  type TeamMembership,
  type TeamRole,
} from "./claims.ts";
export { isTokenError, TOKEN_ERROR_CODES, TokenError, type TokenErrorCode, type TokenErrorOptions } from "./errors.ts";
export { JWKS_CACHE_CONTROL, JWKS_CONTENT_TYPE, type JwksDocument, toJwksDocument } from "./jwks.ts";
// Exported because services caching per-request lookups want the same small LRU, and
// the same deadline on a promise (the guard's Redis calls).
export {
  createLocalJwks,
  createRemoteJwks,
  type FetchLike,
  type JwksSource,
  type RemoteJwks,
  type RemoteJwksOptions,
  settleWithin,
} from "./jwks-source.ts";
export {
  decryptPrivateKey,
  encryptPrivateKey,
  generateSigningKey,
  isSigningAlg,
  type JWK,
  openString,
  parseKek,
  parseKekList,
  publicJwkOf,
  SIGNING_ALGS,
  type SigningAlg,
  type SigningKey,
  sealString,
} from "./keys.ts";
export { LruCache } from "./lru.ts";
export {
  ACCESS_TOKEN_TYP,
  createSigner,
  type MintInput,
  type MintOptions,
  mintClaims,
  randomJti,
  type Signer,
  type SignerKey,
} from "./sign.ts";
export { createVerifier, type Verifier, type VerifierOptions } from "./verify.ts";
