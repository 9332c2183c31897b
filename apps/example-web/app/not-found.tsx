import { AuthShell } from "../components/auth-shell.tsx";

export default function NotFound() {
  return (
    <AuthShell title="Page not found">
      <p className="muted">The page you are looking for does not exist or has moved.</p>
      <div className="actions" style={{ marginTop: "1rem" }}>
        <a className="btn btn-primary" href="/dashboard">
          Go to your dashboard
        </a>
      </div>
    </AuthShell>
  );
}
