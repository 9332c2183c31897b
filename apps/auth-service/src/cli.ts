#!/usr/bin/env node
// gatehouse-auth: operator commands for the auth-service.
//   node apps/auth-service/src/cli.ts migrate
// Exit codes: 0 ok, 1 the command failed (e.g. database unreachable), 2 usage or
// configuration error. Errors print one line, never a stack trace, and never echo
// DATABASE_URL (it carries the password).
import { isSigningAlg, parseKek, parseKekList } from "@gatehouse/tokens";
import pino from "pino";
import { InvalidationBus } from "./cache/bus.ts";
import { createDb, MigrationError, migrateToLatest } from "./db/index.ts";
import { resealSecrets } from "./domain/webhooks.ts";
import { SecretBox } from "./events/secret-box.ts";
import { type Keks, KeyStore, reencryptSigningKeys, UndecryptableKeyError } from "./keys/store.ts";

const USAGE = `usage: gatehouse-auth <command>

commands:
  migrate               apply pending database migrations (reads DATABASE_URL)
  rotate-keys [--force] one signing-key rotation step (reads DATABASE_URL, SIGNING_KEY_KEK,
                        SIGNING_KEY_KEK_PREVIOUS, TOKEN_ALG, TOKEN_TTL_SECONDS); --force promotes
                        the next key at once
  reencrypt-keys        re-encrypt every stored signing key under SIGNING_KEY_KEK, in one transaction,
                        then every webhook subscription's secret
                        (reads DATABASE_URL, SIGNING_KEY_KEK, SIGNING_KEY_KEK_PREVIOUS): the last step
                        of a key-encryption-key rotation
  help      show this message
`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** A problem with how the CLI was called or configured: exit code 2. */
class UsageError extends Error {
  override name = "UsageError";
}

const URL_EXAMPLE = "postgres://user:password@127.0.0.1:5432/gatehouse";

