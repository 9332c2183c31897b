// What `next-env.d.ts` (written by `next build`, not committed: it names the build
// directory) gives the type checker, so `pnpm typecheck` works before any build.
/// <reference types="next" />
/// <reference types="next/image-types/global" />
