import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { RemoveTeamMemberButton, TeamForm, TeamMemberForm } from "../../../components/org-forms.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { answer, authService, explain } from "../../../lib/api.ts";
import { pageViewer } from "../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Teams" };

const label = (m: { nameFirst: string | null; nameLast: string | null; email: string }) =>
  [m.nameFirst, m.nameLast].filter(Boolean).join(" ") || m.email;

export default async function TeamsPage() {
  const viewer = await pageViewer("/teams", { needOrg: true });
  if (viewer === "unavailable") return <Unavailable current="/teams" />;
  const c = viewer.claims;
  const org = c.org as string;
  const canManage = c.role === "owner" || c.role === "admin";
  const [orgs, teams, members] = await Promise.all([
    answer(authService(viewer.cookie).GET("/v1/organizations")),
    answer(authService(viewer.cookie).GET("/v1/organizations/{orgId}/teams", { params: { path: { orgId: org } } })),
    answer(authService(viewer.cookie).GET("/v1/organizations/{orgId}/members", { params: { path: { orgId: org } } })),
  ]);
  const list = teams.data?.teams ?? [];
  const rosters = await Promise.all(
    list.map((t) =>
      answer(
        authService(viewer.cookie).GET("/v1/organizations/{orgId}/teams/{teamId}/members", {
          params: { path: { orgId: org, teamId: t.id } },
        }),
      ),
    ),
  );
  const people = (members.data?.members ?? []).map((m) => ({ id: m.identityId, label: label(m) }));
  return (
    <AppShell current="/teams" who={c.email ?? ""} orgs={orgs.data?.organizations ?? []} currentOrg={org}>
      <div className="page-head">
        <div>
          <h1>Teams</h1>
          <p className="muted">Groups inside the organization, each with leads. Tokens carry the caller's teams.</p>
        </div>
      </div>
      {canManage ? (
        <section className="card" aria-labelledby="new-team-title">
          <h2 id="new-team-title">Create a team</h2>
          <TeamForm />
        </section>
      ) : (
        <p className="message banner" role="status" data-testid="read-only">
          Only owners and admins change teams.
        </p>
      )}
      {!teams.ok ? (
        <p className="message message-error" role="alert">
          {explain(teams, "list teams")}
        </p>
      ) : list.length === 0 ? (
        <p className="empty card" data-testid="teams-empty">
          No teams yet.
        </p>
      ) : (
        list.map((t, i) => {
          const got = rosters[i];
          const roster = got?.data?.members ?? [];
          return (
            <section className="card" key={t.id} aria-labelledby={`team-${t.id}`} data-team={t.name}>
              <h2 id={`team-${t.id}`} className="wrap">
                {t.name} <span className="muted small">({roster.length})</span>
              </h2>
              {got && !got.ok ? (
                <p className="message message-error" role="alert">
                  {explain(got, "list this team")}
                </p>
              ) : roster.length === 0 ? (
                <p className="empty">Nobody in this team yet.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Team role</th>
                      {canManage ? (
                        <th scope="col">
                          <span className="sr-only">Actions</span>
                        </th>
                      ) : null}
                    </tr>
                  </thead>
                  <tbody>
                    {roster.map((m) => (
                      <tr key={m.identityId} data-team-member={m.email}>
                        <td className="wrap">{label(m)}</td>
                        <td>
                          <span className={`badge badge-${m.role === "lead" ? "admin" : "member"}`}>{m.role}</span>
                        </td>
                        {canManage ? (
                          <td>
                            <RemoveTeamMemberButton teamId={t.id} identityId={m.identityId} who={label(m)} />
                          </td>
                        ) : null}
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {canManage && people.length > 0 ? (
                <TeamMemberForm teamId={t.id} teamName={t.name} people={people} />
              ) : null}
            </section>
          );
        })
      )}
    </AppShell>
  );
}
