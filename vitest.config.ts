import { defineConfig } from "vitest/config";

// One run covers every package and app. The global setup starts the test stack
// (real Postgres, Redis, Kratos, mail catcher) once, on ports that do not collide
// with a dev stack, and hands its URLs to the tests.
export default defineConfig({
  test: {
    include: [
      "test/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
      "tools/*/test/**/*.test.ts",
    ],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    maxWorkers: 2,
    // Generous bounds for a shared 2-core machine; nothing asserts on time.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
