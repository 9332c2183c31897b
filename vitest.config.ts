import { defineConfig } from "vitest/config";

// Generous bounds for a shared 2-core machine; nothing asserts on time.
const bounds = { testTimeout: 60_000, hookTimeout: 120_000 };

// One run covers every package and app, in two groups. The suite: its global setup
// starts the test stack (real Postgres, Redis, Kratos, mail catcher) once, on ports
// that do not collide with a dev stack, and hands its URLs to the tests. Then, alone
// (groupOrder 1: after the suite, so neither slows the other down), the short form of
// `pnpm chaos`, which starts a stack of its own and kills parts of it under load.
export default defineConfig({
  test: {
    reporters: ["default"],
    projects: [
      {
        test: {
          name: "suite",
          include: [
            "test/**/*.test.ts",
            "packages/*/test/**/*.test.ts",
            "apps/*/test/**/*.test.ts",
            "tools/*/test/**/*.test.ts",
            "sdk/*/test/**/*.test.ts",
          ],
          exclude: ["tools/chaos/test/**", "**/node_modules/**"],
          globalSetup: ["test/global-setup.ts"],
          pool: "forks",
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
          ...bounds,
        },
      },
      {
        test: {
          name: "chaos",
          include: ["tools/chaos/test/**/*.test.ts"],
          pool: "forks",
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
          ...bounds,
        },
      },
    ],
  },
});
