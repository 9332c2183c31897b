"use client";
// Forms of the signed-in pages. They post to server actions (and work without
// JavaScript too); errors come back next to the field they concern, tied to it
// with aria-describedby, and a form-level message is announced.
import { useActionState, useEffect, useId, useRef } from "react";
import { useFormStatus } from "react-dom";
import {
  acceptInvitation,
  changeRole,
  createOrganization,
  createProject,
  deleteProject,
  type FormState,
  inviteMember,
  openOrganization,
  removeMember,
  revokeInvitation,
} from "../app/(app)/actions.ts";
import { NAME_MAX } from "../lib/limits.ts";
import { PLAN_INFO } from "./plans.ts";

export const INITIAL: FormState = {};

export function Submit({
  children,
  className = "btn btn-primary",
  testId,
}: {
  children: string;
  className?: string;
  testId?: string;
}) {
  const { pending } = useFormStatus();
  return (
    <button
      type="submit"
      className={className}
      // Not `disabled`: a disabled button loses the keyboard focus, which then starts over at the top.
      aria-disabled={pending}
      onClick={(e) => {
        if (pending) e.preventDefault();
      }}
      data-testid={testId}
    >
      {pending ? "Working…" : children}
    </button>
  );
}

export function FormMessage({ state, id }: { state: FormState; id: string }) {
  if (!state.message) return <div id={id} aria-live="polite" />;
  return (
    <div id={id} aria-live="polite">
      <p
        className={state.ok ? "message message-success" : "message message-error"}
        role={state.ok ? "status" : "alert"}
      >
        {state.message}
      </p>
    </div>
  );
}

export function FieldError({ id, text }: { id: string; text: string | undefined }) {
  return text ? (
    <p id={id} className="message message-error">
      {text}
    </p>
  ) : null;
}

/**
 * aria-invalid and aria-describedby of a field whose error (FieldError) has the id
 * `<id>-error`: the error when there is one, else its hint (if any).
 */
export function fieldAria(id: string, err: string | undefined, hint?: string) {
  return { "aria-invalid": err ? true : undefined, "aria-describedby": err ? `${id}-error` : hint } as const;
}

/**
 * Everything a text field of these forms takes from its action's state: id, name, the
 * value typed kept after an error (`initial` before one; a form that `resets` on
 * success starts over empty), and its ties to the error and hint.
 */
export function textField(
  state: FormState,
  id: string,
  name: string,
  o: { hint?: string; initial?: string; resets?: boolean } = {},
) {
  const initial = o.initial ?? "";
  return {
    id,
    name,
    defaultValue: o.resets && state.ok ? initial : (state.values?.[name] ?? initial),
    ...fieldAria(id, state.fields?.[name], o.hint),
  };
}

/** Resets a form after a successful submission (seq changes). */
export function useResetOnSuccess(state: FormState) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (state.ok && state.seq) ref.current?.reset();
  }, [state.ok, state.seq]);
  return ref;
}

export function OnboardForm({ defaultPlan, defaultName }: { defaultPlan: string; defaultName: string }) {
  const [state, action] = useActionState(createOrganization, INITIAL);
  const nameErr = state.fields?.name;
  return (
    <form action={action} className="form" noValidate>
      <FormMessage state={state} id="onboard-message" />
      <div className="field">
        <label htmlFor="org-name">Organization name</label>
        <input
          {...textField(state, "org-name", "name", { hint: "org-name-hint", initial: defaultName })}
          type="text"
          required
          placeholder="Acme Inc."
          autoComplete="organization"
        />
        <p id="org-name-hint" className="muted small">
          Usually your company or team name, up to {NAME_MAX} characters. You can change it later in Organization
          settings.
        </p>
        <FieldError id="org-name-error" text={nameErr} />
      </div>
      <fieldset className="plans" aria-describedby={state.fields?.plan ? "plan-error" : undefined}>
        <legend>Plan</legend>
        {PLAN_INFO.map((p) => (
          <div className="plan-option" key={p.id}>
            <input
              type="radio"
              id={`plan-${p.id}`}
              name="plan"
              value={p.id}
              defaultChecked={p.id === (state.values?.plan || defaultPlan)}
            />
            <label htmlFor={`plan-${p.id}`}>
              <span className="plan-name">{p.name}</span>
              <span className="muted small">
                {p.price} {p.per}
              </span>
            </label>
          </div>
        ))}
      </fieldset>
      <FieldError id="plan-error" text={state.fields?.plan} />
      <div className="actions">
        <Submit testId="create-organization">Create organization</Submit>
      </div>
    </form>
  );
}

