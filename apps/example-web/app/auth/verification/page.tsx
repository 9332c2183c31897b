import type { Metadata } from "next";
import { AuthShell, ErrorCard } from "../../../components/auth-shell.tsx";
import { FlowForms, Messages } from "../../../components/kratos-ui.tsx";
import { ThrottleNotice } from "../../../components/throttle-notice.tsx";
import { loadFlow, type SearchParams } from "../../../lib/flow-page.ts";
import { type Flow, param } from "../../../lib/kratos.ts";
import { getViewer } from "../../../lib/session.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Verify your email" };

/**
 * "Resend code" where Kratos offers none: the verification flow a sign-up starts
 * (show_verification_ui) waits for a code but has no resend button. Submitting the
 * address again to the same flow is what Kratos' own resend button does.
 */
async function ResendCode({ flow }: { flow: Flow }) {
  const attr = (n: Flow["ui"]["nodes"][number]) => n.attributes as { name?: string; type?: string; value?: unknown };
  if (flow.state !== "sent_email" || flow.ui.nodes.some((n) => attr(n).name === "email")) return null;
  const csrf = flow.ui.nodes.find((n) => attr(n).name === "csrf_token");
  const viewer = await getViewer().catch(() => undefined);
  const email = typeof viewer === "object" ? viewer.claims.email : undefined;
  return (
    <form action={flow.ui.action} method="post" className="form">
      <input type="hidden" name="csrf_token" value={String(csrf ? (attr(csrf).value ?? "") : "")} />
      <input type="hidden" name="method" value="code" />
      {email ? (
        <input type="hidden" name="email" value={email} />
      ) : (
        <div className="field">
          <label htmlFor="resend-email">Your email address</label>
          <input id="resend-email" name="email" type="email" autoComplete="email" required />
        </div>
      )}
      <div className="actions">
        <button type="submit" className="btn btn-secondary" data-testid="resend-code">
          Resend code
        </button>
      </div>
    </form>
  );
}

export default async function VerificationPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const loaded = await loadFlow("verification", sp, { return_to: param(sp.return_to) });
  if (loaded.error) return <ErrorCard {...loaded.error} retryHref="/auth/verification" />;
  const { flow } = loaded;
  const intro =
    flow.state === "passed_challenge"
      ? "Your email address is verified. Thank you!"
      : flow.state === "sent_email"
        ? "Enter the 6-digit code we emailed you. It is valid for 15 minutes."
        : "Enter your email address and we will send you a code to verify it.";
  return (
    <AuthShell
      title={flow.state === "passed_challenge" ? "Email verified" : "Verify your email"}
      intro={<p>{intro}</p>}
      footer={
        <p>
          <a href="/dashboard">Go to your dashboard</a>
        </p>
      }
    >
      <div className="flow-messages">
        <ThrottleNotice retryAfter={param(sp.retry_after)} />
        <Messages messages={flow.ui.messages} />
      </div>
      <FlowForms flow={flow} />
      <ResendCode flow={flow} />
    </AuthShell>
  );
}
