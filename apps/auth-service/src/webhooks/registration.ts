// Kratos' after-registration webhook. Creates the user's record and remembers the
// pricing tier chosen on the marketing site. Idempotent (Kratos retries, and may
// deliver twice). The tier is only an onboarding hint: nothing in this body ever
// grants a role. The body is never logged.
import type { Request } from "express";
import { z } from "zod";
import type { App } from "../app.ts";
import { PLANS } from "../db/schema.ts";
import { upsertUserFromKratos } from "../domain/users.ts";
import { parseBody } from "../http/validate.ts";

export const REGISTRATION_WEBHOOK_BODY = z.object({
  identity_id: z.string().uuid(),
  email: z.string().email().max(320),
  name: z
    .object({ first: z.string().max(100).optional(), last: z.string().max(100).optional() })
    .nullable()
    .optional(),
  flow_id: z.string().uuid().optional(),
  transient_payload: z.record(z.string(), z.unknown()).nullable().optional(),
});

export async function handleRegistrationWebhook(app: App, req: Request): Promise<{ created: boolean }> {
  const b = parseBody(req, REGISTRATION_WEBHOOK_BODY);
  const rawTier = b.transient_payload?.tier;
  // An unknown tier is ignored rather than refused: sign-up already happened in Kratos.
  const tier =
    typeof rawTier === "string" && (PLANS as readonly string[]).includes(rawTier)
      ? (rawTier as (typeof PLANS)[number])
      : undefined;
  const out = await upsertUserFromKratos(
    app.db,
    {
      identityId: b.identity_id,
      email: b.email,
      ...(b.name?.first ? { nameFirst: b.name.first } : {}),
      ...(b.name?.last ? { nameLast: b.name.last } : {}),
      ...(tier ? { signupTier: tier } : {}),
    },
    { actor: "kratos-webhook", requestId: String(req.res?.locals.requestId ?? "") },
  );
  return { created: out.created };
}

/**
 * Kratos' after-settings (profile) webhook: the address and name as they are now, so
 * every view of the user (member lists, teams) shows a rename at once. Same body as
 * registration without the tier; idempotent.
 */
export const PROFILE_WEBHOOK_BODY = REGISTRATION_WEBHOOK_BODY.omit({ flow_id: true, transient_payload: true }).strict();

export async function handleProfileWebhook(app: App, req: Request): Promise<void> {
  const b = parseBody(req, PROFILE_WEBHOOK_BODY);
  await upsertUserFromKratos(
    app.db,
    {
      identityId: b.identity_id,
      email: b.email,
      ...(b.name?.first ? { nameFirst: b.name.first } : {}),
      ...(b.name?.last ? { nameLast: b.name.last } : {}),
    },
    { actor: "kratos-webhook", requestId: String(req.res?.locals.requestId ?? "") },
  );
}
