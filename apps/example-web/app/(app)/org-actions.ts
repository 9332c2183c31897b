"use server";
// Server actions of the organization pages (settings, API keys, teams). Like
// actions.ts: the user's own session, the auth-service decides, refusals as sentences.
import { revalidatePath } from "next/cache";
import { redirect } from "next/navigation";
import { type FormState, failure, field, isViewer, UUID, viewerOrLogin } from "../../lib/action-support.ts";
import { answer, authService } from "../../lib/api.ts";
import { isPlan } from "../../lib/config.ts";
import { NAME_MAX, SHORT_NAME_MAX } from "../../lib/limits.ts";
import { untilTokenOrganization, type Viewer } from "../../lib/session.ts";

/** The viewer and their current organization, or the refusal to show. */
async function inOrg(back: string): Promise<{ v: Viewer; org: string } | FormState> {
  const v = await viewerOrLogin(back);
  if (!isViewer(v)) return v;
  const org = v.claims.org;
  return org ? { v, org } : { ok: false, message: "Create your organization first." };
}

const refused = (x: { v: Viewer; org: string } | FormState): x is FormState => !("org" in x);

// --- organization settings ------------------------------------------------------

export async function renameOrganization(_prev: FormState, form: FormData): Promise<FormState> {
  const name = field(form, "name");
  const values = { name };
  if (name.length === 0 || name.length > NAME_MAX) {
    return {
      ok: false,
      fields: { name: `Enter a name of 1 to ${NAME_MAX} characters (this is ${name.length}).` },
      values,
    };
  }
  const x = await inOrg("/organization");
  if (refused(x)) return { ...x, values };
  const r = await answer(
    authService(x.v.cookie).PATCH("/v1/organizations/{orgId}", { params: { path: { orgId: x.org } }, body: { name } }),
  );
  if (!r.ok) return { ...failure(r, "rename the organization"), values };
  revalidatePath("/", "layout");
  return { ok: true, message: "Organization renamed.", values };
}

export async function changePlan(_prev: FormState, form: FormData): Promise<FormState> {
  const plan = field(form, "plan");
  if (!isPlan(plan)) return { ok: false, fields: { plan: "Choose a plan." } };
  const x = await inOrg("/organization");
  if (refused(x)) return x;
  const r = await answer(
    authService(x.v.cookie).PATCH("/v1/organizations/{orgId}", { params: { path: { orgId: x.org } }, body: { plan } }),
  );
  if (!r.ok) return failure(r, "change the plan");
  revalidatePath("/", "layout");
  return { ok: true, message: `Plan changed to ${plan}.` };
}

/** Owners turn "every member needs a second factor" on or off (the auth-service allows it on Enterprise only). */
export async function setRequireMfa(_prev: FormState, form: FormData): Promise<FormState> {
  const requireMfa = field(form, "require_mfa") === "on";
  const x = await inOrg("/organization");
  if (refused(x)) return x;
  const r = await answer(
    authService(x.v.cookie).PATCH("/v1/organizations/{orgId}", {
      params: { path: { orgId: x.org } },
      body: { require_mfa: requireMfa },
    }),
  );
  if (!r.ok) return failure(r, "change the second-factor requirement");
  revalidatePath("/", "layout");
  return {
    ok: true,
    message: requireMfa
      ? "Every member now needs a second factor. Members without one are asked to set it up."
      : "A second factor is no longer required.",
  };
}

export async function leaveOrganization(_prev: FormState, _form: FormData): Promise<FormState> {
  const x = await inOrg("/organization");
  if (refused(x)) return x;
  const r = await answer(
    authService(x.v.cookie).DELETE("/v1/organizations/{orgId}/members/{identityId}", {
      params: { path: { orgId: x.org, identityId: x.v.claims.sub } },
    }),
  );
  if (!r.ok) {
    if (r.error?.code === "last_owner")
      return { ok: false, message: "You are its last owner: make someone else an owner first, or delete it." };
    return failure(r, "leave the organization");
  }
  await untilTokenOrganization(x.v.cookie, (org) => org !== x.org);
  redirect("/dashboard");
}

export async function deleteOrganization(_prev: FormState, form: FormData): Promise<FormState> {
  const typed = field(form, "confirmName");
  const expected = field(form, "expectedName");
  if (typed !== expected) {
    return { ok: false, fields: { confirmName: "Type the organization's name exactly to confirm." } };
  }
  const x = await inOrg("/organization");
  if (refused(x)) return x;
  const r = await answer(
    authService(x.v.cookie).DELETE("/v1/organizations/{orgId}", { params: { path: { orgId: x.org } } }),
  );
  if (!r.ok) return failure(r, "delete the organization");
  await untilTokenOrganization(x.v.cookie, (org) => org !== x.org);
  redirect("/dashboard");
}

// --- API keys ----------------------------------------------------------------------

const SCOPE = /^[a-z_]+:[a-z_*]+$/;

