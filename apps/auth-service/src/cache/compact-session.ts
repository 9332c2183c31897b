// The in-process session cache's entry layout. 100,000 cached sessions as the
// KratosSession objects Kratos' JSON maps to cost ~1 KB each (two Date objects
// of ~100 bytes, four nested objects, a 64-char hex key, per-entry copies of
// "person", "aal1", "password"...). Here an entry is one object with nine
// fields and no nesting (~360 bytes with its key and strings; bench/README.md):
//  - the strings that differ per session (session id, identity id, email) are
//    kept as they are;
//  - names are interned (a few thousand first/last names cover most users);
//  - what few sessions differ in (schema, aal, amr, active, identity state,
//    email verified, whether a name is set) is one shared, interned `SessionShape`;
//  - times are numbers: the session's expiry in ms, and authenticated-at and the
//    cache deadline as offsets from it (small integers, stored unboxed).
// Reading builds a fresh KratosSession, so a caller can never alter the cache.
import type { Aal, KratosSession, KratosTraits } from "@gatehouse/kratos";

/** What sessions have in common, shared by every entry of the same kind. */
export interface SessionShape {
  readonly schemaId: string;
  readonly aal: Aal;
  /** Frozen and shared: copied on read. */
  readonly amr: readonly string[];
  readonly active: boolean;
  readonly state: "active" | "inactive";
  readonly emailVerified: boolean;
  /** traits.name is present (possibly empty), as opposed to absent. */
  readonly hasName: boolean;
}

/**
 * A map from a value to its one shared copy, bounded: when full it starts over
 * (entries made before keep their copies), so values chosen by users (names)
 * can never grow it without limit.
 */
export class Interner<T> {
  readonly #max: number;
  readonly #map = new Map<string, T>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string, make: () => T): T {
    const hit = this.#map.get(key);
    if (hit !== undefined) return hit;
    if (this.#map.size >= this.#max) this.#map.clear();
    const v = make();
    this.#map.set(key, v);
    return v;
  }
}

const names = new Interner<string>(20_000);
const shapes = new Interner<SessionShape>(1_000);

const internName = (s: string | undefined): string | undefined => (s === undefined ? undefined : names.get(s, () => s));

function shapeOf(s: KratosSession): SessionShape {
  const schemaId = s.identity.schemaId;
  const hasName = s.identity.traits.name !== undefined;
  const key = JSON.stringify([schemaId, s.aal, s.amr, s.active, s.identity.state, s.identity.emailVerified, hasName]);
  return shapes.get(key, () =>
    Object.freeze({
      schemaId,
      aal: s.aal,
      amr: Object.freeze([...s.amr]),
      active: s.active,
      state: s.identity.state,
      emailVerified: s.identity.emailVerified,
      hasName,
    }),
  );
}

export class CompactSession {
  readonly sid: string;
  readonly iid: string;
  readonly email: string;
  readonly first: string | undefined;
  readonly last: string | undefined;
  readonly shape: SessionShape;
  /** Session expiry, epoch ms. */
  readonly expMs: number;
  /** expMs − authenticatedAt (ms). */
  readonly authOffMs: number;
  /** expMs − the moment this cache entry stops being used (ms). */
  readonly untilOffMs: number;

  constructor(s: KratosSession, untilMs: number) {
    const traits = s.identity.traits;
    this.sid = s.id;
    this.iid = s.identity.id;
    this.email = traits.email;
    this.first = internName(traits.name?.first);
    this.last = internName(traits.name?.last);
    this.shape = shapeOf(s);
    this.expMs = s.expiresAt.getTime();
    this.authOffMs = this.expMs - s.authenticatedAt.getTime();
    this.untilOffMs = this.expMs - untilMs;
  }

  /** When this entry stops being served from the cache, epoch ms. */
  get untilMs(): number {
    return this.expMs - this.untilOffMs;
  }

  /** A fresh KratosSession equal to the one this entry was made from. */
  toSession(): KratosSession {
    const sh = this.shape;
    const traits: KratosTraits = { email: this.email };
    if (sh.hasName) {
      const name: { first?: string; last?: string } = {};
      if (this.first !== undefined) name.first = this.first;
      if (this.last !== undefined) name.last = this.last;
      traits.name = name;
    }
    return {
      id: this.sid,
      active: sh.active,
      expiresAt: new Date(this.expMs),
      authenticatedAt: new Date(this.expMs - this.authOffMs),
      aal: sh.aal,
      amr: sh.amr.slice(),
      identity: {
        id: this.iid,
        schemaId: sh.schemaId,
        state: sh.state,
        traits,
        emailVerified: sh.emailVerified,
      },
    };
  }
}
