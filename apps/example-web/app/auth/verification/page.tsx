import type { Metadata } from "next";
import { AuthShell, ErrorCard } from "../../../components/auth-shell.tsx";
import { FlowForms, Messages } from "../../../components/kratos-ui.tsx";
import { ThrottleNotice } from "../../../components/throttle-notice.tsx";
import { loadFlow, type SearchParams } from "../../../lib/flow-page.ts";
import { param } from "../../../lib/kratos.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Verify your email" };

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
    </AuthShell>
  );
}
