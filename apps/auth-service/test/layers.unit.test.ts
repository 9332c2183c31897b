// The layers below HTTP say what went wrong in domain terms (DomainError,
// DependencyUnavailableError, KratosError); only src/http/ turns that into a status
// and an error code, once (toApiError). So nothing below it imports the HTTP layer or
// Express, and nothing below it publishes on the invalidation channel by hand.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../src");
const BELOW_HTTP = ["domain", "exchange", "revocation", "keys", "cache", "outbox", "events", "db"];

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (p.endsWith(".ts")) yield p;
  }
}

const importsOf = (source: string) => [...source.matchAll(/\bfrom\s+["']([^"']+)["']/g)].map((m) => m[1] as string);

describe("auth-service layers", () => {
  const below = BELOW_HTTP.flatMap((d) => [...files(join(SRC, d))]);

  it("nothing below src/http imports it, Express or the HTTP error type", () => {
    expect(below.length).toBeGreaterThan(20);
    const offending = below.flatMap((file) =>
      importsOf(readFileSync(file, "utf8"))
        .filter((spec) => /(^|\/)http\//.test(spec) || spec === "express" || spec.startsWith("express/"))
        .map((spec) => `${relative(SRC, file)} imports ${spec}`),
    );
    expect(offending).toEqual([]);
    expect(below.filter((f) => /\bApiError\b/.test(readFileSync(f, "utf8"))).map((f) => relative(SRC, f))).toEqual([]);
  });

  it("no route handler announces by hand: the channel is published on by the bus alone", () => {
    const publishers = [...files(SRC)]
      .filter((f) => /INVALIDATION_CHANNEL/.test(readFileSync(f, "utf8")))
      .map((f) => relative(SRC, f));
    expect(publishers).toEqual(["cache/bus.ts"]);
    const http = [...files(join(SRC, "http")), ...files(join(SRC, "webhooks"))];
    expect(http.filter((f) => /\bbus\.publish\(|\.forgetSession\(/.test(readFileSync(f, "utf8")))).toEqual([]);
  });

  it("the checks themselves see an import of the HTTP layer", () => {
    expect(importsOf('import { ApiError } from "../http/errors.ts";\nimport type { Request } from "express";')).toEqual(
      ["../http/errors.ts", "express"],
    );
  });
});
