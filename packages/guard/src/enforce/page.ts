// The 403 a person sees: a browser's page load refused by the guard gets a page
// saying what happened and what to do (ask for access, switch organization, sign in
// with a second factor), in the look of the example app (its colours, card and
// buttons; dark mode follows the system). API callers keep the JSON (answer.ts).
// Self-contained: no script, no external resource; every value put in is escaped.
// Edge-safe.
import type { DenyDecision } from "../core/types.ts";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

/** What happened and what to do, by the reason the guard gave. */
function advice(d: DenyDecision): { what: string; todo: string; signIn: string } {
  if (d.error === "aal2_required")
    return {
      what: "This page needs a second factor, and this session was signed in with a password only.",
      todo: "Sign in again with your authenticator app, a security key or a backup code.",
      signIn: "Sign in with a second factor",
    };
  if (d.error === "forbidden" && /organization/.test(d.message))
    return {
      what: "This page belongs to an organization your account is not working in right now.",
      todo: "Switch to that organization in the app, or ask one of its owners to invite you.",
      signIn: "Sign in as someone else",
    };
  if (d.error === "forbidden")
    return {
      what: "Your account is signed in, but its role does not give the access this page needs.",
      todo: "Ask an owner or admin of your organization for access, or switch to the organization this page belongs to.",
      signIn: "Sign in as someone else",
    };
  return { what: "Your account cannot open this page.", todo: "Follow the reason below.", signIn: "Sign in again" };
}

const STYLE = `:root{--bg:#f6f7fb;--surface:#fff;--text:#1d2330;--muted:#5b6476;--border:#dfe3ec;--primary:#4338ca;--on-primary:#fff;--focus:#a5b4fc;--danger:#b42318;--danger-soft:#fef3f2;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0f1320;--surface:#171c2b;--text:#e6e9f2;--muted:#a3abbf;--border:#2c3347;--primary:#a5b4fc;--on-primary:#0f1320;--focus:#818cf8;--danger:#fda29b;--danger-soft:#3a1a1a}}
body{margin:0;min-height:100vh;display:grid;place-items:center;padding:1rem;box-sizing:border-box;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--text);background:var(--bg)}
main{width:100%;max-width:480px;background:var(--surface);border:1px solid var(--border);border-radius:10px;padding:2rem;box-shadow:0 1px 2px rgba(16,24,40,.06),0 4px 16px rgba(16,24,40,.06);overflow-wrap:anywhere}
h1{font-size:1.4rem;margin:0 0 1rem}.alert{background:var(--danger-soft);color:var(--danger);border-radius:8px;padding:.75rem 1rem;margin:0 0 1rem}
.muted{color:var(--muted);font-size:.875rem}.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:1.25rem 0}
a{color:var(--primary)}.btn{display:inline-block;font-weight:600;padding:.6rem 1rem;border-radius:8px;border:1px solid var(--border);text-decoration:none;line-height:1.2}
.btn-primary{background:var(--primary);border-color:var(--primary);color:var(--on-primary)}:focus-visible{outline:3px solid var(--focus);outline-offset:2px}`;

/** The page for a refused page load (`d.page` set by the guard's core). */
export function refusalPageHtml(d: DenyDecision, requestId: string): string {
  const a = advice(d);
  const links = d.page ?? {};
  const buttons = [
    links.home ? `<a class="btn btn-primary" href="${esc(links.home)}">Go to the app</a>` : "",
    links.signIn ? `<a class="btn" href="${esc(links.signIn)}">${a.signIn}</a>` : "",
  ].join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not allowed</title><style>${STYLE}</style></head>
<body data-error="${esc(d.error)}"><main>
<h1>You cannot open this page</h1>
<p class="alert" role="alert">${a.what}</p>
<p>${a.todo}</p>
${buttons ? `<div class="actions">${buttons}</div>` : ""}
<p class="muted">Reason: ${esc(d.message)}. If you ask for help, give this reference: <code>${esc(requestId)}</code></p>
</main></body></html>
`;
}
