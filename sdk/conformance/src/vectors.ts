// The vector file's shape, shared by the generator and the Node test.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { JWK } from "jose";

export const VECTORS_PATH = fileURLToPath(new URL("../vectors.json", import.meta.url));

export interface Rule {
  roles?: string[];
  permissions?: string[];
  aal?: "aal2";
}

export interface Expectation {
  status: 200 | 401 | 403;
  /** The error body's `error` (the Node guard's codes). */
  error?: "invalid_token" | "forbidden" | "aal2_required";
  /** Why the verifier refused the token (@gatehouse/tokens' TokenError codes). */
  reason?: string;
}

export interface Case {
  name: string;
  token: string;
  rule?: Rule;
  expect: Expectation;
}

export interface Vectors {
  description: string;
  generator: string;
  /** Seconds since the epoch: the clock every SDK verifies with. */
  now: number;
  leeway_sec: number;
  issuer: string;
  audience: string;
  algorithms: string[];
  jwks: { keys: JWK[] };
  cases: Case[];
}

export function loadVectors(): Vectors {
  return JSON.parse(readFileSync(VECTORS_PATH, "utf8")) as Vectors;
}
