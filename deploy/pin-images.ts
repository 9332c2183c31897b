#!/usr/bin/env node
// Pins the images a release built into one environment's Gatehouse values: image.tag and
// each component's image.digest, so the cluster pulls exactly what was built and tested
// (the tag stays for people reading it). Run by .github/workflows/release.yml after the
// images are pushed; promoting a release to another environment is the same command.
//
//   node deploy/pin-images.ts <env> --tag <version> auth-service=sha256:<hex> gateway=sha256:<hex> example-web=sha256:<hex>
//
// Edits deploy/environments/<env>.gatehouse.yaml in place, keeping its comments.
import { readFileSync, writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { type Document, parseDocument } from "yaml";
import { loadEnvironment, REPO_ROOT } from "./lib/environments.ts";

/** Image name (apps/<name>/Dockerfile) → the chart's values key of the component that runs it. */
export const COMPONENTS: Record<string, string> = {
  "auth-service": "authService",
  gateway: "gateway",
  "example-web": "web",
};

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** The values file's text with the tag and digests set; throws on anything it would not pin. */
export function pinImages(text: string, tag: string, digests: Record<string, string>): string {
  if (!TAG.test(tag) || tag === "latest") throw new Error(`--tag: "${tag}" is not a pinnable tag`);
  const missing = Object.keys(COMPONENTS).filter((c) => !digests[c]);
  if (missing.length) throw new Error(`no digest for ${missing.join(", ")}: every image of a release is pinned`);
  const doc: Document = parseDocument(text);
  if (doc.errors.length) throw new Error(`not YAML: ${doc.errors[0]?.message}`);
  doc.setIn(["image", "tag"], tag);
  for (const [image, digest] of Object.entries(digests)) {
    const key = COMPONENTS[image];
    if (!key) throw new Error(`unknown image "${image}" (expected ${Object.keys(COMPONENTS).join(", ")})`);
    if (!DIGEST.test(digest)) throw new Error(`${image}: "${digest}" is not sha256:<64 hex>`);
    doc.setIn([key, "image", "digest"], digest);
  }
  return doc.toString({ lineWidth: 0 });
}

export function main(argv: string[]): number {
  const [env, ...rest] = argv;
  const t = rest.indexOf("--tag");
  const tag = t >= 0 ? (rest[t + 1] ?? "") : "";
  const pairs = rest.filter((_, i) => i !== t && i !== t + 1);
  if (!env || !tag || pairs.some((p) => !p.includes("="))) {
    console.error("usage: node deploy/pin-images.ts <env> --tag <version> <image>=sha256:<hex> …");
    return 2;
  }
  try {
    const file = resolve(REPO_ROOT, loadEnvironment(env).gatehouseValues);
    const digests = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
    writeFileSync(file, pinImages(readFileSync(file, "utf8"), tag, digests));
    console.log(`pinned ${Object.keys(digests).join(", ")} at ${tag} in ${relative(REPO_ROOT, file)}`);
    return 0;
  } catch (e) {
    console.error(`pin-images: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
