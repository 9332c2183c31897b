// API key → access token. Machines get the same kind of token as people, so a
// guard needs one verification path. A user-owned key acts for its user within
// its scopes (intersection of the user's role permissions and the key's scopes);
// an organization key carries only its scopes and no person claims. Either way a
// key a member created never does more than that member may do now: its
// permissions are intersected, at every exchange, with the creator's current role's,
// and it stops working when the creator leaves the organization.
import { createHash } from "node:crypto";
import { apiKeySessionId } from "@gatehouse/contracts";
import {
  type AccessTokenClaims,
  LruCache,
  mintClaims,
  type OrgRole,
  type Plan,
  permissionsFor,
} from "@gatehouse/tokens";
import type { Kysely } from "kysely";
import type { InvalidationBus } from "../cache/bus.ts";
import type { AuthConfig } from "../config.ts";
import type { Database } from "../db/schema.ts";
import { type ApiKey, findApiKeyByRaw, touchApiKeyLastUsed } from "../domain/api-keys.ts";
import { DomainError } from "../domain/errors.ts";
import { getOrganization } from "../domain/organizations.ts";
import { loadPrincipalData } from "../domain/principal.ts";
import type { KeyStore } from "../keys/store.ts";
import type { Metrics } from "../ops/metrics.ts";

const KEY_RE = /^sk_[A-Za-z0-9_-]{20,200}$/;
const TOUCH_EVERY_MS = 60_000;

interface Cached {
  token: string;
  exp: number;
  reuseUntilMs: number;
  kid: string;
  keyId: string;
  gen: number;
  /** The people whose role bounds the token (owner, creator), and the sum of their generations then. */
  people: string[];
  peopleGen: number;
}

export class ApiKeyExchange {
  readonly #tokens = new LruCache<string, Cached>(10_000);
  readonly #touched = new LruCache<string, number>(10_000);
  readonly #db: Kysely<Database>;
  readonly #keys: KeyStore;
  readonly #bus: InvalidationBus;
  readonly #cfg: AuthConfig;
  readonly #metrics: Metrics;

  constructor(opts: { db: Kysely<Database>; keys: KeyStore; bus: InvalidationBus; cfg: AuthConfig; metrics: Metrics }) {
    this.#db = opts.db;
    this.#keys = opts.keys;
    this.#bus = opts.bus;
    this.#cfg = opts.cfg;
    this.#metrics = opts.metrics;
  }

  static looksLikeKey(raw: string): boolean {
    return KEY_RE.test(raw);
  }

  async exchange(raw: string): Promise<{ accessToken: string; expiresIn: number }> {
    if (!KEY_RE.test(raw)) throw new DomainError("unauthenticated", "not a valid API key");
    const cacheKey = createHash("sha256").update(raw).digest("hex");
    const now = Date.now();
    const hit = this.#tokens.get(cacheKey);
    // Revocation and membership changes bump the generation of the key (and its user).
    if (
      hit &&
      hit.reuseUntilMs > now &&
      hit.kid === this.#keys.activeKid &&
      hit.gen === this.#bus.generation(apiKeySessionId(hit.keyId)) &&
      hit.peopleGen === this.#peopleGen(hit.people)
    ) {
      this.#metrics.tokensReused.inc();
      return { accessToken: hit.token, expiresIn: hit.exp - Math.floor(now / 1000) };
    }
    const key = await findApiKeyByRaw(this.#db, raw);
    if (!key) throw new DomainError("unauthenticated", "unknown, revoked or expired API key");
    const gen = this.#bus.generation(apiKeySessionId(key.id));
    // A role change of the owner or the creator bumps their generation (announced
    // through the outbox), so the next exchange mints with their new rights.
    const people = [...new Set([key.identityId, key.createdBy].filter((x): x is string => x !== null))];
    const peopleGen = this.#peopleGen(people);
    const signer = await this.#keys.signer();
    const claims = await this.#claims(key, Math.floor(now / 1000));
    const token = await signer.sign(claims);
    this.#metrics.tokensMinted.inc({ alg: signer.alg });
    const life = claims.exp - claims.iat;
    this.#tokens.set(cacheKey, {
      token,
      exp: claims.exp,
      reuseUntilMs: (claims.iat + life * 0.75) * 1000,
      kid: signer.kid,
      keyId: key.id,
      gen,
      people,
      peopleGen,
    });
    if ((this.#touched.get(key.id) ?? 0) + TOUCH_EVERY_MS < now) {
      this.#touched.set(key.id, now);
      void touchApiKeyLastUsed(this.#db, key.id).catch(() => {});
    }
    return { accessToken: token, expiresIn: claims.exp - Math.floor(now / 1000) };
  }

  /** Generations only grow, so their sum changes whenever one of them does. */
  #peopleGen(people: readonly string[]): number {
    let sum = 0;
    for (const id of people) sum += this.#bus.generation(id);
    return sum;
  }

