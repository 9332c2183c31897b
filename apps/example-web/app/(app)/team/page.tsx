import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { AddMemberForm, MemberControls } from "../../../components/forms.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { authApi, explain, type Member, type Organization } from "../../../lib/api.ts";
import { pageViewer } from "../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Team" };

function fullName(m: Member): string {
  return [m.nameFirst, m.nameLast].filter(Boolean).join(" ") || "—";
}

export default async function TeamPage() {
  const viewer = await pageViewer("/team", { needOrg: true });
  if (viewer === "unavailable") return <Unavailable current="/team" />;
  const c = viewer.claims;
  const org = c.org as string;
  const [members, orgs] = await Promise.all([
    authApi<{ members: Member[] }>(`/v1/organizations/${org}/members`, viewer.cookie),
    authApi<{ organizations: Organization[] }>("/v1/organizations", viewer.cookie),
  ]);
  const orgName = orgs.data?.organizations.find((o) => o.organizationId === org)?.name ?? "Your organization";
  const canManage = c.role === "owner" || c.role === "admin";
  const canGrantOwner = c.role === "owner";
  return (
    <AppShell current="/team" who={c.email ?? ""}>
      <div className="page-head">
        <div>
          <h1>Team</h1>
          <p className="muted">
            Members of <strong>{orgName}</strong> and their roles.
          </p>
        </div>
      </div>

      {canManage ? (
        <section className="card" aria-labelledby="add-title">
          <h2 id="add-title">Add a member</h2>
          <AddMemberForm canGrantOwner={canGrantOwner} />
        </section>
      ) : (
        <p className="message banner" role="status" data-testid="read-only">
          You are a {c.role ?? "member"} of this organization: you can see the team, but only owners and admins can
          change it.
        </p>
      )}

      <section className="card" aria-labelledby="members-title">
        <h2 id="members-title">Members</h2>
        {members.ok && members.data ? (
          <table data-testid="members">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                {canManage ? (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {members.data.members.map((m) => (
                <tr key={m.identityId} data-member={m.email}>
                  <td>
                    {fullName(m)}
                    {m.identityId === c.sub ? <span className="muted small"> (you)</span> : null}
                  </td>
                  <td>{m.email}</td>
                  <td>
                    <span className={`badge badge-${m.role}`}>{m.role}</span>
                  </td>
                  {canManage ? (
                    <td>
                      {m.identityId === c.sub ? null : (
                        <MemberControls
                          identityId={m.identityId}
                          email={m.email}
                          role={m.role}
                          canGrantOwner={canGrantOwner}
                        />
                      )}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="message message-error" role="alert">
            {explain(members, "list the members")}
          </p>
        )}
      </section>
    </AppShell>
  );
}
