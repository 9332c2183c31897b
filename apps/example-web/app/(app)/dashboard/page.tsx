import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { DeleteProjectButton, NewProjectForm } from "../../../components/forms.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { answer, authService, explain, gatewayApi, type Project } from "../../../lib/api.ts";
import { displayName } from "../../../lib/session.ts";
import { pageViewer } from "../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Dashboard" };

export default async function Dashboard() {
  const viewer = await pageViewer("/dashboard", { needOrg: true });
  if (viewer === "unavailable") return <Unavailable current="/dashboard" />;
  const c = viewer.claims;
  const [orgs, projects] = await Promise.all([
    answer(authService(viewer.cookie).GET("/v1/organizations")),
    gatewayApi<{ projects: Project[] }>("/v1/projects", viewer.cookie),
  ]);
  const org = orgs.data?.organizations.find((o) => o.organizationId === c.org);
  const role = c.role ?? "member";
  const secondFactor = c.aal === "aal2";
  return (
    <AppShell current="/dashboard" who={c.email ?? ""} orgs={orgs.data?.organizations ?? []} currentOrg={c.org}>
      <div className="page-head">
        <div>
          <h1>Hello, {displayName(c)}</h1>
          <p className="muted">
            Signed in as <strong data-testid="viewer-email">{c.email}</strong>
            {secondFactor ? " with two-factor authentication." : "."}
          </p>
        </div>
        <a className="btn btn-secondary" href="/team">
          Manage team
        </a>
      </div>

      <section className="grid" aria-label="Your account">
        <div className="card">
          <div className="stat-label">Organization</div>
          {/* Long names wrap and clamp; the full name is the title and on Organization settings. */}
          <div className="stat-value clamp" data-testid="org-name" title={org?.name}>
            {org?.name ?? "—"}
          </div>
        </div>
        <div className="card">
          <div className="stat-label">Plan</div>
          <div className="stat-value">
            <span className="badge" data-testid="plan">
              {c.plan ?? org?.plan ?? "—"}
            </span>
          </div>
        </div>
        <div className="card">
          <div className="stat-label">Your role</div>
          <div className="stat-value">
            <span className={`badge badge-${role}`} data-testid="role">
              {role}
            </span>
          </div>
        </div>
        <div className="card">
          <div className="stat-label">Sign-in</div>
          <div className="stat-value small">
            {secondFactor ? "Password + authenticator" : "Password"}{" "}
            <a className="small" href="/auth/settings">
              {secondFactor ? "Manage" : "Add 2FA"}
            </a>
          </div>
        </div>
      </section>

      <section className="card" aria-labelledby="projects-title">
        <h2 id="projects-title">Projects</h2>
        <p className="muted small">Served by the example API, through the gateway, with your session.</p>
        {projects.ok ? (
          projects.data && projects.data.projects.length > 0 ? (
            <table data-testid="projects">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {projects.data.projects.map((p) => (
                  <tr key={p.id}>
                    <td className="wrap">{p.name}</td>
                    <td className="muted">{new Date(p.created_at).toLocaleDateString("en")}</td>
                    <td>
                      <div className="row-actions">
                        {role === "owner" ? <DeleteProjectButton id={p.id} name={p.name} /> : null}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="empty" data-testid="projects-empty">
              No projects yet.
            </p>
          )
        ) : (
          <p className="message message-error" role="alert" data-testid="projects-error">
            {explain(projects, "list projects")}
          </p>
        )}
        <div style={{ marginTop: "1rem" }}>
          <NewProjectForm canCreate={role === "owner" || role === "admin"} />
        </div>
      </section>
    </AppShell>
  );
}
