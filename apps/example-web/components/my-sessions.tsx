// The person's own sessions on the account settings page (GET /v1/me/sessions): where
// they are signed in, with a way to sign one or all the others out.
import { answer, authService, explain } from "../lib/api.ts";
import { sessionCookie } from "../lib/session.ts";
import { RevokeOtherSessionsButton, RevokeSessionButton } from "./org-forms.tsx";

const when = (iso: string) => new Date(iso).toLocaleString("en", { dateStyle: "medium", timeStyle: "short" });

export async function MySessions() {
  const cookie = await sessionCookie();
  if (!cookie) return null;
  const r = await answer(authService(cookie).GET("/v1/me/sessions"));
  const sessions = r.data?.sessions ?? [];
  return (
    <section className="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Where you are signed in</h2>
      {!r.ok ? (
        <p className="message message-error" role="alert">
          {explain(r, "list your sessions")}
        </p>
      ) : (
        <>
          <ul className="session-list" data-testid="my-sessions">
            {sessions.map((s) => {
              const d = s.devices.at(-1);
              const device = d?.user_agent ?? "Unknown device";
              return (
                <li key={s.id} data-session={s.id} data-current={s.current ? "true" : "false"}>
                  <strong className="wrap">{device}</strong>
                  <span className="muted small">
                    {" "}
                    {d?.ip_address ?? ""} · signed in {when(s.created_at)} · last active {when(s.last_active_at)} ·{" "}
                    {s.aal === "aal2" ? "two factors" : "one factor"}
                  </span>{" "}
                  {s.current ? (
                    <span className="badge">This session</span>
                  ) : (
                    <RevokeSessionButton id={s.id} device={device.slice(0, 40)} />
                  )}
                </li>
              );
            })}
          </ul>
          {sessions.some((s) => !s.current) ? <RevokeOtherSessionsButton /> : null}
        </>
      )}
    </section>
  );
}
