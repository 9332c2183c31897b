import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isAlive, startProcess, waitReady } from "../../tools/stack/supervisor.ts";

describe("stack supervisor", () => {
  it("a service that never becomes ready is stopped, not left running without a record", async () => {
    const log = join(mkdtempSync(join(tmpdir(), "sup-")), "never.log");
    const pid = startProcess({
      name: "never",
      command: process.execPath,
      args: ["-e", "setInterval(() => {}, 1000)"],
      log,
    });
    expect(isAlive(pid)).toBe(true);
    await expect(waitReady("never", pid, log, async () => false, 500)).rejects.toThrow(
      /never was not ready after 500 ms/,
    );
    expect(isAlive(pid)).toBe(false);
  });

  it("a service that exits during start-up is reported with its log", async () => {
    const log = join(mkdtempSync(join(tmpdir(), "sup-")), "crash.log");
    const pid = startProcess({
      name: "crash",
      command: process.execPath,
      args: ["-e", "console.error('bad config: PORT'); process.exit(3)"],
      log,
    });
    await expect(waitReady("crash", pid, log, async () => false, 10_000)).rejects.toThrow(
      /crash exited during start-up:[\s\S]*bad config: PORT/,
    );
  });
});
