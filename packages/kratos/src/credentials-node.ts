// Node only: the credential digest on node:crypto ("binary" is latin1), synchronous and ~70× cheaper than
// Web Crypto's (see credentials.ts). The same bytes as digestCredential.
import { hash } from "node:crypto";
import { digestInput } from "./credentials.ts";

/** digestCredential (a 32-character latin1 SHA-256), synchronously. */
export function digestCredentialSync(kind: string, value: string): string {
  return hash("sha256", digestInput(kind, value), "binary");
}
