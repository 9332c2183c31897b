"use server";
// Server actions of the signed-in pages. Each one acts with the user's own Kratos
// session (never a service credential), so the auth-service and the example API
// decide what the user may do; a refusal comes back as a sentence for the UI.
import { revalidatePath } from "next/cache";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import {
  EMAIL,
  type FormState,
  failure,
  field,
  isViewer,
  ROLES,
  UUID,
  viewerOrLogin,
} from "../../lib/action-support.ts";
import { answer, authService, gatewayApi, type Member, type Organization } from "../../lib/api.ts";
import { isPlan, webConfig } from "../../lib/config.ts";
import { INVITATION_COOKIE, INVITATION_COOKIE_PATH, INVITATION_TOKEN, invitationLink } from "../../lib/invitation.ts";
import { NAME_MAX } from "../../lib/limits.ts";
import { untilTokenOrganization, type Viewer } from "../../lib/session.ts";

export type { FormState };

// --- onboarding -------------------------------------------------------------

export async function createOrganization(_prev: FormState, form: FormData): Promise<FormState> {
  const name = field(form, "name");
  const plan = field(form, "plan");
  const fields: Record<string, string> = {};
  if (name.length === 0) fields.name = "Enter a name for your organization.";
  else if (name.length > NAME_MAX) fields.name = `Use at most ${NAME_MAX} characters (this is ${name.length}).`;
  if (!isPlan(plan)) fields.plan = "Choose a plan.";
  const values = { name, plan };
  if (Object.keys(fields).length > 0)
    return { ok: false, message: "Please fix the highlighted fields.", fields, values };
  const v = await viewerOrLogin("/onboard");
  if (!isViewer(v)) return { ...v, values };
  const r = await answer(
    authService(v.cookie).POST("/v1/onboarding", { body: { name, plan: plan as Organization["plan"] } }),
  );
  if (!r.ok) return { ...failure(r, "create the organization"), values };
  redirect("/dashboard");
}

// --- projects (the example API, through the gateway) ---------------------------

export async function createProject(_prev: FormState, form: FormData): Promise<FormState> {
  const name = field(form, "name");
  const values = { name };
  if (name.length === 0 || name.length > NAME_MAX) {
    return {
      ok: false,
      fields: { name: `Enter a project name of 1 to ${NAME_MAX} characters (this is ${name.length}).` },
      values,
    };
  }
  const v = await viewerOrLogin("/dashboard");
  if (!isViewer(v)) return { ...v, values };
  const r = await gatewayApi("/v1/projects", v.cookie, { json: { name } });
  if (!r.ok) return { ...failure(r, "create projects"), values };
  revalidatePath("/dashboard");
  return { ok: true, message: `Project “${name}” created.`, seq: Date.now() };
}

export async function deleteProject(_prev: FormState, form: FormData): Promise<FormState> {
  const id = field(form, "id");
  if (!UUID.test(id)) return { ok: false, message: "That project does not exist." };
  const v = await viewerOrLogin("/dashboard");
  if (!isViewer(v)) return v;
  const r = await gatewayApi(`/v1/projects/${id}`, v.cookie, { method: "DELETE" });
  if (!r.ok) return failure(r, "delete projects");
  revalidatePath("/dashboard");
  return { ok: true, message: "Project deleted." };
}

// --- team (the auth-service's organization API) ------------------------------

function orgOf(v: Viewer): string | undefined {
  return v.claims.org;
}

export async function inviteMember(_prev: FormState, form: FormData): Promise<FormState> {
  const email = field(form, "email").toLowerCase();
  const role = field(form, "role");
  const fields: Record<string, string> = {};
  if (!EMAIL.test(email) || email.length > 320) fields.email = "Enter a valid email address.";
  if (!(ROLES as readonly string[]).includes(role)) fields.role = "Choose a role.";
  const values = { email, role };
  if (Object.keys(fields).length > 0)
    return { ok: false, message: "Please fix the highlighted fields.", fields, values };
  const v = await viewerOrLogin("/team");
  if (!isViewer(v)) return { ...v, values };
  const org = orgOf(v);
  if (!org) return { ok: false, message: "Create your organization first.", values };
  const r = await answer(
    authService(v.cookie).POST("/v1/organizations/{orgId}/invitations", {
      params: { path: { orgId: org } },
      body: { email, role: role as Member["role"] },
    }),
  );
  if (!r.ok || !r.data?.token) return { ...failure(r, "invite members"), values };
  revalidatePath("/team");
  return {
    ok: true,
    message: `Invitation for ${email} as ${role} created. Copy the link and send it to them: it is shown only this once and works for 7 days.`,
    link: invitationLink(webConfig().webUrl, r.data.token),
    seq: Date.now(),
  };
}

