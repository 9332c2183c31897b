import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import {
  DeleteOrganizationButton,
  LeaveOrganizationButton,
  PlanForm,
  RenameOrganizationForm,
  RequireMfaForm,
} from "../../../components/org-forms.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { answer, authService } from "../../../lib/api.ts";
import { pageViewer } from "../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Organization settings" };

export default async function OrganizationPage() {
  const viewer = await pageViewer("/organization", { needOrg: true });
  if (viewer === "unavailable") return <Unavailable current="/organization" />;
  const c = viewer.claims;
  const orgs = await answer(authService(viewer.cookie).GET("/v1/organizations"));
  const list = orgs.data?.organizations ?? [];
  const org = list.find((o) => o.organizationId === c.org);
  const name = org?.name ?? "";
  const role = c.role ?? "member";
  return (
    <AppShell current="/organization" who={c.email ?? ""} orgs={list} currentOrg={c.org}>
      <div className="page-head">
        <div>
          <h1>Organization settings</h1>
          <p className="muted wrap" data-testid="org-full-name">
            {name}
          </p>
        </div>
      </div>

      <section className="card" aria-labelledby="name-title">
        <h2 id="name-title">Name</h2>
        <RenameOrganizationForm name={name} canRename={role === "owner" || role === "admin"} />
      </section>

      <section className="card" aria-labelledby="plan-title">
        <h2 id="plan-title">Plan</h2>
        {role === "owner" ? (
          <PlanForm plan={c.plan ?? org?.plan ?? "starter"} />
        ) : (
          <p>
            On <span className="badge">{c.plan ?? org?.plan ?? "—"}</span>. Only owners change the plan.
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="mfa-title">
        <h2 id="mfa-title">Second factor</h2>
        {role === "owner" ? (
          <RequireMfaForm required={c.mfa_required === true} enterprise={(c.plan ?? org?.plan) === "enterprise"} />
        ) : (
          <p data-testid="mfa-state">
            {c.mfa_required ? "Every member needs a second factor." : "A second factor is up to each member."} Only
            owners change this.
          </p>
        )}
      </section>

      <section className="card danger-zone" aria-labelledby="leave-title">
        <h2 id="leave-title">Leave or delete</h2>
        <p className="muted small">
          Leaving takes you out of this organization; an organization keeps at least one owner.
        </p>
        <LeaveOrganizationButton name={name} />
        {role === "owner" ? (
          <div className="stack-gap">
            <p className="muted small">Deleting ends it for every member, with its teams and API keys.</p>
            <DeleteOrganizationButton name={name} />
          </div>
        ) : null}
      </section>
    </AppShell>
  );
}
