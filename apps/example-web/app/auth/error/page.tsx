import type { Metadata } from "next";
import { AuthShell } from "../../../components/auth-shell.tsx";
import type { SearchParams } from "../../../lib/flow-page.ts";
import { isUuid, kratosFetch, param } from "../../../lib/kratos.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Something went wrong" };

const REASONS: Record<string, { title: string; message: string }> = {
  unavailable: {
    title: "We could not reach the sign-in service",
    message: "This is on our side. Please try again in a moment.",
  },
  bad_request: {
    title: "That did not work",
    message: "The form could not be read. Please start again.",
  },
};

interface KratosErrorDoc {
  error?: { code?: number; status?: string; reason?: string; message?: string; id?: string };
}

async function kratosError(id: string): Promise<{ title: string; message: string } | undefined> {
  try {
    const r = await kratosFetch(`/self-service/errors?id=${encodeURIComponent(id)}`);
    if (!r.ok) return undefined;
    const doc = (await r.json()) as KratosErrorDoc;
    const e = doc.error ?? {};
    // A social sign-in provider that cannot be reached or refuses the code exchange: Kratos'
    // reason names internal URLs; the person needs to know it is the provider and what to do.
    if (/OpenID Connect Provider|exchange code|unable to (initialize|discover)/i.test(e.reason ?? "")) {
      return {
        title: "That sign-in provider is not available",
        message: "The sign-in provider is not available right now. Try again in a moment, or sign in another way.",
      };
    }
    if (e.id === "self_service_flow_return_to_forbidden" || /return_to/i.test(e.reason ?? "")) {
      return { title: "That link points somewhere we do not allow", message: e.reason ?? "Start again from the app." };
    }
    return {
      title: e.code === 404 ? "This page has expired" : "Something went wrong",
      message: e.reason ?? e.message ?? "Please start again.",
    };
  } catch {
    return undefined;
  }
}

export default async function ErrorPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const id = param(sp.id);
  const reason = param(sp.reason);
  const shown = (isUuid(id) ? await kratosError(id) : undefined) ??
    (reason ? REASONS[reason] : undefined) ?? {
      title: "Something went wrong",
      message: "The link you followed is invalid or has expired. Please start again.",
    };
  return (
    <AuthShell title={shown.title}>
      <p className="message message-error" role="alert">
        {shown.message}
      </p>
      <div className="actions" style={{ marginTop: "1rem" }}>
        <a className="btn btn-primary" href="/auth/login">
          Go to sign in
        </a>
        <a className="btn btn-secondary" href="/dashboard">
          Dashboard
        </a>
      </div>
    </AuthShell>
  );
}
