// Shown (with status 503 or 429) when the middleware could not check the session
// because the auth-service or Kratos did not answer: an outage is not a sign-out.
import type { Metadata } from "next";
import { AuthShell } from "../../components/auth-shell.tsx";

export const metadata: Metadata = { title: "Temporarily unavailable" };

export default function UnavailablePage() {
  return (
    <AuthShell title="We will be right back">
      <p className="message message-error" role="alert">
        We could not check your session just now. You are still signed in; please try again in a few seconds.
      </p>
      <div className="actions" style={{ marginTop: "1rem" }}>
        <a className="btn btn-primary" href="/dashboard">
          Try again
        </a>
      </div>
    </AuthShell>
  );
}
