import type { Metadata } from "next";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { AppShell } from "../../../components/app-shell.tsx";
import { OnboardForm, OpenOrganizationButton } from "../../../components/forms.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { answer, authService } from "../../../lib/api.ts";
import { isPlan } from "../../../lib/config.ts";
import type { SearchParams } from "../../../lib/flow-page.ts";
import { param } from "../../../lib/kratos.ts";
import { displayName } from "../../../lib/session.ts";
import { pageViewer } from "../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Set up your organization" };

export default async function OnboardPage({ searchParams }: { searchParams: SearchParams }) {
  const viewer = await pageViewer("/onboard", { needOrg: false });
  if (viewer === "unavailable") return <Unavailable current="/onboard" />;
  if (viewer.claims.org) redirect("/dashboard");
  const sp = await searchParams;
  // The tier picked on the marketing site: from return_to, else remembered at sign-up.
  const fromUrl = param(sp.tier);
  const fromCookie = (await cookies()).get("gh_signup_tier")?.value;
  const plan = isPlan(fromUrl) ? fromUrl : isPlan(fromCookie) ? fromCookie : "starter";
  const first = viewer.claims.name?.first;
  // Memberships the user did not make their default (someone else put them there, before
  // invitations): never opened for them, but theirs to open.
  const orgs = (await answer(authService(viewer.cookie).GET("/v1/organizations"))).data;
  const existing = orgs?.organizations ?? [];
  return (
    <AppShell who={viewer.claims.email ?? ""}>
      <div className="auth-card" style={{ margin: "0 auto" }}>
        <div className="card">
          <h1>Welcome, {displayName(viewer.claims)}</h1>
          <p className="muted">Create your organization to get started. You will be its owner.</p>
          <OnboardForm defaultPlan={plan} defaultName={first ? `${first}'s team` : ""} />
        </div>
        {existing.length > 0 ? (
          <div className="card" data-testid="existing-organizations">
            <h2>Or open an organization you belong to</h2>
            <ul>
              {existing.map((o) => (
                <li key={o.organizationId}>
                  {o.name} <span className={`badge badge-${o.role}`}>{o.role}</span>{" "}
                  <OpenOrganizationButton id={o.organizationId} name={o.name} />
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
    </AppShell>
  );
}
