import type { Metadata } from "next";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { AuthShell, ErrorCard } from "../../../components/auth-shell.tsx";
import { FlowForms, Messages } from "../../../components/kratos-ui.tsx";
import { ThrottleNotice } from "../../../components/throttle-notice.tsx";
import { loadFlow, type SearchParams } from "../../../lib/flow-page.ts";
import { param } from "../../../lib/kratos.ts";
import { NOTICE_HEADER } from "../../../lib/notice.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

/** Kratos node groups that complete an aal2 login. */
const SECOND_FACTORS = new Set(["totp", "lookup_secret", "webauthn"]);

export default async function LoginPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const returnTo = param(sp.return_to);
  const loaded = await loadFlow("login", sp, { return_to: returnTo, aal: param(sp.aal), refresh: param(sp.refresh) });
  if (loaded.error) return <ErrorCard {...loaded.error} retryHref="/auth/login" />;
  const { flow } = loaded;
  const secondFactor = flow.requested_aal === "aal2";
  // Asked for a second factor (an organization requires one) by somebody who has none:
  // Kratos' aal2 flow then offers no method, so they are led to set one up instead.
  if (secondFactor && !flow.ui.nodes.some((n) => SECOND_FACTORS.has(n.group))) {
    redirect(`/auth/settings${flow.return_to ? `?return_to=${encodeURIComponent(flow.return_to)}` : ""}`);
  }
  const title = secondFactor ? "Two-factor authentication" : flow.refresh ? "Confirm it's you" : "Sign in";
  // Backup codes are offered only when the account has them (Kratos sends their field then).
  const hasBackupCodes = flow.ui.nodes.some((n) => n.group === "lookup_secret");
  const signedOut = (await headers()).get(NOTICE_HEADER) === "signed_out";
  const intro = secondFactor
    ? `Enter the 6-digit code from your authenticator app${hasBackupCodes ? ", or one of your backup codes" : ""}.`
    : flow.refresh
      ? "Please enter your password again to continue."
      : "Welcome back. Sign in to your workspace.";
  const back = flow.return_to ? `?return_to=${encodeURIComponent(flow.return_to)}` : "";
  return (
    <AuthShell
      title={title}
      intro={<p>{intro}</p>}
      footer={
        secondFactor ? (
          <form action="/auth/logout/submit" method="post" className="inline-form">
            <p>
              {hasBackupCodes ? "Not you, or no access to your codes?" : "Not you, or no access to your authenticator?"}{" "}
              <button type="submit" className="btn btn-link">
                Sign out
              </button>
            </p>
          </form>
        ) : (
          <>
            <p>
              New to Gatehouse? <a href={`/auth/registration${back}`}>Create an account</a>
            </p>
            <p>
              <a href="/auth/recovery">Forgot your password?</a>
            </p>
          </>
        )
      }
    >
      <div className="flow-messages">
        {signedOut ? (
          <p className="message message-success" role="status" data-testid="signed-out">
            You are signed out.
          </p>
        ) : null}
        <ThrottleNotice retryAfter={param(sp.retry_after)} />
        <Messages messages={flow.ui.messages} />
      </div>
      <FlowForms flow={flow} />
    </AuthShell>
  );
}
