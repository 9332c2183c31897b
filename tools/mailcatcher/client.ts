// Reads caught mail: what tests use to fetch Kratos' verification and recovery codes.
import type { CaughtMessage } from "./server.ts";

export type { CaughtMessage };

export async function listMail(mailUrl: string, to?: string): Promise<CaughtMessage[]> {
  const u = new URL("/api/messages", mailUrl);
  if (to) u.searchParams.set("to", to);
  const r = await fetch(u);
  if (!r.ok) throw new Error(`mail catcher answered ${r.status}`);
  return (await r.json()) as CaughtMessage[];
}

/**
 * Waits for a message to `to` matching `filter` that arrived after `since` (and is none of
 * `except`: a resent code's mail can fall in the same second as the first one), and
 * returns the first 6-digit code in it. Polls; the courier sends within a second or so.
 */
export async function waitForCode(
  mailUrl: string,
  to: string,
  opts: { subject?: RegExp; since?: Date; except?: readonly CaughtMessage[]; timeoutMs?: number } = {},
): Promise<{ code: string; message: CaughtMessage }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  const since = opts.since?.getTime() ?? 0;
  while (Date.now() < deadline) {
    const msgs = await listMail(mailUrl, to);
    for (const m of [...msgs].reverse()) {
      if (Date.parse(m.receivedAt) < since) continue;
      if (opts.except?.some((x) => x.id === m.id)) continue;
      if (opts.subject && !opts.subject.test(m.subject)) continue;
      const code = /\b(\d{6})\b/.exec(m.text)?.[1];
      if (code) return { code, message: m };
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`no mail with a code reached ${to} within ${opts.timeoutMs ?? 20_000} ms`);
}
