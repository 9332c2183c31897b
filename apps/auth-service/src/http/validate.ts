import type { Request } from "express";
import { z } from "zod";
import { ApiError } from "./errors.ts";

/** Validates a JSON body against a schema; the message names the offending field. */
export function parseBody<T extends z.ZodType>(req: Request, schema: T): z.infer<T> {
  return parseValue(schema, req.body);
}

/** parseBody for a body already read (undefined: no body, validated as `{}`). */
export function parseValue<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const body: unknown = value === undefined ? {} : value;
  const r = schema.safeParse(body);
  if (!r.success) {
    const first = r.error.issues[0];
    const field = first?.path.length ? first.path.join(".") : "body";
    throw new ApiError("bad_request", `${field}: ${first?.message ?? "invalid"}`);
  }
  return r.data;
}

/** Fields of an API key, shared by the owners' endpoint (public) and the operators' (admin). */
export const API_KEY_FIELDS = {
  name: z.string().trim().min(1).max(100),
  scopes: z
    .array(z.string().regex(/^[a-z_]+:[a-z_*]+$/))
    .max(50)
    .default([]),
  expires_at: z
    .string()
    .datetime()
    .refine((v) => Date.parse(v) > Date.now(), "must be in the future")
    .optional(),
};

/** A webhook subscription, shared by the owners' endpoint (public) and the operators' (admin). */
export const WEBHOOK_FIELDS = {
  url: z.string().url().max(2000),
  event_types: z.array(z.string().max(100)).min(1).max(100),
};

/** A path parameter naming a row (organization, team, key…): parseParam's, and the document's default. */
export const uuid = z.string().uuid().meta({ id: "Uuid" });

/** `?limit=` (default 50, 1..500) and `?before=` (a bigint id) of a newest-first list. */
export const PAGE_QUERY = z.object({
  limit: z
    .string()
    .regex(/^(?:[1-9][0-9]?|[1-4][0-9][0-9]|500)$/, "an integer from 1 to 500")
    .optional(),
  before: z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, "an id from the previous page")
    .optional(),
});

export function parsePage(query: Record<string, unknown>): { limit: number; beforeId?: string } {
  const q = parseValue(PAGE_QUERY, { limit: query.limit, before: query.before });
  return { limit: q.limit === undefined ? 50 : Number(q.limit), ...(q.before ? { beforeId: q.before } : {}) };
}

/** A UUID path parameter, or 400. */
export function parseParam(v: string | string[] | undefined): string {
  const r = uuid.safeParse(v);
  if (!r.success) throw new ApiError("bad_request", "path parameter must be a UUID");
  return r.data;
}
