// `next build`, once per source version. The build goes to .next/b-<hash>/, where
// <hash> covers this app's sources, the workspace packages it bundles and the
// installed Next/React versions; a later start with the same sources skips the
// build. Concurrent callers (two test stacks starting at once) wait for one build
// (a lock directory, taken over when its owner died). Old builds are pruned.
//
//   node scripts/build.ts          build if needed; prints the build directory
//   node scripts/build.ts --hash   print the source hash only
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, type Stats, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const APP_DIR = resolve(import.meta.dirname, "..");
const REPO = resolve(APP_DIR, "../..");
const NEXT_DIR = join(APP_DIR, ".next");
const KEEP_BUILDS = 3;
const SKIP = new Set(["node_modules", ".next", ".turbo", "next-env.d.ts", "README.md", ".gitignore"]);

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (SKIP.has(name)) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile()) out.push(p);
  }
}

function versionOf(pkg: string): string {
  try {
    const req = createRequire(join(APP_DIR, "package.json"));
    return (JSON.parse(readFileSync(req.resolve(`${pkg}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

/** Hash of everything that ends up in the build. */
export function sourceHash(): string {
  const files: string[] = [];
  walk(APP_DIR, files);
  for (const pkg of ["guard", "tokens", "kratos"]) {
    const dir = join(REPO, "packages", pkg);
    files.push(join(dir, "package.json"));
    walk(join(dir, "src"), files);
  }
  const h = createHash("sha256");
  for (const f of files) {
    h.update(relative(REPO, f));
    h.update("\0");
    h.update(readFileSync(f));
    h.update("\0");
  }
  for (const pkg of ["next", "react", "react-dom", "@ory/client", "jose"]) h.update(`${pkg}@${versionOf(pkg)}\0`);
  h.update(`node ${process.versions.node.split(".")[0]}`);
  return h.digest("hex").slice(0, 16);
}

export interface BuildInfo {
  /** Relative to the app directory, as next.config.ts's distDir wants it. */
  distDir: string;
  hash: string;
  built: boolean;
  ms: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function lock(dir: string, log: (l: string) => void): Promise<() => void> {
  let waited = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, "pid"), String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(dir, "pid"), "utf8"));
      } catch {
        /* being created */
      }
      if (owner && !alive(owner)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (!waited) log(`another process (pid ${owner || "?"}) is building this version; waiting for it`);
      waited = true;
      await sleep(500);
    }
  }
}

function prune(keep: string, log: (l: string) => void): void {
  const builds = readdirSync(NEXT_DIR)
    .filter((n) => /^b-[0-9a-f]{16}$/.test(n) && n !== keep)
    .map((n) => ({ n, st: statSync(join(NEXT_DIR, n)) as Stats }))
    .sort((a, b) => b.st.mtimeMs - a.st.mtimeMs);
  for (const { n } of builds.slice(KEEP_BUILDS - 1)) {
    if (existsSync(join(NEXT_DIR, `${n}.lock`))) continue;
    log(`pruning old build .next/${n}`);
    rmSync(join(NEXT_DIR, n), { recursive: true, force: true });
    rmSync(join(NEXT_DIR, `tsconfig.${n}.json`), { force: true });
  }
}

function runNextBuild(distDir: string, tsconfig: string, log: (l: string) => void): Promise<void> {
  const nextBin = createRequire(join(APP_DIR, "package.json")).resolve("next/dist/bin/next");
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [nextBin, "build"], {
      cwd: APP_DIR,
      env: {
        ...process.env,
        EXAMPLE_WEB_DIST_DIR: distDir,
        EXAMPLE_WEB_TSCONFIG: tsconfig,
        NEXT_TELEMETRY_DISABLED: "1",
        NODE_ENV: "production",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const onData = (d: Buffer) => {
      for (const line of d.toString().split("\n")) if (line.trim()) log(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", rej);
    child.on("exit", (code) => (code === 0 ? res() : rej(new Error(`next build exited with ${code}`))));
  });
}

/**
 * A tsconfig (in .next/) extending the real one. Next adds its generated types to the
 * tsconfig it is given; this one is thrown away, so tsconfig.json never changes.
 */
export function throwawayTsconfig(): string {
  const cfg = {
    extends: "../tsconfig.json",
    include: ["../next-types.d.ts", "../**/*.ts", "../**/*.tsx"],
    exclude: ["../node_modules", "../.next"],
  };
  return `${JSON.stringify(cfg, null, 2)}\n`;
}

/** Builds unless a build of the current sources exists. */
export async function ensureBuild(log: (l: string) => void = (l) => console.log(l)): Promise<BuildInfo> {
  const t0 = performance.now();
  const hash = sourceHash();
  const name = `b-${hash}`;
  const distDir = `.next/${name}`;
  const abs = join(APP_DIR, distDir);
  const stamp = join(abs, "GATEHOUSE_BUILD_COMPLETE");
  mkdirSync(NEXT_DIR, { recursive: true });
  if (existsSync(stamp)) return { distDir, hash, built: false, ms: Math.round(performance.now() - t0) };
  const release = await lock(join(NEXT_DIR, `${name}.lock`), log);
  try {
    if (existsSync(stamp)) return { distDir, hash, built: false, ms: Math.round(performance.now() - t0) };
    rmSync(abs, { recursive: true, force: true });
    const tsconfig = `.next/tsconfig.${name}.json`;
    writeFileSync(join(APP_DIR, tsconfig), throwawayTsconfig());
    log(`building the web app (next build → ${distDir})`);
    await runNextBuild(distDir, tsconfig, log);
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
    try {
      prune(name, log);
    } catch {
      /* pruning is best effort */
    }
    const ms = Math.round(performance.now() - t0);
    log(`web app built in ${(ms / 1000).toFixed(1)} s`);
    return { distDir, hash, built: true, ms };
  } finally {
    release();
  }
}

if (import.meta.main) {
  if (process.argv.includes("--hash")) {
    console.log(sourceHash());
  } else {
    try {
      const info = await ensureBuild();
      console.log(info.built ? `build ready: ${info.distDir}` : `build cached: ${info.distDir} (${info.hash})`);
    } catch (e) {
      console.error((e as Error).message);
      process.exit(1);
    }
  }
}
