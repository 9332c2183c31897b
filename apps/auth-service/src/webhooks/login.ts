// Kratos' after-login web_hook (kratos-config/login-webhook.jsonnet): records the
// sign-in, which becomes a `user.authenticated` event. Idempotent on the login flow's
// id (Kratos may deliver twice). The body carries no cookies or request headers and
// is never logged.
import type { Request } from "express";
import { z } from "zod";
import type { App } from "../app.ts";
import { recordSignIn } from "../domain/users.ts";
import { parseBody } from "../http/validate.ts";

/** Kratos' after-login webhook body (kratos-config/ body mapper); the contract (http/routes.ts) documents it. */
export const LOGIN_WEBHOOK_BODY = z.object({
  identity_id: z.string().uuid(),
  flow_id: z.string().uuid(),
  aal: z.enum(["aal0", "aal1", "aal2", "aal3"]),
  methods: z.array(z.string().regex(/^[a-z_]{1,40}$/)).max(10),
});

export async function handleLoginWebhook(app: App, req: Request): Promise<{ recorded: boolean }> {
  const b = parseBody(req, LOGIN_WEBHOOK_BODY);
  return recordSignIn(
    app.db,
    { identityId: b.identity_id, flowId: b.flow_id, aal: b.aal, methods: b.methods },
    { actor: b.identity_id, requestId: String(req.res?.locals.requestId ?? "") },
  );
}