export function NewProjectForm({ canCreate }: { canCreate: boolean }) {
  const [state, action] = useActionState(createProject, INITIAL);
  const ref = useResetOnSuccess(state);
  const err = state.fields?.name;
  return (
    <form action={action} className="form" ref={ref} noValidate>
      <div className="form-row">
        <div className="field">
          <label htmlFor="project-name">New project</label>
          <input
            {...textField(state, "project-name", "name", {
              hint: canCreate ? "project-name-hint" : "project-role-hint",
              resets: true,
            })}
            type="text"
            required
            placeholder="Website relaunch"
          />
        </div>
        <Submit testId="create-project">Create project</Submit>
      </div>
      {canCreate ? (
        <p id="project-name-hint" className="muted small">
          Up to {NAME_MAX} characters.
        </p>
      ) : (
        <p id="project-role-hint" className="muted small">
          Creating projects needs the owner or admin role; the API will refuse it for members.
        </p>
      )}
      <FieldError id="project-name-error" text={err} />
      <FormMessage state={state} id="project-message" />
    </form>
  );
}

export function DeleteProjectButton({ id, name }: { id: string; name: string }) {
  const [state, action] = useActionState(deleteProject, INITIAL);
  return (
    <form action={action} className="inline-form">
      <input type="hidden" name="id" value={id} />
      <button type="submit" className="btn btn-danger btn-small" aria-label={`Delete project ${name}`}>
        Delete
      </button>
      {state.message && !state.ok ? (
        <span className="message message-error" role="alert">
          {state.message}
        </span>
      ) : null}
    </form>
  );
}

export function InviteForm({ canGrantOwner }: { canGrantOwner: boolean }) {
  const [state, action] = useActionState(inviteMember, INITIAL);
  const ref = useResetOnSuccess(state);
  const emailErr = state.fields?.email;
  return (
    <form action={action} className="form" ref={ref} noValidate>
      <div className="form-row">
        <div className="field">
          <label htmlFor="member-email">Email address</label>
          <input
            {...textField(state, "member-email", "email", { hint: "member-email-hint", resets: true })}
            type="email"
            required
            autoComplete="off"
            placeholder="colleague@example.com"
          />
        </div>
        <div className="field" style={{ flex: "0 0 160px", minWidth: 140 }}>
          <label htmlFor="member-role">Role</label>
          <select id="member-role" name="role" defaultValue={state.ok ? "member" : (state.values?.role ?? "member")}>
            <option value="member">Member</option>
            <option value="admin">Admin</option>
            {canGrantOwner ? <option value="owner">Owner</option> : null}
          </select>
        </div>
        <Submit testId="invite-member">Invite</Submit>
      </div>
      <p id="member-email-hint" className="muted small">
        They join when they open the link, signed in with this address (verified). They do not need an account yet.
      </p>
      <FieldError id="member-email-error" text={emailErr} />
      <FormMessage state={state} id="member-message" />
      {state.ok && state.link ? (
        <div className="field">
          <label htmlFor="invitation-link">Invitation link (shown once)</label>
          <input
            id="invitation-link"
            type="text"
            readOnly
            value={state.link}
            data-testid="invitation-link"
            onFocus={(e) => e.currentTarget.select()}
          />
        </div>
      ) : null}
    </form>
  );
}

export function RevokeInvitationButton({ id, email }: { id: string; email: string }) {
  const [state, action] = useActionState(revokeInvitation, INITIAL);
  return (
    <form action={action} className="inline-form">
      <input type="hidden" name="invitationId" value={id} />
      <button type="submit" className="btn btn-danger btn-small" aria-label={`Revoke the invitation of ${email}`}>
        Revoke
      </button>
      {state.message && !state.ok ? (
        <span className="message message-error" role="alert">
          {state.message}
        </span>
      ) : null}
    </form>
  );
}

export function AcceptInvitationForm() {
  const [state, action] = useActionState(acceptInvitation, INITIAL);
  return (
    <form action={action} className="form">
      <FormMessage state={state} id="accept-message" />
      {state.next === "verify" ? (
        <p>
          <a href="/auth/verification">Verify your email address</a>
        </p>
      ) : null}
      <div className="actions">
        <Submit testId="accept-invitation">Accept invitation</Submit>
      </div>
    </form>
  );
}

export function OpenOrganizationButton({ id, name }: { id: string; name: string }) {
  const [state, action] = useActionState(openOrganization, INITIAL);
  return (
    <form action={action} className="inline-form">
      <input type="hidden" name="organizationId" value={id} />
      <button type="submit" className="btn btn-secondary btn-small" aria-label={`Open ${name}`}>
        Open
      </button>
      {state.message && !state.ok ? (
        <span className="message message-error" role="alert">
          {state.message}
        </span>
      ) : null}
    </form>
  );
}

