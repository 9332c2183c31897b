"use client";
// Last line of defence: an unexpected failure while rendering shows a page that
// says so, with a way forward, never a stack trace.
export default function ErrorBoundary({ reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="auth-shell">
      <main className="auth-card" id="main">
        <div className="card">
          <h1>Something went wrong</h1>
          <p className="message message-error" role="alert">
            We could not show this page. Please try again; if it keeps happening, try again in a few minutes.
          </p>
          <div className="actions" style={{ marginTop: "1rem" }}>
            <button type="button" className="btn btn-primary" onClick={() => reset()}>
              Try again
            </button>
            <a className="btn btn-secondary" href="/dashboard">
              Dashboard
            </a>
          </div>
        </div>
      </main>
    </div>
  );
}
