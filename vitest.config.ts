import { configDefaults, defineConfig } from "vitest/config";

// Two projects, one run (`pnpm test`, `./gatehouse test`):
//  - unit: files named *.unit.test.ts. They need nothing running: no Postgres, Redis
//    or Kratos (at most a server of their own on a free port), so no stack is started
//    for them. `pnpm test:unit`: seconds.
//  - integration: every other test file. The global setup starts the test stack (real
//    Postgres, Redis, Kratos, mail catcher) once, on ports that do not collide with a
//    dev stack, and hands its URLs to the tests.
const ROOTS = ["test", "packages/*/test", "apps/*/test", "tools/*/test"];
const UNIT = ROOTS.map((r) => `${r}/**/*.unit.test.ts`);

export default defineConfig({
  test: {
    pool: "forks",
    maxWorkers: 2,
    // Generous bounds for a shared 2-core machine; nothing asserts on time.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: "unit", include: UNIT } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ROOTS.map((r) => `${r}/**/*.test.ts`),
          exclude: [...configDefaults.exclude, ...UNIT],
          globalSetup: ["test/global-setup.ts"],
        },
      },
    ],
  },
});
