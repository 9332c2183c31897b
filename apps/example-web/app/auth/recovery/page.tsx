import type { Metadata } from "next";
import { AuthShell, ErrorCard } from "../../../components/auth-shell.tsx";
import { FlowForms, Messages } from "../../../components/kratos-ui.tsx";
import { ThrottleNotice } from "../../../components/throttle-notice.tsx";
import { loadFlow, type SearchParams } from "../../../lib/flow-page.ts";
import { param } from "../../../lib/kratos.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Recover your account" };

export default async function RecoveryPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const loaded = await loadFlow("recovery", sp, { return_to: param(sp.return_to) });
  if (loaded.error) return <ErrorCard {...loaded.error} retryHref="/auth/recovery" />;
  const { flow } = loaded;
  const intro =
    flow.state === "sent_email"
      ? "Enter the 6-digit recovery code we emailed you."
      : "Forgot your password? Enter your email address and we will send you a recovery code.";
  return (
    <AuthShell
      title="Recover your account"
      intro={<p>{intro}</p>}
      footer={
        <p>
          Remembered it? <a href="/auth/login">Back to sign in</a>
        </p>
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
