// The frame of every /auth/* page: brand, one centered card, links below it.
import type { ReactNode } from "react";
import { webConfig } from "../lib/config.ts";
import { Brand } from "./brand.tsx";

export function AuthShell({
  title,
  intro,
  children,
  footer,
  wide = false,
}: {
  title: string;
  intro?: ReactNode;
  children: ReactNode;
  footer?: ReactNode;
  wide?: boolean;
}) {
  return (
    <div className="auth-shell">
      <Brand href={webConfig().marketingUrl} />
      <main className={wide ? "auth-card wide" : "auth-card"} id="main">
        <div className="card">
          <h1>{title}</h1>
          {intro ? <div className="muted">{intro}</div> : null}
          {children}
        </div>
        {footer ? <div className="auth-footer">{footer}</div> : null}
      </main>
    </div>
  );
}

export function ErrorCard({ title, message, retryHref }: { title: string; message: string; retryHref?: string }) {
  return (
    <AuthShell title={title}>
      <p className="message message-error" role="alert">
        {message}
      </p>
      <div className="actions" style={{ marginTop: "1rem" }}>
        {retryHref ? (
          <a className="btn btn-primary" href={retryHref}>
            Try again
          </a>
        ) : null}
        <a className="btn btn-secondary" href="/auth/login">
          Go to sign in
        </a>
      </div>
    </AuthShell>
  );
}
