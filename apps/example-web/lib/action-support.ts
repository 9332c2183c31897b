// What the server actions share: reading a form, who is asking, a refusal as a sentence.
import { redirect } from "next/navigation";
import { type ApiResult, explain } from "./api.ts";
import { getViewer, ServiceUnavailable, type Viewer } from "./session.ts";

export interface FormState {
  ok?: boolean;
  message?: string;
  /** Per-field errors, keyed by input name. */
  fields?: Record<string, string>;
  /** What was submitted, so a refused form shows it again (React resets forms after an action). */
  values?: Record<string, string>;
  /** Bumped on success so a form can reset itself. */
  seq?: number;
  /** An invitation link, shown once after the invitation is created. */
  link?: string;
  /** The next step the user should take after a refusal (accepting an invitation). */
  next?: "verify" | "sign_out";
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const ROLES = ["owner", "admin", "member"] as const;
export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function field(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === "string" ? v.trim() : "";
}

export async function viewerOrLogin(back: string): Promise<Viewer | FormState> {
  try {
    const v = await getViewer();
    if (v === "aal2_required") redirect(`/auth/login?aal=aal2&return_to=${encodeURIComponent(back)}`);
    if (!v) redirect(`/auth/login?return_to=${encodeURIComponent(back)}`);
    return v;
  } catch (e) {
    if (e instanceof ServiceUnavailable) {
      return { ok: false, message: "We could not check your session right now. Please try again in a moment." };
    }
    throw e;
  }
}

export function isViewer(v: Viewer | FormState): v is Viewer {
  return "claims" in v;
}

export function failure(r: ApiResult<unknown>, action: string): FormState {
  return { ok: false, message: explain(r, action) };
}
