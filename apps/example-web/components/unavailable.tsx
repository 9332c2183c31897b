import { AppShell } from "./app-shell.tsx";

export function Unavailable({ current }: { current?: string }) {
  return (
    <AppShell {...(current ? { current } : {})}>
      <div className="card">
        <h1>We could not load this page</h1>
        <p className="message message-error" role="alert">
          A service this page needs did not answer. This is on our side; please try again in a moment.
        </p>
        <p style={{ marginTop: "1rem" }}>
          <a className="btn btn-primary" href={current ?? "/dashboard"}>
            Try again
          </a>
        </p>
      </div>
    </AppShell>
  );
}
