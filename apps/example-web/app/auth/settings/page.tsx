import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { ErrorCard } from "../../../components/auth-shell.tsx";
import { FlowForms, Messages } from "../../../components/kratos-ui.tsx";
import { MySessions } from "../../../components/my-sessions.tsx";
import { loadFlow, type SearchParams } from "../../../lib/flow-page.ts";
import { param } from "../../../lib/kratos.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Account settings" };

export default async function SettingsPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const loaded = await loadFlow("settings", sp, { return_to: param(sp.return_to) });
  if (loaded.error) return <ErrorCard {...loaded.error} retryHref="/auth/settings" />;
  const { flow } = loaded;
  const email = flow.identity?.traits?.email;
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
          <Messages messages={flow.ui.messages} />
        </div>
        <FlowForms flow={flow} titled />
        <MySessions />
      </div>
    </AppShell>
  );
}
