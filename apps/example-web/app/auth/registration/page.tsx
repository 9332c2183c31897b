import type { Metadata } from "next";
import { AuthShell, ErrorCard } from "../../../components/auth-shell.tsx";
import { FlowForms, Messages } from "../../../components/kratos-ui.tsx";
import { ThrottleNotice } from "../../../components/throttle-notice.tsx";
import { isPlan, webConfig } from "../../../lib/config.ts";
import { loadFlow, type SearchParams } from "../../../lib/flow-page.ts";
import { param, tierFromReturnTo } from "../../../lib/kratos.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Create your account" };

const PLAN_LABEL: Record<string, string> = { starter: "Starter", pro: "Pro", enterprise: "Enterprise" };

export default async function RegistrationPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const tier = param(sp.tier);
  // The tier chosen on the marketing site travels in return_to (→ onboarding), which
  // Kratos keeps on the flow; the submit handler hands it to Kratos as transient_payload.
  const returnTo = isPlan(tier) ? `${webConfig().webUrl}/onboard?tier=${tier}` : param(sp.return_to);
  const loaded = await loadFlow("registration", sp, { return_to: returnTo });
  if (loaded.error) return <ErrorCard {...loaded.error} retryHref="/auth/registration" />;
  const { flow } = loaded;
  const chosen = tierFromReturnTo(flow.return_to);
  // Kratos' two-step registration: traits first, then the credentials.
  const passwordStep = flow.ui.nodes.some((n) => n.group === "password" && n.type === "input");
  const back = flow.return_to ? `?return_to=${encodeURIComponent(flow.return_to)}` : "";
  return (
    <AuthShell
      title="Create your account"
      intro={
        isPlan(chosen) ? (
          <p>
            You picked the{" "}
            <span className="badge" data-testid="chosen-plan">
              {PLAN_LABEL[chosen]}
            </span>{" "}
            plan. You can change it when you set up your organization.
          </p>
        ) : passwordStep ? (
          <p>Almost there: choose a password.</p>
        ) : (
          <p>Start with your name and email.</p>
        )
      }
      footer={
        <p>
          Already have an account? <a href={`/auth/login${back}`}>Sign in</a>
        </p>
      }
    >
      <div className="flow-messages">
        <ThrottleNotice retryAfter={param(sp.retry_after)} />
        <Messages messages={flow.ui.messages} />
      </div>
      <FlowForms flow={flow} action={`/auth/registration/submit?flow=${encodeURIComponent(flow.id)}`} />
    </AuthShell>
  );
}