export function databaseUrlFromEnv(env: NodeJS.ProcessEnv): string {
  const raw = env.DATABASE_URL?.trim();
  if (!raw) throw new UsageError(`DATABASE_URL is not set; expected a URL such as ${URL_EXAMPLE}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`DATABASE_URL is not a valid URL; expected a URL such as ${URL_EXAMPLE}`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new UsageError(`DATABASE_URL must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  if (url.hostname === "" && !url.searchParams.has("host")) {
    throw new UsageError(`DATABASE_URL names no host; expected a URL such as ${URL_EXAMPLE}`);
  }
  return raw;
}

/** SIGNING_KEY_KEK (required) and SIGNING_KEY_KEK_PREVIOUS (optional, comma-separated), as the service reads them. */
function keksFromEnv(env: NodeJS.ProcessEnv): Keks {
  if (!env.SIGNING_KEY_KEK)
    throw new UsageError("SIGNING_KEY_KEK is not set (the key-encryption key the auth-service uses)");
  let current: Uint8Array;
  try {
    current = parseKek(env.SIGNING_KEY_KEK);
  } catch (e) {
    throw new UsageError(`SIGNING_KEY_KEK: ${(e as Error).message}`);
  }
  let previous: Uint8Array[];
  try {
    previous = parseKekList(env.SIGNING_KEY_KEK_PREVIOUS ?? "");
  } catch (e) {
    throw new UsageError(`SIGNING_KEY_KEK_PREVIOUS: ${(e as Error).message}`);
  }
  return { current, previous };
}

// Node reports "localhost" refusals as an AggregateError with an empty message.
function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return [...new Set(error.errors.map(describe))].join("; ");
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

async function migrate(env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const db = createDb(databaseUrlFromEnv(env), { max: 1 });
  try {
    const { applied } = await migrateToLatest(db);
    if (applied.length === 0) io.out("database is up to date; no migrations applied");
    else for (const name of applied) io.out(`applied ${name}`);
    return 0;
  } finally {
    await db.destroy();
  }
}

/**
 * One rotation step (see README "Rotating signing keys"): publish a next key; or,
 * once it has been published long enough (or with --force), promote it and start
 * retiring the old one; retire keys whose tokens have all expired. Running
 * instances pick the change up within 30 s (or at once through Redis pub/sub).
 */
async function rotateKeys(env: NodeJS.ProcessEnv, io: CliIo, force: boolean): Promise<number> {
  const url = databaseUrlFromEnv(env);
  const keks = keksFromEnv(env);
  const alg = env.TOKEN_ALG ?? "RS256";
  if (!isSigningAlg(alg)) throw new UsageError(`TOKEN_ALG must be RS256, ES256 or EdDSA, not ${alg}`);
  const ttl = Number(env.TOKEN_TTL_SECONDS ?? 300);
  if (!Number.isInteger(ttl) || ttl < 30 || ttl > 3600)
    throw new UsageError("TOKEN_TTL_SECONDS must be an integer between 30 and 3600");
  const db = createDb(url, { max: 2 });
  const log = pino({ level: "silent" });
  const bus = new InvalidationBus(log);
  try {
    const store = new KeyStore({
      db,
      kek: keks.current,
      // After rotating, the store reloads the active key, which may still be under a previous KEK.
      previousKeks: keks.previous,
      policy: { alg, tokenTtlSec: ttl, publishLeadSec: 300, leewaySec: 30 },
      bus,
      log,
    });
    const r = await store.rotate({ actor: "operator" }, { force });
    if (r.created)
      io.out(
        `published next key ${r.created}${force ? "" : " (it starts signing after 300 s; run rotate-keys again then)"}`,
      );
    if (r.promoted) io.out(`active key is now ${r.promoted}${r.retiring ? `; ${r.retiring} is retiring` : ""}`);
    for (const kid of r.retired) io.out(`retired ${kid}`);
    if (!r.created && !r.promoted && r.retired.length === 0) io.out("nothing to do: the next key is not due yet");
    return 0;
  } finally {
    await db.destroy();
  }
}

/**
 * The last step of a key-encryption-key rotation (see README "Rotating the
 * key-encryption key"): every stored signing key, whatever its state, ends up
 * encrypted under SIGNING_KEY_KEK, all in one transaction. A key that no configured
 * KEK opens aborts the whole command and changes nothing. Public keys do not change,
 * so neither do the JWKS and issued tokens; running it again finds nothing to do.
 */
async function reencryptKeys(env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const url = databaseUrlFromEnv(env);
  const keks = keksFromEnv(env);
  const db = createDb(url, { max: 1 });
  try {
    const r = await reencryptSigningKeys(db, keks, { actor: "operator" });
    for (const kid of r.reencrypted) io.out(`re-encrypted ${kid}`);
    io.out(
      `re-encrypted ${r.reencrypted.length} of ${r.total} signing keys under SIGNING_KEY_KEK ` +
        `(${r.total - r.reencrypted.length} already were)`,
    );
    const resealed = await resealSecrets(db, new SecretBox(keks.current, keks.previous));
    io.out(`re-sealed ${resealed} webhook subscription secrets under SIGNING_KEY_KEK`);
    if (keks.previous.length > 0)
      io.out("once every instance runs with this SIGNING_KEY_KEK, SIGNING_KEY_KEK_PREVIOUS can be removed");
    return 0;
  } catch (error) {
    if (error instanceof UndecryptableKeyError) {
      io.err(`error: ${error.message}; no key was re-encrypted`);
      return 1;
    }
    throw error;
  } finally {
    await db.destroy();
  }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "migrate":
        if (rest.length > 0) throw new UsageError(`migrate takes no arguments, got: ${rest.join(" ")}`);
        return await migrate(env, io);
      case "rotate-keys": {
        const known = new Set(["--force"]);
        for (const a of rest) if (!known.has(a)) throw new UsageError(`rotate-keys takes only --force, got: ${a}`);
        return await rotateKeys(env, io, rest.includes("--force"));
      }
      case "reencrypt-keys":
        if (rest.length > 0) throw new UsageError(`reencrypt-keys takes no arguments, got: ${rest.join(" ")}`);
        return await reencryptKeys(env, io);
      // New subcommands go here: one case each, returning an exit code.
      case "help":
      case "--help":
      case "-h":
        io.out(USAGE.trimEnd());
        return 0;
      case undefined:
        io.err(USAGE.trimEnd());
        return 2;
      default:
        io.err(`unknown command: ${command}\n\n${USAGE.trimEnd()}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      return 2;
    }
    // MigrationError messages already say what failed ("cannot migrate: …", "migration 0002_x failed: …").
    io.err(
      error instanceof MigrationError ? `error: ${error.message}` : `error: ${command} failed: ${describe(error)}`,
    );
    return 1;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  process.exitCode = code;
}
