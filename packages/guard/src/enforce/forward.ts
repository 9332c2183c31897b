// What an allowed request carries on (the mutate step, applied): the client's headers
// minus what it may not say, plus what the guard says about the caller. One policy
// object per route or entry point, compiled when it is declared; one pass over the
// headers per request. Every entry point rewrites through here, so a header is
// stripped (or added) at all of them or at none. Edge-safe: it works on a flat
// [name, value, name, value, …] list (Node's rawHeaders; a Web Headers' entries).
import { removeCookie } from "../core/extract.ts";
import { identityHeaderList, isIdentityHeader } from "../core/mutate.ts";
import type { AllowDecision } from "../core/types.ts";
import { untrustedKind } from "../core/untrusted.ts";

/** What a route or entry point forwards. Options an entry point does not name take its defaults. */
export interface ForwardOptions {
  /** Add `Authorization: Bearer <Gatehouse JWT>` (replacing the client's Authorization). */
  jwt?: boolean;
  /** Add X-User-Id, X-User-Email, X-User-Roles, X-Org-Id, X-User-Aal. */
  identityHeaders?: boolean;
  /** Keep the client's Kratos session cookie (its other cookies always stay). */
  kratosCookie?: boolean;
  /** Keep the client's X-Session-Token. */
  sessionToken?: boolean;
  /** Keep the client's X-API-Key. */
  apiKey?: boolean;
  /** Keep the client's Authorization when no JWT replaces it. */
  authorization?: boolean;
  /**
   * Keep X-Original-URL, X-Rewrite-URL, X-HTTP-Method-Override… (untrusted.ts): an
   * upstream that honours them serves another path or method than the rule allowed.
   */
  routingHeaders?: boolean;
  /** Keep X-Forwarded-*, Forwarded, X-Real-IP…: off where the entry point states the client itself. */
  clientAddressHeaders?: boolean;
}

// What a client header is, as far as forwarding goes. Decided once per name as sent
// (bounded: a client can invent names), as every header of every request comes here.
const Kind = {
  Other: 0,
  Identity: 1,
  Address: 2,
  Routing: 3,
  Cookie: 4,
  SessionToken: 5,
  ApiKey: 6,
  Authorization: 7,
  RequestId: 8,
} as const;
type Kind = (typeof Kind)[keyof typeof Kind];

const kinds = new Map<string, Kind>();
function kindOf(name: string): Kind {
  let k = kinds.get(name);
  if (k !== undefined) return k;
  const lower = name.toLowerCase();
  const untrusted = untrustedKind(lower);
  if (isIdentityHeader(lower)) k = Kind.Identity;
  else if (untrusted === "routing") k = Kind.Routing;
  else if (untrusted === "address") k = Kind.Address;
  else if (lower === "cookie") k = Kind.Cookie;
  else if (lower === "x-session-token") k = Kind.SessionToken;
  else if (lower === "x-api-key") k = Kind.ApiKey;
  else if (lower === "authorization") k = Kind.Authorization;
  else if (lower === "x-request-id") k = Kind.RequestId;
  else k = Kind.Other;
  if (kinds.size >= 4_096) kinds.clear();
  kinds.set(name, k);
  return k;
}

const NOTHING: readonly string[] = Object.freeze([]);

/** A compiled forwarding policy: see forwardHeaders. */
export class Forwarding {
  /** Per Kind: whether a client header of that kind goes on unchanged. */
  readonly #keeps: readonly boolean[];
  readonly #cookie: boolean;
  readonly #add: { jwt: boolean; identity: boolean };

  constructor(o: Required<ForwardOptions>) {
    const keeps: boolean[] = [];
    keeps[Kind.Other] = true;
    keeps[Kind.Identity] = false;
    keeps[Kind.Address] = o.clientAddressHeaders;
    keeps[Kind.Routing] = o.routingHeaders;
    keeps[Kind.Cookie] = o.kratosCookie;
    keeps[Kind.SessionToken] = o.sessionToken;
    keeps[Kind.ApiKey] = o.apiKey;
    keeps[Kind.Authorization] = o.authorization && !o.jwt;
    keeps[Kind.RequestId] = true;
    this.#keeps = Object.freeze(keeps);
    this.#cookie = o.kratosCookie;
    this.#add = Object.freeze({ jwt: o.jwt, identity: o.identityHeaders });
  }

  /** The guard's headers for an allowed request (a flat list; empty without a principal). */
  added(decision: AllowDecision): readonly string[] {
    return decision.principal === undefined ? NOTHING : identityHeaderList(decision.principal, this.#add);
  }

  /**
   * The value one client header goes on with, or undefined to drop it. `ownRequestId`:
   * the entry point states X-Request-Id itself, so the client's is dropped.
   */
  edit(name: string, value: string, cookieName: string, ownRequestId: boolean): string | undefined {
    const k = kindOf(name);
    if (this.#keeps[k] === true && !(ownRequestId && k === Kind.RequestId)) return value;
    // The Kratos cookie leaves; the client's other cookies stay, byte for byte.
    if (k === Kind.Cookie && !this.#cookie) return removeCookie(value, cookieName);
    return undefined;
  }
}

/** Compiles a policy; options left out take `defaults` (the entry point's). */
export function compileForwarding(options: ForwardOptions, defaults: Required<ForwardOptions>): Forwarding {
  const o = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof ForwardOptions)[]) {
    const v = options[key];
    if (v === undefined) continue;
    if (typeof v !== "boolean") throw new TypeError(`forward.${key} must be a boolean`);
    o[key] = v;
  }
  return new Forwarding(o);
}

/** A proxy's defaults: the upstream gets the guard's word for who the caller is, not the client's credentials. */
export const PROXY_FORWARDING: Required<ForwardOptions> = Object.freeze({
  jwt: true,
  identityHeaders: true,
  kratosCookie: false,
  sessionToken: false,
  apiKey: false,
  authorization: false,
  routingHeaders: false,
  clientAddressHeaders: true,
});

/** What an entry point states itself about an allowed request, in place of what the client said. */
export interface Stated {
  /** X-Request-Id (answer.ts' requestIdFrom), replacing the client's. */
  readonly requestId?: string | undefined;
  /**
   * More headers it states, as a flat list: a proxy's X-Forwarded-* (with a policy
   * that drops the client's, clientAddressHeaders: false).
   */
  readonly stated?: readonly string[] | undefined;
}

/**
 * The headers an allowed request goes on with: `raw` (a flat list, spelling and
 * duplicates kept) edited by the policy, then the guard's headers and what the entry
 * point states. Returns `raw` itself when nothing changes.
 */
export function forwardHeaders(
  raw: readonly string[],
  forwarding: Forwarding,
  decision: AllowDecision,
  cookieName: string,
  own: Stated,
): readonly string[] {
  const add = forwarding.added(decision);
  const { requestId, stated } = own;
  const ownId = requestId !== undefined;
  let out: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const kept = forwarding.edit(name, value, cookieName, ownId);
    if (kept === value && out === undefined) continue;
    // The first change: copy what went before, then build the rest.
    out ??= raw.slice(0, i);
    if (kept !== undefined) out.push(name, kept);
  }
  if (out === undefined && add.length === 0 && !ownId && stated === undefined) return raw;
  out ??= raw.slice();
  for (let i = 0; i < add.length; i++) out.push(add[i] as string);
  if (stated !== undefined) for (let i = 0; i < stated.length; i++) out.push(stated[i] as string);
  if (ownId) out.push("x-request-id", requestId);
  return out;
}