export function MemberControls({
  identityId,
  email,
  role,
  canGrantOwner,
}: {
  identityId: string;
  email: string;
  role: string;
  canGrantOwner: boolean;
}) {
  const [roleState, roleAction] = useActionState(changeRole, INITIAL);
  const [removeState, removeAction] = useActionState(removeMember, INITIAL);
  const selectId = `role-${identityId}`;
  const msg = roleState.message ? roleState : removeState;
  return (
    <div className="row-actions">
      <form action={roleAction} className="row-actions">
        <input type="hidden" name="identityId" value={identityId} />
        <label htmlFor={selectId} className="sr-only">
          Role of {email}
        </label>
        {/* Keyed by the saved role: after the action React resets the form to its
            defaults, which for an uncontrolled select are those of its first render. */}
        <select key={role} id={selectId} name="role" defaultValue={role}>
          <option value="member">Member</option>
          <option value="admin">Admin</option>
          {canGrantOwner || role === "owner" ? <option value="owner">Owner</option> : null}
        </select>
        <Submit className="btn btn-secondary btn-small">Save role</Submit>
      </form>
      <ConfirmButton
        action={removeAction}
        hidden={{ identityId }}
        label="Remove"
        confirmLabel={`Remove ${email}`}
        question={`Remove ${email} from the organization? They lose access at once.`}
        testId="remove-member"
      />
      {msg.message ? (
        <span
          className={msg.ok ? "message message-success" : "message message-error"}
          role={msg.ok ? "status" : "alert"}
        >
          {msg.message}
        </span>
      ) : null}
    </div>
  );
}

/**
 * A destructive button that asks first: the first press opens a modal dialog with the
 * question, the real button and "Cancel" (or Escape); nothing is sent until the real
 * one is pressed.
 */
export function ConfirmButton({
  action,
  hidden,
  label,
  confirmLabel,
  question,
  testId,
  children,
}: {
  action: (form: FormData) => void;
  hidden: Record<string, string>;
  label: string;
  confirmLabel: string;
  question: string;
  testId: string;
  children?: React.ReactNode;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const qid = useId();
  const open = () => {
    dialog.current?.showModal();
    // A field to fill gets the focus (the dialog's first); otherwise the harmless choice.
    if (!children) cancel.current?.focus();
  };
  return (
    <form action={action} className="inline-form confirm-form" onSubmit={() => dialog.current?.close()}>
      {Object.entries(hidden).map(([k, v]) => (
        <input key={k} type="hidden" name={k} value={v} />
      ))}
      <button
        type="button"
        ref={trigger}
        className="btn btn-danger btn-small"
        onClick={open}
        aria-haspopup="dialog"
        // The accessible name names what is removed, and starts with the visible label
        // (speech users say what they see).
        aria-label={confirmLabel.startsWith(label) ? confirmLabel : undefined}
        data-testid={testId}
      >
        {label}
      </button>
      {/* Modal: the page behind is inert and Escape closes it; focus goes back to the button. */}
      <dialog
        ref={dialog}
        className="confirm"
        aria-labelledby={qid}
        onClose={() => trigger.current?.focus()}
        onKeyDown={(e) => trapTab(e, dialog.current)}
      >
        <p id={qid} className="confirm-question">
          {question}
        </p>
        {children}
        <div className="actions">
          <button type="submit" className="btn btn-danger btn-small" data-testid={`${testId}-confirm`}>
            {confirmLabel}
          </button>
          <button
            type="button"
            ref={cancel}
            className="btn btn-secondary btn-small"
            onClick={() => dialog.current?.close()}
            data-testid={`${testId}-cancel`}
          >
            Cancel
          </button>
        </div>
      </dialog>
    </form>
  );
}

/**
 * Keeps Tab and Shift+Tab cycling inside an open dialog (a modal dialog makes the page
 * inert, but Tab would otherwise leave for the browser's own controls).
 */
function trapTab(e: React.KeyboardEvent, box: HTMLElement | null): void {
  if (e.key !== "Tab" || !box) return;
  const items = [...box.querySelectorAll<HTMLElement>("button, input, select, textarea, a[href]")].filter(
    (el) => !el.hasAttribute("disabled") && el.getAttribute("type") !== "hidden",
  );
  const first = items[0];
  const last = items[items.length - 1];
  if (!first || !last) return;
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}