export async function createApiKey(_prev: FormState, form: FormData): Promise<FormState> {
  const name = field(form, "name");
  const scopes = form.getAll("scopes").filter((s): s is string => typeof s === "string" && SCOPE.test(s));
  const asUser = field(form, "owner") === "me";
  const values = { name };
  if (name.length === 0 || name.length > SHORT_NAME_MAX) {
    return {
      ok: false,
      fields: { name: `Enter a name of 1 to ${SHORT_NAME_MAX} characters (this is ${name.length}).` },
      values,
    };
  }
  const x = await inOrg("/api-keys");
  if (refused(x)) return { ...x, values };
  const r = await answer(
    authService(x.v.cookie).POST("/v1/organizations/{orgId}/api-keys", {
      params: { path: { orgId: x.org } },
      body: { name, scopes, as_user: asUser },
    }),
  );
  if (!r.ok || !r.data?.key) return { ...failure(r, "create API keys"), values };
  revalidatePath("/api-keys");
  return {
    ok: true,
    message: `Key “${name}” created. Copy it now: it is shown only this once.`,
    link: r.data.key,
    seq: Date.now(),
  };
}

export async function revokeApiKey(_prev: FormState, form: FormData): Promise<FormState> {
  const id = field(form, "keyId");
  if (!UUID.test(id)) return { ok: false, message: "That key does not exist." };
  const x = await inOrg("/api-keys");
  if (refused(x)) return x;
  const r = await answer(
    authService(x.v.cookie).DELETE("/v1/organizations/{orgId}/api-keys/{keyId}", {
      params: { path: { orgId: x.org, keyId: id } },
    }),
  );
  if (!r.ok) return failure(r, "revoke API keys");
  revalidatePath("/api-keys");
  return { ok: true, message: "Key revoked: it stops working at once." };
}

// --- teams -------------------------------------------------------------------------

export async function createTeam(_prev: FormState, form: FormData): Promise<FormState> {
  const name = field(form, "name");
  const values = { name };
  if (name.length === 0 || name.length > SHORT_NAME_MAX) {
    return {
      ok: false,
      fields: { name: `Enter a team name of 1 to ${SHORT_NAME_MAX} characters (this is ${name.length}).` },
      values,
    };
  }
  const x = await inOrg("/teams");
  if (refused(x)) return { ...x, values };
  const r = await answer(
    authService(x.v.cookie).POST("/v1/organizations/{orgId}/teams", {
      params: { path: { orgId: x.org } },
      body: { name },
    }),
  );
  if (!r.ok) return { ...failure(r, "create teams"), values };
  revalidatePath("/teams");
  return { ok: true, message: `Team “${name}” created.`, seq: Date.now() };
}

export async function setTeamMember(_prev: FormState, form: FormData): Promise<FormState> {
  const team = field(form, "teamId");
  const who = field(form, "identityId");
  const role = field(form, "role") === "lead" ? "lead" : "member";
  if (!UUID.test(team) || !UUID.test(who)) return { ok: false, message: "Choose a member." };
  const x = await inOrg("/teams");
  if (refused(x)) return x;
  const r = await answer(
    authService(x.v.cookie).PUT("/v1/organizations/{orgId}/teams/{teamId}/members/{identityId}", {
      params: { path: { orgId: x.org, teamId: team, identityId: who } },
      body: { role },
    }),
  );
  if (!r.ok) return failure(r, "change teams");
  revalidatePath("/teams");
  return { ok: true, message: role === "lead" ? "Team lead set." : "Member added to the team." };
}

export async function removeTeamMember(_prev: FormState, form: FormData): Promise<FormState> {
  const team = field(form, "teamId");
  const who = field(form, "identityId");
  if (!UUID.test(team) || !UUID.test(who)) return { ok: false, message: "That member does not exist." };
  const x = await inOrg("/teams");
  if (refused(x)) return x;
  const r = await answer(
    authService(x.v.cookie).DELETE("/v1/organizations/{orgId}/teams/{teamId}/members/{identityId}", {
      params: { path: { orgId: x.org, teamId: team, identityId: who } },
    }),
  );
  if (!r.ok) return failure(r, "change teams");
  revalidatePath("/teams");
  return { ok: true, message: "Removed from the team." };
}

// --- my sessions (account settings) ------------------------------------------------

export async function revokeMySession(_prev: FormState, form: FormData): Promise<FormState> {
  const id = field(form, "sessionId");
  if (!UUID.test(id)) return { ok: false, message: "That session does not exist." };
  const v = await viewerOrLogin("/auth/settings");
  if (!isViewer(v)) return v;
  const r = await answer(
    authService(v.cookie).DELETE("/v1/me/sessions/{sessionId}", { params: { path: { sessionId: id } } }),
  );
  if (!r.ok) return failure(r, "sign that session out");
  revalidatePath("/auth/settings");
  return { ok: true, message: "Signed out there." };
}

export async function revokeMyOtherSessions(_prev: FormState, _form: FormData): Promise<FormState> {
  const v = await viewerOrLogin("/auth/settings");
  if (!isViewer(v)) return v;
  const r = await answer(authService(v.cookie).DELETE("/v1/me/sessions", { params: { query: { others: "true" } } }));
  if (!r.ok) return failure(r, "sign out your other sessions");
  revalidatePath("/auth/settings");
  return { ok: true, message: "Signed out everywhere else." };
}
