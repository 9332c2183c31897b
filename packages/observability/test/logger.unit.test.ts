import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { accessLineWriter, BatchedDestination, createServiceLogger } from "../src/logger.ts";

const LOGGER = resolve(import.meta.dirname, "../src/logger.ts");

describe("service logger", () => {
  it("batches lines and writes them in order, 64 at a time or when flushed", () => {
    const chunks: string[] = [];
    const d = new BatchedDestination({ write: (s: string) => chunks.push(s) });
    for (let i = 0; i < 63; i++) d.write(`${i}\n`);
    expect(chunks).toEqual([]);
    d.write("63\n");
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.split("\n").slice(0, -1)).toEqual(Array.from({ length: 64 }, (_, i) => String(i)));
    d.write("64\n");
    d.flushSync();
    expect(chunks).toEqual([chunks[0], "64\n"]);
  });

  it("loses no line when the process ends by exit() or by an uncaught error", async () => {
    const script = (end: string) =>
      `import { createServiceLogger } from ${JSON.stringify(LOGGER)};
       const log = createServiceLogger({ service: "t", level: "info" });
       for (let i = 0; i < 10; i++) log.info({ i }, "line");
       setTimeout(() => { ${end} }, 20);`;
    for (const end of ["process.exit(0)", "throw new Error('boom')"]) {
      const r = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script(end)]).catch(
        (e: { stdout: string }) => e,
      );
      const lines = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { i: number; service: string });
      expect(lines.map((l) => l.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(lines[0]?.service).toBe("t");
    }
  });

  it("censors the configured paths", () => {
    const out: string[] = [];
    const log = createServiceLogger(
      { service: "t", level: "info", redact: ["cookie", "*.token"] },
      { write: (s: string) => void out.push(s) },
    );
    log.info({ cookie: "c-secret", nested: { token: "t-secret" }, ok: 1 }, "x");
    expect(out.join("")).not.toMatch(/c-secret|t-secret/);
    expect(JSON.parse(out[0] ?? "{}")).toMatchObject({ cookie: "[redacted]", nested: { token: "[redacted]" }, ok: 1 });
  });

  it("access lines are pino-format JSON, whatever the path holds, and follow the level", () => {
    const out: string[] = [];
    const dest = { write: (s: string) => void out.push(s) };
    const line = { request_id: "r1", method: "GET", path: '/a"b\\c\n', route: "api", status: 200, ms: 1.5 };
    accessLineWriter(createServiceLogger({ service: "gw", level: "info" }, dest))({ ...line, client: "10.0.0.1" });
    expect(JSON.parse(out[0] ?? "")).toMatchObject({
      level: 30,
      service: "gw",
      msg: "request",
      ...line,
      client: "10.0.0.1",
    });
    expect(typeof JSON.parse(out[0] ?? "").time).toBe("number");
    accessLineWriter(createServiceLogger({ service: "gw", level: "warn" }, dest))(line);
    expect(out).toHaveLength(1);
  });
});
