import type { Metadata } from "next";
import { AppShell } from "../../../components/app-shell.tsx";
import { Pager } from "../../../components/pager.tsx";
import { Unavailable } from "../../../components/unavailable.tsx";
import { answer, authService, explain } from "../../../lib/api.ts";
import { cursorOf } from "../../../lib/pager.ts";
import { ago, describeEvent, eventDetail } from "../../../lib/security-events.ts";
import { pageViewer } from "../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Security history" };

const PAGE_SIZE = "10";
const exact = (iso: string) => new Date(iso).toLocaleString("en", { dateStyle: "medium", timeStyle: "long" });

export default async function SecurityPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  // Anyone signed in, with or without an organization: it is their own history.
  const viewer = await pageViewer("/security", { needOrg: false });
  if (viewer === "unavailable") return <Unavailable current="/security" />;
  const q = await searchParams;
  // The cursor is the last id of the previous page; anything else starts at the newest.
  const before = cursorOf(q.before);
  const api = authService(viewer.cookie);
  const [orgs, r] = await Promise.all([
    answer(api.GET("/v1/organizations")),
    answer(
      api.GET("/v1/me/security-events", { params: { query: { limit: PAGE_SIZE, ...(before ? { before } : {}) } } }),
    ),
  ]);
  const events = r.data?.events ?? [];
  const next = r.data?.next_cursor;
  return (
    <AppShell
      current="/security"
      who={viewer.claims.email ?? ""}
      orgs={orgs.data?.organizations ?? []}
      currentOrg={viewer.claims.org}
    >
      <div className="narrow">
        <div className="page-head">
          <div>
            <h1>Security history</h1>
            <p className="muted">
              Sign-ins, password and second-factor changes, sessions signed out and API keys created on your account,
              newest first. Something you do not recognize? <a href="/auth/settings">Change your password</a> and sign
              out your other sessions.
            </p>
          </div>
        </div>
        <section className="card" aria-labelledby="history-title">
          <h2 id="history-title">{before ? "Older entries" : "Recent activity"}</h2>
          {!r.ok ? (
            <p className="message message-error" role="alert">
              {explain(r, "read your security history")}
            </p>
          ) : events.length === 0 ? (
            <p className="empty" data-testid="security-empty">
              {before ? "Nothing older." : "Nothing recorded yet."}
            </p>
          ) : (
            <ol className="event-list" data-testid="security-events">
              {events.map((e) => {
                const detail = eventDetail(e, exact);
                return (
                  <li key={e.id} data-event={e.id} data-action={e.action}>
                    <strong className="wrap">{describeEvent(e)}</strong>
                    {detail ? <span className="muted small"> {detail}</span> : null}
                    <time className="muted small nowrap" dateTime={e.at} title={exact(e.at)}>
                      {ago(e.at)}
                    </time>
                  </li>
                );
              })}
            </ol>
          )}
          <Pager label="Security history pages" path="/security" before={before} next={next} />
        </section>
      </div>
    </AppShell>
  );
}