  async #claims(key: ApiKey, nowSec: number): Promise<AccessTokenClaims> {
    const aud = this.#cfg.token.audience.length === 1 ? (this.#cfg.token.audience[0] ?? "") : this.#cfg.token.audience;
    const notAfter = Math.min(
      key.expiresAt ? Math.floor(key.expiresAt.getTime() / 1000) : nowSec + this.#cfg.token.ttlSec,
      // Not past the time the signing key is sure to be published (KeyStore.verifiableUntilSec).
      this.#keys.verifiableUntilSec,
    );
    const base = {
      iss: this.#cfg.token.issuer,
      aud,
      sid: apiKeySessionId(key.id),
      teams: [],
      aal: "aal1" as const,
      amr: ["api_key"],
    };
    // What the creator may do now: the ceiling of the key's permissions.
    let creator: Awaited<ReturnType<typeof loadPrincipalData>> | undefined;
    let ceiling: (perms: string[]) => string[] = (perms) => perms;
    if (key.createdBy) {
      creator = await loadPrincipalData(this.#db, key.createdBy, key.organizationId);
      if (!creator.user || !creator.active || creator.user.deactivated)
        throw new DomainError(
          "unauthenticated",
          "this API key's creator is deactivated or no longer a member of its organization",
        );
      const allowed = new Set(permissionsFor(creator.active.role as OrgRole, this.#cfg.permissions));
      ceiling = (perms) => perms.filter((p) => allowed.has(p));
    }
    if (key.identityId) {
      const data =
        creator && key.createdBy === key.identityId
          ? creator
          : await loadPrincipalData(this.#db, key.identityId, key.organizationId);
      // The owner left the organization (or was deleted or deactivated): the key no longer works.
      if (!data.user || !data.active || data.user.deactivated)
        throw new DomainError("unauthenticated", "this API key's owner is deactivated or no longer a member");
      const rolePerms = permissionsFor(data.active.role as OrgRole, this.#cfg.permissions);
      return mintClaims(
        {
          ...base,
          sub: key.identityId,
          email: data.user.email,
          email_verified: false,
          org: key.organizationId,
          plan: data.active.plan as Plan,
          role: data.active.role as OrgRole,
          perms: ceiling(key.scopes.length ? rolePerms.filter((p) => key.scopes.includes(p)) : rolePerms),
        },
        { now: nowSec, lifetimeSec: this.#cfg.token.ttlSec, notAfter },
      );
    }
    const org = await getOrganization(this.#db, key.organizationId);
    if (!org) throw new DomainError("unauthenticated", "this API key's organization no longer exists");
    return mintClaims(
      {
        ...base,
        sub: apiKeySessionId(key.id),
        org: key.organizationId,
        plan: org.plan as Plan,
        perms: ceiling([...new Set(key.scopes)].sort()),
      },
      { now: nowSec, lifetimeSec: this.#cfg.token.ttlSec, notAfter },
    );
  }
}
