import type { Metadata } from "next";
import { AuthShell, ErrorCard } from "../../../components/auth-shell.tsx";
import { FlowForms, Messages } from "../../../components/kratos-ui.tsx";
import { ThrottleNotice } from "../../../components/throttle-notice.tsx";
import { loadFlow, type SearchParams } from "../../../lib/flow-page.ts";
import { param } from "../../../lib/kratos.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const returnTo = param(sp.return_to);
  const loaded = await loadFlow("login", sp, { return_to: returnTo, aal: param(sp.aal), refresh: param(sp.refresh) });
  if (loaded.error) return <ErrorCard {...loaded.error} retryHref="/auth/login" />;
  const { flow } = loaded;
  const secondFactor = flow.requested_aal === "aal2";
  const title = secondFactor ? "Two-factor authentication" : flow.refresh ? "Confirm it's you" : "Sign in";
  const intro = secondFactor
    ? "Enter the 6-digit code from your authenticator app, or one of your backup codes."
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
              Not you, or no access to your codes?{" "}
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
        <ThrottleNotice retryAfter={param(sp.retry_after)} />
        <Messages messages={flow.ui.messages} />
      </div>
      <FlowForms flow={flow} />
    </AuthShell>
  );
}
