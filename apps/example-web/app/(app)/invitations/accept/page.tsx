import type { Metadata } from "next";
import { cookies } from "next/headers";
import { AppShell } from "../../../../components/app-shell.tsx";
import { AcceptInvitationForm } from "../../../../components/forms.tsx";
import { Unavailable } from "../../../../components/unavailable.tsx";
import type { SearchParams } from "../../../../lib/flow-page.ts";
import { INVITATION_COOKIE, INVITATION_TOKEN } from "../../../../lib/invitation.ts";
import { param } from "../../../../lib/kratos.ts";
import { pageViewer } from "../../../../lib/viewer-page.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Accept invitation" };

// The invitation's token arrives in an HttpOnly cookie set by /invite (never in this
// page's URL); the accept action sends it to the auth-service with the user's session.
export default async function AcceptInvitationPage({ searchParams }: { searchParams: SearchParams }) {
  const viewer = await pageViewer("/invitations/accept", { needOrg: false });
  if (viewer === "unavailable") return <Unavailable current="/invitations/accept" />;
  const sp = await searchParams;
  const token = (await cookies()).get(INVITATION_COOKIE)?.value ?? "";
  const has = INVITATION_TOKEN.test(token);
  return (
    <AppShell who={viewer.claims.email ?? ""}>
      <div className="auth-card" style={{ margin: "0 auto" }}>
        <div className="card">
          <h1>Join an organization</h1>
          {has ? (
            <>
              <p className="muted">
                You were invited to an organization on Gatehouse. You are signed in as{" "}
                <strong data-testid="viewer-email">{viewer.claims.email}</strong>; the invitation must have been sent to
                this address, and it must be verified.
              </p>
              <AcceptInvitationForm />
            </>
          ) : (
            <p className="message message-error" role="alert" data-testid="no-invitation">
              {param(sp.invalid)
                ? "This invitation link is not valid. Check that you copied all of it, or ask for a new one."
                : "There is no invitation to accept here. Open the link you were sent again."}
            </p>
          )}
        </div>
      </div>
    </AppShell>
  );
}
