// Shown (with status 403) when the guard refused a page load: a person gets a page
// with the way on, not the guard's JSON (API-style callers still get that).
import type { Metadata } from "next";
import { AuthShell } from "../../components/auth-shell.tsx";

export const metadata: Metadata = { title: "Not allowed" };

export default function ForbiddenPage() {
  return (
    <AuthShell title="You cannot open this page">
      <p className="message message-error" role="alert" data-testid="forbidden">
        Your account is signed in, but it is not allowed here. If you think it should be, ask an owner or admin of your
        organization.
      </p>
      <div className="actions" style={{ marginTop: "1rem" }}>
        <a className="btn btn-primary" href="/dashboard">
          Go to the dashboard
        </a>
        <form action="/auth/logout/submit" method="post" className="inline-form">
          <button type="submit" className="btn btn-secondary">
            Sign in as someone else
          </button>
        </form>
      </div>
    </AuthShell>
  );
}
