interface Slot<V> {
  value: V;
  /** The cache's clock when the entry was written or last moved to the back. */
  tick: number;
}

/**
 * A bounded cache that evicts the entry least recently moved to the back of a Map's
 * insertion order. A hit moves its entry to the back only when the entry has drifted
 * past the newest quarter (more than max/4 writes and moves since it was last put
 * there); below 8 entries that is every hit, a strict LRU.
 *
 * Why not a strict LRU: moving the entry on every hit (delete + set on the Map) was
 * most of a cache hit's cost, and every warm request hits several of these caches.
 * Here a hit on a recently used entry is one Map lookup. The guarantee kept: an entry
 * used within the last ~3/4 max writes and moves is never the one evicted. At most
 * `max` entries are ever held.
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #drift: number;
  readonly #map = new Map<K, Slot<V>>();
  #tick = 0;

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError("LRU size must be a positive integer");
    this.#max = max;
    this.#drift = max < 8 ? 0 : Math.floor(max / 4);
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    if (this.#tick - slot.tick > this.#drift) this.#moveToBack(key, slot);
    return slot.value;
  }

  set(key: K, value: V): void {
    const slot = this.#map.get(key);
    if (slot !== undefined) {
      slot.value = value;
      if (this.#tick - slot.tick > this.#drift) this.#moveToBack(key, slot);
      return;
    }
    if (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, { value, tick: ++this.#tick });
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  #moveToBack(key: K, slot: Slot<V>): void {
    this.#map.delete(key);
    slot.tick = ++this.#tick;
    this.#map.set(key, slot);
  }
}
