// The frame of the signed-in product pages: top bar with navigation and sign-out.
import type { ReactNode } from "react";
import { Brand } from "./brand.tsx";

const LINKS = [
  { href: "/dashboard", label: "Dashboard" },
  { href: "/team", label: "Team" },
  { href: "/auth/settings", label: "Settings" },
];

export function AppShell({ current, who, children }: { current?: string; who?: string; children: ReactNode }) {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <Brand href="/dashboard" />
          <nav aria-label="Main">
            {LINKS.map((l) => (
              <a key={l.href} href={l.href} aria-current={current === l.href ? "page" : undefined}>
                {l.label}
              </a>
            ))}
          </nav>
          {who ? <span className="who">{who}</span> : null}
          <form action="/auth/logout/submit" method="post" className="inline-form">
            <button type="submit" className="btn btn-secondary btn-small" data-testid="sign-out">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <main className="page" id="main">
        {children}
      </main>
    </>
  );
}
