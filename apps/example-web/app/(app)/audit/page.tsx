import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { Pager } from "../../../components/pager.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { answer, authService, explain } from "../../../lib/api.ts";
import { cursorOf } from "../../../lib/pager.ts";
import { pageViewer } from "../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Audit log" };

const PAGE_SIZE = "50";

/** The filter's kinds: the first part of an audit action (organization.renamed → organization). */
const KINDS = ["organization", "membership", "invitation", "team", "api_key", "user", "session"] as const;

function one(v: string | string[] | undefined): string {
  return typeof v === "string" ? v : "";
}

export default async function AuditPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const viewer = await pageViewer("/audit", { needOrg: true });
  if (viewer === "unavailable") return <Unavailable current="/audit" />;
  const c = viewer.claims;
  const org = c.org as string;
  const q = await searchParams;
  const kind = (KINDS as readonly string[]).includes(one(q.kind)) ? one(q.kind) : "";
  const actor = /^[0-9a-f-]{36}$/i.test(one(q.actor)) ? one(q.actor) : "";
  const before = cursorOf(q.before);
  const canRead = c.role === "owner" || c.role === "admin";
  const auditQuery = {
    limit: PAGE_SIZE,
    ...(kind ? { action: kind } : {}),
    ...(actor ? { actor } : {}),
    ...(before ? { before } : {}),
  };
  const [orgs, log, members] = await Promise.all([
    answer(authService(viewer.cookie).GET("/v1/organizations")),
    canRead
      ? answer(
          authService(viewer.cookie).GET("/v1/organizations/{orgId}/audit", {
            params: { path: { orgId: org }, query: auditQuery },
          }),
        )
      : undefined,
    answer(authService(viewer.cookie).GET("/v1/organizations/{orgId}/members", { params: { path: { orgId: org } } })),
  ]);
  const who = new Map((members.data?.members ?? []).map((m) => [m.identityId, m.email]));
  const entries = log?.data?.entries ?? [];
  const next = log?.data?.next_cursor;
  return (
    <AppShell current="/audit" who={c.email ?? ""} orgs={orgs.data?.organizations ?? []} currentOrg={org}>
      <div className="page-head">
        <div>
          <h1>Audit log</h1>
          <p className="muted">Every change to the organization: who, what, when, and the request it came from.</p>
        </div>
      </div>
      {!canRead ? (
        <p className="message banner" role="status" data-testid="read-only">
          Only owners and admins read the audit log.
        </p>
      ) : (
        <section className="card" aria-labelledby="log-title">
          <h2 id="log-title" className="sr-only">
            Entries
          </h2>
          <form method="get" className="form-row filters" aria-label="Filter the audit log">
            <div className="field field-narrow">
              <label htmlFor="f-kind">What</label>
              <select id="f-kind" name="kind" defaultValue={kind}>
                <option value="">Everything</option>
                {KINDS.map((k) => (
                  <option key={k} value={k}>
                    {k.replace("_", " ")}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="f-actor">Who</label>
              <select id="f-actor" name="actor" defaultValue={actor}>
                <option value="">Anyone</option>
                {[...who].map(([id, email]) => (
                  <option key={id} value={id}>
                    {email}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" className="btn btn-secondary" data-testid="filter-audit">
              Filter
            </button>
          </form>
          {log && !log.ok ? (
            <p className="message message-error" role="alert">
              {explain(log, "read the audit log")}
            </p>
          ) : entries.length === 0 ? (
            <p className="empty" data-testid="audit-empty">
              Nothing {before ? "older" : "recorded"}
              {kind || actor ? " for this filter" : ""}.
            </p>
          ) : (
            <>
              {/* Focusable so a keyboard user can scroll it sideways (axe: scrollable-region-focusable). */}
              {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus */}
              <section className="table-scroll" aria-label="Audit log entries (scrolls sideways)" tabIndex={0}>
                <table data-testid="audit">
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Who</th>
                      <th scope="col">What</th>
                      <th scope="col">Change</th>
                    </tr>
                  </thead>
                  <tbody>
                    {entries.map((e) => (
                      <tr key={e.id} data-action={e.action}>
                        <td className="muted nowrap">
                          {new Date(e.at).toLocaleString("en", { dateStyle: "medium", timeStyle: "short" })}
                        </td>
                        <td className="wrap">{who.get(e.actor) ?? e.actor}</td>
                        <td>
                          <code>{e.action}</code>
                        </td>
                        <td className="small wrap clamp">
                          {e.before ? <span className="muted">{JSON.stringify(e.before)} → </span> : null}
                          {e.after ? JSON.stringify(e.after) : ""}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            </>
          )}
          <Pager label="Audit log pages" path="/audit" filters={{ kind, actor }} before={before} next={next} />
        </section>
      )}
    </AppShell>
  );
}
