// POST /v1/token's core: credential → Kratos session → Gatehouse principal
// (roles, plan, teams from Postgres only, never from Kratos traits) → claims →
// signed access token. A minted token is reused until three quarters of its life
// are spent, so RSA signing is not paid per request.
import type { KratosCredential, KratosSession } from "@gatehouse/kratos";
import {
  type Aal,
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
import { DomainError } from "../domain/errors.ts";
import { loadPrincipalData, type PrincipalUser } from "../domain/principal.ts";
import { upsertUserFromKratos } from "../domain/users.ts";
import type { KeyStore } from "../keys/store.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { SessionResolver } from "./sessions.ts";

export interface Principal {
  identityId: string;
  organizationId?: string;
  plan?: Plan;
  role?: OrgRole;
  /** The active organization requires a second factor (the token says so; guards enforce it). */
  mfaRequired?: true;
  teams: { id: string; role: "lead" | "member" }[];
}

interface CachedPrincipal {
  gen: number;
  principal: Principal;
  expiresAtMs: number;
}

interface CachedToken {
  token: string;
  kid: string;
  sid: string;
  identityId: string;
  gen: number;
  reuseUntilMs: number;
  exp: number;
  principal: Principal;
}

export interface ExchangeResult {
  accessToken: string;
  /** Seconds. */
  expiresIn: number;
}

const PRINCIPAL_TTL_MS = 60_000;
const REUSE_FRACTION = 0.75;

/** Whether the stored row says what upsertUserFromKratos would write for this session. */
function isRecorded(user: PrincipalUser | undefined, session: KratosSession): boolean {
  const { email, name } = session.identity.traits;
  const same = (stored: string | null, from: string | undefined) => !from || stored === from.trim();
  return (
    user !== undefined &&
    user.email === email.trim() &&
    same(user.nameFirst, name?.first) &&
    same(user.nameLast, name?.last)
  );
}

export class TokenExchange {
  readonly #principals = new LruCache<string, CachedPrincipal>(50_000);
  readonly #tokens = new LruCache<string, CachedToken>(100_000);
  readonly #knownUsers = new LruCache<string, true>(100_000);
  readonly #minting = new Map<string, Promise<{ accessToken: string; exp: number; principal: Principal }>>();
  readonly #sessions: SessionResolver;
  readonly #db: Kysely<Database>;
  readonly #keys: KeyStore;
  readonly #bus: InvalidationBus;
  readonly #cfg: AuthConfig;
  readonly #metrics: Metrics;

  constructor(opts: {
    sessions: SessionResolver;
    db: Kysely<Database>;
    keys: KeyStore;
    bus: InvalidationBus;
    cfg: AuthConfig;
    metrics: Metrics;
  }) {
    this.#sessions = opts.sessions;
    this.#db = opts.db;
    this.#keys = opts.keys;
    this.#bus = opts.bus;
    this.#cfg = opts.cfg;
    this.#metrics = opts.metrics;
  }

  get sessions(): SessionResolver {
    return this.#sessions;
  }

  /** The principal behind a session, creating the user's record on first sight (webhook missed or predates us). */
  async principal(session: KratosSession, orgId: string | undefined): Promise<Principal> {
    const identityId = session.identity.id;
    const pkey = `${identityId}|${orgId ?? ""}`;
    const gen = this.#bus.generation(identityId);
    const hit = this.#principals.get(pkey);
    if (hit && hit.gen === gen && hit.expiresAtMs > Date.now()) return hit.principal;

    // The roles query reads the user's row too, so the row is written only when it is
    // absent or out of date (the registration webhook missed, or the email or name
    // changed in Kratos): most first exchanges find the row the webhook wrote, and a
    // write transaction on every first sight cost three Postgres round trips.
    const data = await loadPrincipalData(this.#db, identityId, orgId);
    if (!this.#knownUsers.get(identityId)) {
      if (isRecorded(data.user, session)) this.#knownUsers.set(identityId, true);
      else await this.#recordUser(session);
    }
    // Checked on every miss; a deactivation bumps the generation, so no cached principal or token outlives it.
    if (data.user?.deactivated) throw new DomainError("user_deactivated", "this account is deactivated");
    if (orgId !== undefined && !data.active) {
      throw new DomainError("forbidden", "you are not a member of that organization");
    }
    const principal: Principal = { identityId, teams: [] };
    if (data.active) {
      principal.organizationId = data.active.organizationId;
      principal.plan = data.active.plan as Plan;
      principal.role = data.active.role as OrgRole;
      if (data.active.requireMfa) principal.mfaRequired = true;
      principal.teams = data.active.teams.map((t) => ({ id: t.id, role: t.role as "lead" | "member" }));
    }
    this.#principals.set(pkey, { gen, principal, expiresAtMs: Date.now() + PRINCIPAL_TTL_MS });
    return principal;
  }

  async #recordUser(session: KratosSession): Promise<void> {
    const name = session.identity.traits.name;
    await upsertUserFromKratos(
      this.#db,
      {
        identityId: session.identity.id,
        email: session.identity.traits.email,
        ...(name?.first ? { nameFirst: name.first } : {}),
        ...(name?.last ? { nameLast: name.last } : {}),
      },
      { actor: "system" },
    );
    this.#knownUsers.set(session.identity.id, true);
  }

  claimsFor(session: KratosSession, p: Principal, nowSec: number): AccessTokenClaims {
    const aal: Aal = session.aal === "aal2" || session.aal === "aal3" ? "aal2" : "aal1";
    const name = session.identity.traits.name;
    return mintClaims(
      {
        iss: this.#cfg.token.issuer,
        aud: this.#cfg.token.audience.length === 1 ? (this.#cfg.token.audience[0] ?? "") : this.#cfg.token.audience,
        sub: session.identity.id,
        sid: session.id,
        email: session.identity.traits.email,
        email_verified: session.identity.emailVerified,
        ...(name && (name.first || name.last)
          ? { name: { ...(name.first ? { first: name.first } : {}), ...(name.last ? { last: name.last } : {}) } }
          : {}),
        ...(p.organizationId ? { org: p.organizationId } : {}),
        ...(p.plan ? { plan: p.plan } : {}),
        ...(p.role ? { role: p.role } : {}),
        ...(p.mfaRequired ? { mfa_required: true as const } : {}),
        teams: p.teams,
        perms: permissionsFor(p.role, this.#cfg.permissions),
        aal,
        amr: session.amr,
      },
      {
        now: nowSec,
        lifetimeSec: this.#cfg.token.ttlSec,
        // Not past the session, nor past the time its signing key is sure to be published.
        notAfter: Math.min(Math.floor(session.expiresAt.getTime() / 1000), this.#keys.verifiableUntilSec),
      },
    );
  }

  async exchange(cred: KratosCredential, orgId: string | undefined): Promise<ExchangeResult> {
    if (orgId !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(orgId)) {
      throw new DomainError("invalid_input", "organization must be a UUID");
    }
    const ref = await this.#sessions.lookup(cred);
    const tkey = orgId === undefined ? ref.digest : `${ref.digest}|${orgId}`;
    const now = Date.now();
    const gen = this.#bus.generation(ref.identityId);
    const cached = this.#tokens.get(tkey);
    if (
      cached &&
      cached.reuseUntilMs > now &&
      cached.gen === gen &&
      cached.sid === ref.sid &&
      cached.kid === this.#keys.activeKid &&
      !this.#bus.isSessionRevoked(ref.sid)
    ) {
      this.#metrics.tokensReused.inc();
      return { accessToken: cached.token, expiresIn: cached.exp - Math.floor(now / 1000) };
    }
    // One mint per credential however many ask at once: a burst of requests for one
    // session shares the principal lookup, the signature and the resulting token.
    let pending = this.#minting.get(tkey);
    if (!pending) {
      pending = this.#mint(ref.session(), orgId, tkey, gen).finally(() => this.#minting.delete(tkey));
      this.#minting.set(tkey, pending);
    }
    const minted = await pending;
    return { accessToken: minted.accessToken, expiresIn: minted.exp - Math.floor(Date.now() / 1000) };
  }

  async #mint(
    session: KratosSession,
    orgId: string | undefined,
    tkey: string,
    gen: number,
  ): Promise<{ accessToken: string; exp: number; principal: Principal }> {
    const now = Date.now();
    const principal = await this.principal(session, orgId);
    const signer = await this.#keys.signer();
    const nowSec = Math.floor(now / 1000);
    const claims = this.claimsFor(session, principal, nowSec);
    const token = await signer.sign(claims);
    this.#metrics.tokensMinted.inc({ alg: signer.alg });
    const life = claims.exp - claims.iat;
    this.#tokens.set(tkey, {
      token,
      kid: signer.kid,
      sid: session.id,
      identityId: session.identity.id,
      gen,
      exp: claims.exp,
      reuseUntilMs: (claims.iat + life * REUSE_FRACTION) * 1000,
      principal,
    });
    return { accessToken: token, exp: claims.exp, principal };
  }
}
