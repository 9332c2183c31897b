// Kratos' after-settings web_hook for a second factor (kratos-config/mfa-webhook.jsonnet;
// the method is in the URL's query). Kratos strips credentials from the hook's context,
// so the body names only the identity: whether the method is set up now is read from
// Kratos' admin API, and a change of it is recorded as user.mfa_enabled/disabled.
// Idempotent: a repeated delivery finds the state already recorded.
import type { Request } from "express";
import { z } from "zod";
import type { App } from "../app.ts";
import { DomainError } from "../domain/errors.ts";
import { MFA_METHODS, recordMfaState } from "../domain/users.ts";
import { ApiError } from "../http/errors.ts";
import { parseBody } from "../http/validate.ts";

export const MFA_WEBHOOK_BODY = z.object({ identity_id: z.string().uuid() });
export const MFA_WEBHOOK_QUERY = z.object({ method: z.enum(MFA_METHODS) });
const method = MFA_WEBHOOK_QUERY.shape.method;

export async function handleMfaWebhook(app: App, req: Request): Promise<{ recorded: boolean }> {
  const m = method.safeParse(req.query.method);
  if (!m.success) throw new ApiError("bad_request", `query parameter method must be one of ${MFA_METHODS.join(", ")}`);
  const b = parseBody(req, MFA_WEBHOOK_BODY);
  const identity = await app.kratos.getIdentity(b.identity_id);
  if (!identity) throw new DomainError("not_found", "no such identity");
  if (identity.credentialTypes === undefined) throw new Error("Kratos' identity did not list its credentials");
  return recordMfaState(
    app.db,
    { identityId: b.identity_id, method: m.data, enabled: identity.credentialTypes.includes(m.data) },
    { actor: b.identity_id, requestId: String(req.res?.locals.requestId ?? "") },
  );
}
