import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { InviteForm, MemberControls, RevokeInvitationButton } from "../../../components/forms.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { answer, authService, explain, type Member } from "../../../lib/api.ts";
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
  const canManage = c.role === "owner" || c.role === "admin";
  const canGrantOwner = c.role === "owner";
  const [members, orgs, invitations] = await Promise.all([
    answer(authService(viewer.cookie).GET("/v1/organizations/{orgId}/members", { params: { path: { orgId: org } } })),
    answer(authService(viewer.cookie).GET("/v1/organizations")),
    canManage
      ? answer(
          authService(viewer.cookie).GET("/v1/organizations/{orgId}/invitations", { params: { path: { orgId: org } } }),
        )
      : Promise.resolve(undefined),
  ]);
  const orgName = orgs.data?.organizations.find((o) => o.organizationId === org)?.name ?? "Your organization";
  const pending = invitations?.data?.invitations ?? [];
  return (
    <AppShell current="/team" who={c.email ?? ""} orgs={orgs.data?.organizations ?? []} currentOrg={org}>
      <div className="page-head">
        <div>
          <h1>Team</h1>
          <p className="muted">
            Members of <strong className="wrap">{orgName}</strong> and their roles.
          </p>
        </div>
      </div>

      {canManage ? (
        <section className="card" aria-labelledby="invite-title">
          <h2 id="invite-title">Invite a member</h2>
          <InviteForm canGrantOwner={canGrantOwner} />
          {pending.length > 0 ? (
            <table data-testid="invitations">
              <caption className="sr-only">Pending invitations</caption>
              <thead>
                <tr>
                  <th scope="col">Invited</th>
                  <th scope="col">Role</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {pending.map((i) => (
                  <tr key={i.id} data-invitation={i.email}>
                    <td>{i.email}</td>
                    <td>
                      <span className={`badge badge-${i.role}`}>{i.role}</span>
                    </td>
                    <td className="muted">{new Date(i.expiresAt).toLocaleDateString("en")}</td>
                    <td>
                      {canGrantOwner || i.role !== "owner" ? (
                        <RevokeInvitationButton id={i.id} email={i.email} />
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
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
                    <span className="wrap">{fullName(m)}</span>
                    {m.identityId === c.sub ? <span className="muted small"> (you)</span> : null}
                  </td>
                  <td className="wrap">{m.email}</td>
                  <td>
                    <span className={`badge badge-${m.role}`}>{m.role}</span>
                  </td>
                  {canManage ? (
                    <td>
                      {m.identityId === c.sub || (m.role === "owner" && !canGrantOwner) ? null : (
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
