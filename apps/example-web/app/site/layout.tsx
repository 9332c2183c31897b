// The marketing site (served on the www host; see middleware.ts).
import type { ReactNode } from "react";
import { Brand } from "../../components/brand.tsx";
import { webConfig } from "../../lib/config.ts";

export const dynamic = "force-dynamic";

export default function SiteLayout({ children }: { children: ReactNode }) {
  const { webUrl, marketingUrl } = webConfig();
  return (
    <>
      <header className="site-header">
        <Brand href={`${marketingUrl}/`} />
        <nav aria-label="Site">
          <a href={`${marketingUrl}/`}>Product</a>
          <a href={`${marketingUrl}/pricing`}>Pricing</a>
        </nav>
        <a className="btn btn-link" href={`${webUrl}/auth/login`}>
          Sign in
        </a>
        <a className="btn btn-primary btn-small" href={`${webUrl}/auth/registration?tier=starter`}>
          Start free
        </a>
      </header>
      <main id="main">{children}</main>
      <footer className="site-footer">© Gatehouse · Identity by Ory Kratos, roles by Gatehouse</footer>
    </>
  );
}
