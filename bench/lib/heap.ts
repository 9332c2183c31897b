// Heap cost of N cached sessions in the auth-service's in-process session cache.
// Run by bench/auth-service.ts as `node --expose-gc bench/lib/heap.ts <layout> <n>`,
// one fresh process per measurement:
//   compact  the real SessionResolver (src/exchange/sessions.ts) filled through
//            resolve() from a stand-in Kratos client that answers with realistic
//            whoami JSON (bench/lib/session-fixtures.ts), parsed and mapped like
//            the real client does;
//   seed     the layout the cache had before (an LRU of { session: KratosSession,
//            expiresAtMs } keyed by the 64-char hex credential hash), filled with
//            the same sessions: the reference the compact figure is compared with.
// Prints one JSON line: { layout, n, entries, bytes, bytesPerEntry }.
import { createHash } from "node:crypto";
import { InvalidationBus } from "../../apps/auth-service/src/cache/bus.ts";
import { SessionResolver } from "../../apps/auth-service/src/exchange/sessions.ts";
import { Metrics } from "../../apps/auth-service/src/ops/metrics.ts";
import { type KratosClient, type KratosSession, mapSession } from "../../packages/kratos/src/index.ts";
import { LruCache } from "../../packages/tokens/src/index.ts";
import { sessionToken, whoamiJson } from "./session-fixtures.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");
const layout = process.argv[2] ?? "compact";
const n = Number(process.argv[3] ?? 100_000);
const TTL_SEC = 3_600;

function heapUsed(): number {
  for (let i = 0; i < 4; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

/** What the real client does with a whoami body: JSON.parse, then mapSession. */
const answer = (i: number): KratosSession => mapSession(JSON.parse(whoamiJson(i)) as unknown);

async function compact(): Promise<{ before: number; after: number; entries: number }> {
  let next = 0;
  const kratos = { whoami: async () => answer(next) } as unknown as KratosClient;
  // The resolver only logs on Redis failures (there is no Redis here).
  const log = { warn() {}, info() {}, error() {}, debug() {} } as unknown as ConstructorParameters<
    typeof InvalidationBus
  >[0];
  const resolver = new SessionResolver({
    kratos,
    bus: new InvalidationBus(log),
    ttlSec: TTL_SEC,
    size: n,
    metrics: new Metrics(),
    log,
  });
  // Warm the code paths (and the metric series) so the delta is the entries only.
  next = n + 1;
  await resolver.resolve({ kind: "token", value: sessionToken(n + 1) });
  const before = heapUsed();
  for (let i = 0; i < n; i++) {
    next = i;
    await resolver.resolve({ kind: "token", value: sessionToken(i) });
  }
  const after = heapUsed();
  // Every entry must be a memory hit now (no Kratos call): proves they are all cached.
  let misses = 0;
  kratos.whoami = async () => {
    misses++;
    return answer(0);
  };
  for (let i = 0; i < n; i += 997) await resolver.resolve({ kind: "token", value: sessionToken(i) });
  if (misses > 0) throw new Error(`${misses} sampled sessions were not in the cache`);
  return { before, after, entries: n };
}

async function seed(): Promise<{ before: number; after: number; entries: number }> {
  const l1 = new LruCache<string, { session: KratosSession; expiresAtMs: number }>(n);
  const before = heapUsed();
  for (let i = 0; i < n; i++) {
    const key = createHash("sha256")
      .update(`token:${sessionToken(i)}`)
      .digest("hex");
    const session = answer(i);
    l1.set(key, { session, expiresAtMs: Math.min(session.expiresAt.getTime(), Date.now() + TTL_SEC * 1000) });
  }
  const after = heapUsed();
  return { before, after, entries: l1.size };
}

const r = layout === "seed" ? await seed() : await compact();
const bytes = r.after - r.before;
console.log(JSON.stringify({ layout, n, entries: r.entries, bytes, bytesPerEntry: bytes / r.entries }));
