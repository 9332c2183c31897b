import type { Metadata } from "next";
import { AuthShell } from "../../../components/auth-shell.tsx";

export const metadata: Metadata = { title: "Sign out" };

export default function LogoutPage() {
  return (
    <AuthShell title="Sign out" intro={<p>This ends your session on this device and everywhere it is in use.</p>}>
      <form action="/auth/logout/submit" method="post" className="form" style={{ marginTop: "1rem" }}>
        <button type="submit" className="btn btn-primary btn-block">
          Sign out
        </button>
      </form>
    </AuthShell>
  );
}
