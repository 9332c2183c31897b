// The frame of the signed-in product pages: top bar with navigation, the
// organization switcher (for people in several) and sign-out.
import type { ReactNode } from "react";
import type { Organization } from "../lib/api.ts";
import { Brand } from "./brand.tsx";
import { OrganizationSwitcher } from "./org-forms.tsx";

const LINKS = [
  { href: "/dashboard", label: "Dashboard" },
  { href: "/team", label: "Team" },
  { href: "/teams", label: "Teams" },
  { href: "/api-keys", label: "API keys" },
  { href: "/audit", label: "Audit log" },
  { href: "/organization", label: "Organization" },
  { href: "/auth/settings", label: "Settings" },
  { href: "/security", label: "Security history" },
];

export function AppShell({
  current,
  who,
  orgs,
  currentOrg,
  children,
}: {
  current?: string;
  who?: string;
  /** The viewer's organizations; the switcher shows when there are several. */
  orgs?: Organization[];
  currentOrg?: string | undefined;
  children: ReactNode;
}) {
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
          {orgs && orgs.length > 1 && currentOrg ? (
            <OrganizationSwitcher
              orgs={orgs.map((o) => ({ id: o.organizationId, name: o.name }))}
              current={currentOrg}
            />
          ) : null}
          {who ? (
            <span className="who truncate" title={who}>
              {who}
            </span>
          ) : null}
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
