// Signing and verification throughput of @gatehouse/tokens per algorithm, for both
// signers: createSigner (Web Crypto, any runtime) and createNodeSigner
// (@gatehouse/tokens/node, what the auth-service uses).
// Run: node bench/tokens-sign.ts   (about 20 s; sequential, one operation at a time,
// so the numbers are per-core latency, not what a server reaches with concurrency)
import {
  createLocalJwks,
  createSigner,
  createVerifier,
  generateSigningKey,
  type MintInput,
  mintClaims,
  SIGNING_ALGS,
  type SigningAlg,
} from "../packages/tokens/src/index.ts";
import { createNodeSigner } from "../packages/tokens/src/node.ts";

const MEASURE_MS = 2_000;
const WARMUP_MS = 150;

const input: MintInput = {
  iss: "https://auth.gatehouse.bench",
  aud: "app.gatehouse.bench",
  sub: "0b6c2a3e-1f2d-4c5b-9a8e-7d6c5b4a3f21",
  sid: "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
  email: "ada@example.com",
  email_verified: true,
  name: { first: "Ada", last: "Lovelace" },
  org: "org_123",
  plan: "pro",
  role: "admin",
  teams: [{ id: "team_core", role: "lead" }],
  perms: ["billing:read", "members:invite", "members:remove"],
  aal: "aal2",
  amr: ["password", "totp"],
};

interface Result {
  opsPerSec: number;
  usPerOp: number;
}

async function measure(op: () => Promise<unknown>, ms: number): Promise<Result> {
  const end = performance.now() + ms;
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now < end) {
    // Batches of 16 keep the clock reads out of the measurement.
    for (let i = 0; i < 16; i++) await op();
    count += 16;
    now = performance.now();
  }
  const elapsed = (now - start) / 1000;
  return { opsPerSec: count / elapsed, usPerOp: (elapsed * 1e6) / count };
}

const OPS = ["sign (node:crypto)", "sign (Web Crypto)", "verify"] as const;
type Op = (typeof OPS)[number];

async function bench(alg: SigningAlg): Promise<Record<Op, Result>> {
  const key = await generateSigningKey(alg);
  const signer = await createSigner(key);
  const nodeSigner = await createNodeSigner(key);
  const now = Math.floor(Date.now() / 1000);
  const claims = mintClaims(input, { now, lifetimeSec: 300, notAfter: now + 3600 });
  const verifier = createVerifier({
    jwks: createLocalJwks([key.publicJwk]),
    issuer: input.iss,
    audience: "app.gatehouse.bench",
  });
  const token = await signer.sign(claims);

  const run = async (op: () => Promise<unknown>) => {
    await measure(op, WARMUP_MS);
    return measure(op, MEASURE_MS);
  };
  return {
    "sign (node:crypto)": await run(() => nodeSigner.sign(claims)),
    "sign (Web Crypto)": await run(() => signer.sign(claims)),
    verify: await run(() => verifier.verify(token)),
  };
}

const started = performance.now();
const results = new Map<SigningAlg, Record<Op, Result>>();
for (const alg of SIGNING_ALGS) results.set(alg, await bench(alg));

const baseline = results.get("RS256");
if (baseline === undefined) throw new Error("RS256 baseline missing");

const rows: string[][] = [["alg", "op", "ops/s", "µs/op", "vs RS256 (ops/s)"]];
for (const [alg, r] of results) {
  for (const op of OPS) {
    rows.push([
      alg,
      op,
      r[op].opsPerSec.toFixed(0),
      r[op].usPerOp.toFixed(1),
      `${(r[op].opsPerSec / baseline[op].opsPerSec).toFixed(2)}x`,
    ]);
  }
}
const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? [];
for (const row of rows) console.log(row.map((cell, i) => cell.padStart(widths[i] ?? 0)).join("  "));
console.log(
  `\nnode ${process.version}, ${process.platform}/${process.arch}; ${MEASURE_MS} ms per row, sequential; ` +
    `verify = full check (header, signature, claims), verified-token cache off; ` +
    `total ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
