// How tests put a person in an organization: the way the product does, by invitation.
// The inviter (an owner or admin) invites the invitee's address; the invitee's address
// is marked verified at Kratos (the admin API: a test shortcut for reading the code from
// the mail catcher); the invitee accepts with their own session.

export interface Person {
  email: string;
  identityId: string;
  sessionToken: string;
}

export interface InvitationUrls {
  /** The auth-service's public listener. */
  authUrl: string;
  /** Kratos' admin API. */
  kratosAdmin: string;
}

async function json(r: Response): Promise<Record<string, unknown>> {
  const text = await r.text();
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return { text };
  }
}

/** Marks the identity's address `email` verified, through Kratos' admin API (JSON Patch). */
export async function verifyEmail(kratosAdmin: string, identityId: string, email: string): Promise<void> {
  const got = await fetch(`${kratosAdmin}/admin/identities/${identityId}`);
  if (!got.ok) throw new Error(`admin get identity ${identityId}: ${got.status}`);
  const identity = (await got.json()) as { verifiable_addresses?: { value: string }[] };
  const i = (identity.verifiable_addresses ?? []).findIndex((a) => a.value.toLowerCase() === email.toLowerCase());
  if (i < 0) throw new Error(`identity ${identityId} has no verifiable address ${email}`);
  const r = await fetch(`${kratosAdmin}/admin/identities/${identityId}`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([
      { op: "replace", path: `/verifiable_addresses/${i}/verified`, value: true },
      { op: "replace", path: `/verifiable_addresses/${i}/status`, value: "completed" },
    ]),
  });
  if (!r.ok) throw new Error(`verifying ${email}: ${r.status} ${(await r.text()).slice(0, 200)}`);
}

/** POST /v1/organizations/:org/invitations as the inviter. */
export async function invite(
  authUrl: string,
  inviterSessionToken: string,
  orgId: string,
  email: string,
  role: string,
  extra: Record<string, unknown> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${authUrl}/v1/organizations/${orgId}/invitations`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-session-token": inviterSessionToken },
    body: JSON.stringify({ email, role, ...extra }),
  });
  return { status: r.status, body: await json(r) };
}

/** POST /v1/invitations/accept as the signed-in invitee. */
export async function accept(
  authUrl: string,
  sessionToken: string,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${authUrl}/v1/invitations/accept`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-session-token": sessionToken },
    body: JSON.stringify({ token }),
  });
  return { status: r.status, body: await json(r) };
}

/** Invite, verify the invitee's address, accept: the invitee is then a member with `role`. */
export async function joinOrganization(
  urls: InvitationUrls,
  inviter: { sessionToken: string },
  orgId: string,
  invitee: Person,
  role: string,
): Promise<void> {
  const created = await invite(urls.authUrl, inviter.sessionToken, orgId, invitee.email, role);
  if (created.status !== 201) throw new Error(`inviting failed: ${created.status} ${JSON.stringify(created.body)}`);
  await verifyEmail(urls.kratosAdmin, invitee.identityId, invitee.email);
  const accepted = await accept(urls.authUrl, invitee.sessionToken, created.body.token as string);
  if (accepted.status !== 200) throw new Error(`accepting failed: ${accepted.status} ${JSON.stringify(accepted.body)}`);
}
