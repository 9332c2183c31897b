import { configDefaults, defineConfig } from "vitest/config";

// One run (`pnpm test`, `./gatehouse test`), three projects:
//  - unit: files named *.unit.test.ts. They need nothing running: no Postgres, Redis
//    or Kratos (at most a server of their own on a free port), so no stack is started
//    for them. `pnpm test:unit`: seconds.
//  - integration: every other test file. The global setup starts the test stack (real
//    Postgres, Redis, Kratos, mail catcher) once, on ports that do not collide with a
//    dev stack, and hands its URLs to the tests.
//  - chaos: alone, after the others (its own group, last, so neither slows the other down),
//    the short form of `pnpm chaos`, which starts a stack of its own and kills parts
//    of it under load.
const ROOTS = ["test", "packages/*/test", "apps/*/test", "tools/*/test", "sdk/*/test"];
const UNIT = ROOTS.map((r) => `${r}/**/*.unit.test.ts`);
const CHAOS = ["tools/chaos/test/**"];

// Generous bounds for a shared 2-core machine; nothing asserts on time.
const bounds = { testTimeout: 60_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    reporters: ["default"],
    projects: [
      {
        test: {
          name: "unit",
          include: UNIT,
          exclude: [...configDefaults.exclude, ...CHAOS],
          pool: "forks",
          maxWorkers: 2,
          // A group of its own, first: sharing the integration project's group (vitest
          // 4.1), some integration files ran without the stack env the global setup provides.
          sequence: { groupOrder: 0 },
          ...bounds,
        },
      },
      {
        test: {
          name: "integration",
          include: ROOTS.map((r) => `${r}/**/*.test.ts`),
          exclude: [...configDefaults.exclude, ...UNIT, ...CHAOS],
          globalSetup: ["test/global-setup.ts"],
          pool: "forks",
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          ...bounds,
        },
      },
      {
        test: {
          name: "chaos",
          include: CHAOS.map((c) => `${c}/*.test.ts`),
          pool: "forks",
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
          ...bounds,
        },
      },
    ],
  },
});
