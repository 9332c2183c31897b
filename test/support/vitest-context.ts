// What the global setup provides to every test (see test/global-setup.ts).
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    stack: Record<string, string>;
  }
}