export async function revokeInvitation(_prev: FormState, form: FormData): Promise<FormState> {
  const id = field(form, "invitationId");
  if (!UUID.test(id)) return { ok: false, message: "That invitation does not exist." };
  const v = await viewerOrLogin("/team");
  if (!isViewer(v)) return v;
  const org = orgOf(v);
  if (!org) return { ok: false, message: "Create your organization first." };
  const r = await answer(
    authService(v.cookie).DELETE("/v1/organizations/{orgId}/invitations/{invitationId}", {
      params: { path: { orgId: org, invitationId: id } },
    }),
  );
  if (!r.ok) return failure(r, "revoke invitations");
  revalidatePath("/team");
  return { ok: true, message: "Invitation revoked." };
}

// --- invitations, as the invitee ------------------------------------------------

export async function acceptInvitation(_prev: FormState, _form: FormData): Promise<FormState> {
  const jar = await cookies();
  const token = jar.get(INVITATION_COOKIE)?.value ?? "";
  if (!INVITATION_TOKEN.test(token)) {
    return { ok: false, message: "There is no invitation to accept here. Open the link you were sent again." };
  }
  const v = await viewerOrLogin("/invitations/accept");
  if (!isViewer(v)) return v;
  const r = await answer(authService(v.cookie).POST("/v1/invitations/accept", { body: { token } }));
  if (!r.ok) {
    const done = r.status === 404 || r.status === 410 || r.status === 409;
    if (done) jar.delete({ name: INVITATION_COOKIE, path: INVITATION_COOKIE_PATH });
    if (r.error?.code === "email_unverified") {
      return {
        ok: false,
        next: "verify",
        message: "Verify your email address first (we sent you a code when you signed up), then accept again.",
      };
    }
    if (r.status === 403) {
      return {
        ok: false,
        next: "sign_out",
        message: `This invitation was sent to another email address than ${v.claims.email ?? "yours"}. Sign out and sign in (or sign up) with the address it was sent to.`,
      };
    }
    if (r.status === 404) return { ok: false, message: "This invitation link is not valid. Ask for a new one." };
    return failure(r, "accept this invitation");
  }
  jar.delete({ name: INVITATION_COOKIE, path: INVITATION_COOKIE_PATH });
  redirect("/dashboard");
}

// --- the organization my tokens default to ----------------------------------

export async function openOrganization(_prev: FormState, form: FormData): Promise<FormState> {
  const id = field(form, "organizationId");
  if (!UUID.test(id)) return { ok: false, message: "That organization does not exist." };
  const v = await viewerOrLogin("/onboard");
  if (!isViewer(v)) return v;
  const r = await answer(authService(v.cookie).POST("/v1/me/default-organization", { body: { organization_id: id } }));
  if (!r.ok) return failure(r, "open that organization");
  await untilTokenOrganization(v.cookie, (org) => org === id);
  redirect("/dashboard");
}

export async function changeRole(_prev: FormState, form: FormData): Promise<FormState> {
  const id = field(form, "identityId");
  const role = field(form, "role");
  if (!UUID.test(id) || !(ROLES as readonly string[]).includes(role)) return { ok: false, message: "Choose a role." };
  const v = await viewerOrLogin("/team");
  if (!isViewer(v)) return v;
  const org = orgOf(v);
  if (!org) return { ok: false, message: "Create your organization first." };
  const r = await answer(
    authService(v.cookie).PATCH("/v1/organizations/{orgId}/members/{identityId}", {
      params: { path: { orgId: org, identityId: id } },
      body: { role: role as Member["role"] },
    }),
  );
  if (!r.ok) return failure(r, "change roles");
  revalidatePath("/team");
  return { ok: true, message: `Role changed to ${role}.` };
}

export async function removeMember(_prev: FormState, form: FormData): Promise<FormState> {
  const id = field(form, "identityId");
  if (!UUID.test(id)) return { ok: false, message: "That member does not exist." };
  const v = await viewerOrLogin("/team");
  if (!isViewer(v)) return v;
  const org = orgOf(v);
  if (!org) return { ok: false, message: "Create your organization first." };
  const r = await answer(
    authService(v.cookie).DELETE("/v1/organizations/{orgId}/members/{identityId}", {
      params: { path: { orgId: org, identityId: id } },
    }),
  );
  if (!r.ok) return failure(r, "remove members");
  revalidatePath("/team");
  return { ok: true, message: "Member removed." };
}
