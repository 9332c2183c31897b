// Preloaded into a bench's server processes (`node --import <this> main.ts`, see
// heapReportArgs in harness.ts): on SIGUSR2, writes what holds the process' memory to
// <BENCH_HEAP_REPORT>/<pid>.json: RSS, V8's heap spaces (size and used), code, and
// the memory outside the heap (Buffers, ArrayBuffers). Nothing else is touched.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { getHeapCodeStatistics, getHeapSpaceStatistics } from "node:v8";

const dir = process.env.BENCH_HEAP_REPORT;
if (dir) {
  process.on("SIGUSR2", () => {
    const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
    const m = process.memoryUsage();
    const code = getHeapCodeStatistics();
    writeFileSync(
      join(dir, `${process.pid}.json`),
      JSON.stringify({
        rss: mb(m.rss),
        heapTotal: mb(m.heapTotal),
        heapUsed: mb(m.heapUsed),
        external: mb(m.external),
        arrayBuffers: mb(m.arrayBuffers),
        spaces: Object.fromEntries(
          getHeapSpaceStatistics().map((s) => [s.space_name, { size: mb(s.space_size), used: mb(s.space_used_size) }]),
        ),
        code: mb(code.code_and_metadata_size + code.bytecode_and_metadata_size),
      }),
    );
  });
}
