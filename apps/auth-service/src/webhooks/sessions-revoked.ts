// Kratos' web_hook after its revoke_active_sessions hook (settings: password changed;
// recovery). Kratos already ended the other sessions; this announces them so tokens
// minted from them stop at once everywhere. Idempotent: Kratos may deliver twice.
import type { Request } from "express";
import { z } from "zod";
import type { App } from "../app.ts";
import { ApiError } from "../http/errors.ts";
import { parseBody } from "../http/validate.ts";

export const SESSIONS_REVOKED_WEBHOOK_BODY = z.object({ identity_id: z.string().uuid() });
export const SESSIONS_REVOKED_WEBHOOK_QUERY = z.object({ reason: z.enum(["password_changed", "recovered"]) });

export async function handleSessionsRevokedWebhook(app: App, req: Request): Promise<{ revoked: number }> {
  const why = SESSIONS_REVOKED_WEBHOOK_QUERY.shape.reason.safeParse(req.query.reason);
  if (!why.success) throw new ApiError("bad_request", "query parameter reason must be password_changed or recovered");
  const b = parseBody(req, SESSIONS_REVOKED_WEBHOOK_BODY);
  const out = await app.revocation.announceRevokedSessions(b.identity_id, why.data, {
    actor: "kratos-webhook",
    requestId: String(req.res?.locals.requestId ?? ""),
  });
  return { revoked: out.revoked.length };
}
