import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { ErrorCard } from "../../../components/auth-shell.tsx";
import { FlowForms, Messages } from "../../../components/kratos-ui.tsx";
import { MySessions } from "../../../components/my-sessions.tsx";
import { loadFlow, type SearchParams } from "../../../lib/flow-page.ts";
import { param } from "../../../lib/kratos.ts";
import { getViewer } from "../../../lib/session.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Account settings" };

export default async function SettingsPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const loaded = await loadFlow("settings", sp, { return_to: param(sp.return_to) });
  if (loaded.error) return <ErrorCard {...loaded.error} retryHref="/auth/settings" />;
  const { flow } = loaded;
  const email = flow.identity?.traits?.email;
  // The organization requires a second factor and this session has none yet: say why
  // the guarded pages sent them here (the token says so; it is minted all the same).
  const viewer = await getViewer().catch(() => undefined);
  const mustSetUp = typeof viewer === "object" && viewer.claims.mfa_required === true && viewer.claims.aal !== "aal2";
  return (
    <AppShell current="/auth/settings" {...(typeof email === "string" ? { who: email } : {})}>
      <div className="narrow">
        <div className="page-head">
          <div>
            <h1>Account settings</h1>
            <p className="muted">Your profile, password, second factors and sessions.</p>
          </div>
        </div>
        <div className="flow-messages">
          {mustSetUp ? (
            <p className="message message-error" role="status" data-testid="mfa-required">
              Your organization requires a second factor. Set up an authenticator app below to continue.
            </p>
          ) : null}
          <Messages messages={flow.ui.messages} />
        </div>
        <FlowForms flow={flow} titled />
        <MySessions />
        <p className="muted">
          <a href="/security" data-testid="security-history-link">
            Your security history
          </a>
          : sign-ins, password and second-factor changes, sessions signed out.
        </p>
      </div>
    </AppShell>
  );
}
