// Debian's Chromium driven by playwright-core (never a downloaded browser), with the
// test stack's hostnames (*.<domain>) resolved to 127.0.0.1, as every browser test
// here needs it.
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * `secureOrigins`: plain-http origins Chromium treats as secure contexts, as WebAuthn
 * (passkeys) and the clipboard require; the test stack's app is http://app.<domain>:<port>,
 * where a deployment is https (and a dev stack on `localhost` is secure already).
 */
export function launchChromium(domain: string, secureOrigins: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      `--host-resolver-rules=MAP *.${domain} 127.0.0.1`,
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      ...(secureOrigins.length ? [`--unsafely-treat-insecure-origin-as-secure=${secureOrigins.join(",")}`] : []),
    ],
  });
}
