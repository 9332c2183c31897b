// The README's Express snippet is an excerpt of examples/express-app.ts (which
// test/examples.test.ts runs against the stack): every line of it must be in the file,
// so the README cannot drift from code that runs (the raw JWT sent to the browser once did).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const readme = readFileSync(resolve(pkg, "README.md"), "utf8");
const example = readFileSync(resolve(pkg, "examples/express-app.ts"), "utf8");
// The Next.js snippet is the middleware test/packages/packed.test.ts builds into a fresh app.
const middleware = readFileSync(resolve(pkg, "../../test/packages/fixtures/next-app/middleware.ts"), "utf8");

/** The lines of the first ```ts block after `heading`, trimmed, blank ones dropped. */
function snippetAfter(heading: string): string[] {
  const section = readme.slice(readme.indexOf(heading));
  const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return snippet
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

describe("README", () => {
  it("the Express snippet is lines of examples/express-app.ts", () => {
    const section = readme.slice(readme.indexOf("\n## Express\n"));
    const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const lines = snippet.split("\n").map((l) => l.trim());
    expect(lines.filter(Boolean).length).toBeGreaterThan(10);
    const exampleLines = new Set(example.split("\n").map((l) => l.trim()));
    for (const line of lines.filter(Boolean)) expect(exampleLines.has(line), line).toBe(true);
    // What the browser gets: chosen fields, never the principal with its token.
    expect(snippet).not.toMatch(/res\.json\(req\.auth\)/);
  });

  it("the Next.js snippet is lines of the packed test's middleware", () => {
    const lines = snippetAfter("\n## Next.js middleware (Edge runtime)\n");
    expect(lines.length).toBeGreaterThan(10);
    const fixtureLines = new Set(middleware.split("\n").map((l) => l.trim()));
    for (const line of lines) expect(fixtureLines.has(line), line).toBe(true);
  });
});
