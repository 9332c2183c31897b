// Declared by test/global-setup.ts, which this package's tsconfig does not include;
// repeated here so `tsc -p packages/guard` type-checks the tests.
declare module "vitest" {
  export interface ProvidedContext {
    stack: Record<string, string>;
  }
}

export {};
