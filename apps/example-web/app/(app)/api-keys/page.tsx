import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { ApiKeyForm, RevokeApiKeyButton } from "../../../components/org-forms.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { answer, authService, explain } from "../../../lib/api.ts";
import { pageViewer } from "../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "API keys" };

const when = (iso: string | null) =>
  iso ? new Date(iso).toLocaleString("en", { dateStyle: "medium", timeStyle: "short" }) : "never";

export default async function ApiKeysPage() {
  const viewer = await pageViewer("/api-keys", { needOrg: true });
  if (viewer === "unavailable") return <Unavailable current="/api-keys" />;
  const c = viewer.claims;
  const org = c.org as string;
  const canManage = c.role === "owner" || c.role === "admin";
  const [orgs, keys] = await Promise.all([
    answer(authService(viewer.cookie).GET("/v1/organizations")),
    canManage
      ? answer(
          authService(viewer.cookie).GET("/v1/organizations/{orgId}/api-keys", { params: { path: { orgId: org } } }),
        )
      : undefined,
  ]);
  const live = (keys?.data?.api_keys ?? []).filter((k) => !k.revokedAt);
  // The scopes a key may carry: the creator's own permissions (what the token says they hold).
  const mine = [...(c.perms ?? [])].sort();
  return (
    <AppShell current="/api-keys" who={c.email ?? ""} orgs={orgs.data?.organizations ?? []} currentOrg={org}>
      <div className="page-head">
        <div>
          <h1>API keys</h1>
          <p className="muted">
            For scripts and servers: send it as <code>Authorization: Bearer sk_…</code> (or <code>X-API-Key</code>) to
            the gateway.
          </p>
        </div>
      </div>
      {!canManage ? (
        <p className="message banner" role="status" data-testid="read-only">
          Only owners and admins manage API keys.
        </p>
      ) : (
        <>
          <section className="card" aria-labelledby="new-key-title">
            <h2 id="new-key-title">Create a key</h2>
            <ApiKeyForm scopes={mine} defaultScopes={mine.filter((s) => s.endsWith(":read"))} />
          </section>
          <section className="card" aria-labelledby="keys-title">
            <h2 id="keys-title">Keys</h2>
            {keys && !keys.ok ? (
              <p className="message message-error" role="alert">
                {explain(keys, "list API keys")}
              </p>
            ) : live.length === 0 ? (
              <p className="empty" data-testid="keys-empty">
                No keys yet. Create one above; it is shown once.
              </p>
            ) : (
              <>
                {/* Focusable so a keyboard user can scroll it sideways (axe: scrollable-region-focusable). */}
                {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus */}
                <section className="table-scroll" aria-label="API keys (scrolls sideways)" tabIndex={0}>
                  <table data-testid="api-keys">
                    <thead>
                      <tr>
                        <th scope="col">Name</th>
                        <th scope="col">Key</th>
                        <th scope="col">Acts as</th>
                        <th scope="col">Scopes</th>
                        <th scope="col">Last used</th>
                        <th scope="col">
                          <span className="sr-only">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {live.map((k) => (
                        <tr key={k.id} data-key={k.name}>
                          <td className="wrap">{k.name}</td>
                          <td>
                            <code>{k.prefix}…</code>
                          </td>
                          <td>{k.identityId ? (k.identityId === c.sub ? "you" : "a member") : "organization"}</td>
                          <td className="small">{k.scopes.length ? k.scopes.join(", ") : "none"}</td>
                          <td className="muted" data-testid="last-used">
                            {when(k.lastUsedAt)}
                          </td>
                          <td>
                            <RevokeApiKeyButton id={k.id} name={k.name} />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </section>
              </>
            )}
          </section>
        </>
      )}
    </AppShell>
  );
}
