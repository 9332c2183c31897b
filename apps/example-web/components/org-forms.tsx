"use client";
// Forms of the organization pages: settings (name, plan, leave, delete), the
// organization switcher, API keys and teams. Same patterns as forms.tsx.
import { useActionState } from "react";
import { openOrganization } from "../app/(app)/actions.ts";
import {
  changePlan,
  createApiKey,
  createTeam,
  deleteOrganization,
  leaveOrganization,
  removeTeamMember,
  renameOrganization,
  revokeApiKey,
  revokeMyOtherSessions,
  revokeMySession,
  setRequireMfa,
  setTeamMember,
} from "../app/(app)/org-actions.ts";
import { NAME_MAX, SHORT_NAME_MAX } from "../lib/limits.ts";
import { CopyButton } from "./copy.tsx";
import {
  ConfirmButton,
  FieldError,
  FormMessage,
  fieldAria,
  INITIAL,
  Submit,
  textField,
  useResetOnSuccess,
} from "./forms.tsx";
import { PLAN_INFO } from "./plans.ts";

export function RenameOrganizationForm({ name, canRename }: { name: string; canRename: boolean }) {
  const [state, action] = useActionState(renameOrganization, INITIAL);
  const err = state.fields?.name;
  return (
    <form action={action} className="form" noValidate>
      <div className="field">
        <label htmlFor="org-rename">Name</label>
        <input
          {...textField(state, "org-rename", "name", { hint: "org-rename-hint", initial: name })}
          type="text"
          required
          disabled={!canRename}
        />
        <p id="org-rename-hint" className="muted small">
          Up to {NAME_MAX} characters.{canRename ? "" : " Only owners and admins can rename the organization."}
        </p>
        <FieldError id="org-rename-error" text={err} />
      </div>
      {canRename ? (
        <div className="actions">
          <Submit testId="rename-organization">Save name</Submit>
        </div>
      ) : null}
      <FormMessage state={state} id="rename-message" />
    </form>
  );
}

export function PlanForm({ plan }: { plan: string }) {
  const [state, action] = useActionState(changePlan, INITIAL);
  return (
    <form action={action} className="form">
      <fieldset className="plans">
        <legend className="sr-only">Plan</legend>
        {PLAN_INFO.map((p) => (
          <div className="plan-option" key={p.id}>
            <input type="radio" id={`set-plan-${p.id}`} name="plan" value={p.id} defaultChecked={p.id === plan} />
            <label htmlFor={`set-plan-${p.id}`}>
              <span className="plan-name">{p.name}</span>
              <span className="muted small">
                {p.price} {p.per}
              </span>
            </label>
          </div>
        ))}
      </fieldset>
      <div className="actions">
        <Submit testId="change-plan">Change plan</Submit>
      </div>
      <FormMessage state={state} id="plan-message" />
    </form>
  );
}

/** Owners only (the page shows the others the state); the checkbox is off-limits below Enterprise. */
export function RequireMfaForm({ required, enterprise }: { required: boolean; enterprise: boolean }) {
  const [state, action] = useActionState(setRequireMfa, INITIAL);
  return (
    <form action={action} className="form">
      <div className="field field-checkbox">
        <input
          type="checkbox"
          id="require-mfa"
          name="require_mfa"
          defaultChecked={required}
          disabled={!enterprise && !required}
          aria-describedby="require-mfa-hint"
        />
        <label htmlFor="require-mfa">Require a second factor for every member</label>
      </div>
      <p id="require-mfa-hint" className="muted small">
        {enterprise
          ? "Members who sign in with a password alone are asked for their authenticator code, or to set one up, before they can go on."
          : "Available on the Enterprise plan."}
      </p>
      {enterprise || required ? (
        <div className="actions">
          <Submit testId="save-require-mfa">Save</Submit>
        </div>
      ) : null}
      <FormMessage state={state} id="require-mfa-message" />
    </form>
  );
}

export function LeaveOrganizationButton({ name }: { name: string }) {
  const [state, action] = useActionState(leaveOrganization, INITIAL);
  return (
    <div>
      <ConfirmButton
        action={action}
        hidden={{}}
        label="Leave organization"
        confirmLabel="Leave"
        question={`Leave ${name}? You lose access until someone invites you again.`}
        testId="leave-organization"
      />
      <FormMessage state={state} id="leave-message" />
    </div>
  );
}

export function DeleteOrganizationButton({ name }: { name: string }) {
  const [state, action] = useActionState(deleteOrganization, INITIAL);
  const err = state.fields?.confirmName;
  return (
    <div>
      <ConfirmButton
        action={action}
        hidden={{ expectedName: name }}
        label="Delete organization"
        confirmLabel="Delete for good"
        question="This removes the organization, its teams and API keys for every member. Type its name to confirm:"
        testId="delete-organization"
      >
        <label htmlFor="confirm-name" className="sr-only">
          Organization name
        </label>
        <input
          id="confirm-name"
          name="confirmName"
          type="text"
          autoComplete="off"
          {...fieldAria("confirm-name", err)}
        />
      </ConfirmButton>
      <FieldError id="confirm-name-error" text={err} />
      <FormMessage state={state} id="delete-message" />
    </div>
  );
}

/** For people in several organizations: which one the app (and their tokens) use. */
export function OrganizationSwitcher({ orgs, current }: { orgs: { id: string; name: string }[]; current: string }) {
  const [state, action] = useActionState(openOrganization, INITIAL);
  return (
    <form action={action} className="org-switcher">
      <label htmlFor="org-switch" className="sr-only">
        Organization
      </label>
      <select id="org-switch" name="organizationId" defaultValue={current} data-testid="org-switch">
        {orgs.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name.length > 40 ? `${o.name.slice(0, 39)}…` : o.name}
          </option>
        ))}
      </select>
      <Submit className="btn btn-secondary btn-small" testId="org-switch-submit">
        Switch
      </Submit>
      {state.message && !state.ok ? (
        <span className="message message-error" role="alert">
          {state.message}
        </span>
      ) : null}
    </form>
  );
}

export function ApiKeyForm({ scopes, defaultScopes }: { scopes: string[]; defaultScopes: string[] }) {
  const [state, action] = useActionState(createApiKey, INITIAL);
  const ref = useResetOnSuccess(state);
  const err = state.fields?.name;
  return (
    <form action={action} className="form" ref={ref} noValidate>
      <div className="field">
        <label htmlFor="key-name">Name</label>
        <input
          {...textField(state, "key-name", "name", { hint: "key-name-hint", resets: true })}
          type="text"
          required
          placeholder="CI deploys"
        />
        <p id="key-name-hint" className="muted small">
          What it is for, up to {SHORT_NAME_MAX} characters.
        </p>
        <FieldError id="key-name-error" text={err} />
      </div>
      <fieldset className="checks">
        <legend>Scopes</legend>
        <p className="muted small">What the key may do; never more than your own role. Read access is ticked.</p>
        {scopes.map((s) => (
          <label key={s} className="check">
            <input type="checkbox" name="scopes" value={s} defaultChecked={defaultScopes.includes(s)} />
            <code>{s}</code>
          </label>
        ))}
      </fieldset>
      <fieldset className="checks">
        <legend>Acts as</legend>
        <label className="check">
          <input type="radio" name="owner" value="organization" defaultChecked />
          The organization (its scopes only; keeps working when you change role, stops if you leave)
        </label>
        <label className="check">
          <input type="radio" name="owner" value="me" />
          Me (<code>as_user</code>: your role, limited to its scopes)
        </label>
      </fieldset>
      <div className="actions">
        <Submit testId="create-api-key">Create key</Submit>
      </div>
      <FormMessage state={state} id="key-message" />
      {state.ok && state.link ? (
        <div className="field secret-once">
          <label htmlFor="new-key">Your new key (shown once)</label>
          <div className="form-row">
            <input
              id="new-key"
              type="text"
              readOnly
              value={state.link}
              data-testid="new-api-key"
              onFocus={(e) => e.currentTarget.select()}
            />
            <CopyButton text={state.link} />
          </div>
        </div>
      ) : null}
    </form>
  );
}

export function RevokeApiKeyButton({ id, name }: { id: string; name: string }) {
  const [state, action] = useActionState(revokeApiKey, INITIAL);
  return (
    <>
      <ConfirmButton
        action={action}
        hidden={{ keyId: id }}
        label="Revoke"
        confirmLabel={`Revoke ${name}`}
        question="Revoke this key? Anything using it stops working at once."
        testId="revoke-key"
      />
      {state.message && !state.ok ? (
        <span className="message message-error" role="alert">
          {state.message}
        </span>
      ) : null}
    </>
  );
}

export function TeamForm() {
  const [state, action] = useActionState(createTeam, INITIAL);
  const ref = useResetOnSuccess(state);
  const err = state.fields?.name;
  return (
    <form action={action} className="form" ref={ref} noValidate>
      <div className="form-row">
        <div className="field">
          <label htmlFor="team-name">New team</label>
          <input
            {...textField(state, "team-name", "name", { hint: "team-name-hint", resets: true })}
            type="text"
            required
            placeholder="Platform"
          />
        </div>
        <Submit testId="create-team">Create team</Submit>
      </div>
      <p id="team-name-hint" className="muted small">
        Up to {SHORT_NAME_MAX} characters.
      </p>
      <FieldError id="team-name-error" text={err} />
      <FormMessage state={state} id="team-message" />
    </form>
  );
}

export function TeamMemberForm({
  teamId,
  teamName,
  people,
}: {
  teamId: string;
  teamName: string;
  people: { id: string; label: string }[];
}) {
  const [state, action] = useActionState(setTeamMember, INITIAL);
  return (
    <form action={action} className="form-row">
      <input type="hidden" name="teamId" value={teamId} />
      <div className="field">
        <label htmlFor={`add-${teamId}`}>Add to {teamName}</label>
        <select id={`add-${teamId}`} name="identityId" data-testid="team-person">
          {people.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field field-narrow">
        <label htmlFor={`role-${teamId}`}>Team role</label>
        <select id={`role-${teamId}`} name="role" defaultValue="member" data-testid="team-role">
          <option value="member">Member</option>
          <option value="lead">Lead</option>
        </select>
      </div>
      <Submit className="btn btn-secondary" testId="add-team-member">
        Save
      </Submit>
      <FormMessage state={state} id={`team-member-message-${teamId}`} />
    </form>
  );
}

export function RemoveTeamMemberButton({
  teamId,
  identityId,
  who,
}: {
  teamId: string;
  identityId: string;
  who: string;
}) {
  const [, action] = useActionState(removeTeamMember, INITIAL);
  return (
    <ConfirmButton
      action={action}
      hidden={{ teamId, identityId }}
      label="Remove"
      confirmLabel={`Remove ${who} from the team`}
      question={`Remove ${who} from this team?`}
      testId="remove-team-member"
    />
  );
}

export function RevokeSessionButton({ id, device }: { id: string; device: string }) {
  const [state, action] = useActionState(revokeMySession, INITIAL);
  return (
    <>
      <ConfirmButton
        action={action}
        hidden={{ sessionId: id }}
        label="Sign out"
        confirmLabel={`Sign out ${device}`}
        question="Sign this session out? It needs to sign in again."
        testId="revoke-session"
      />
      {state.message && !state.ok ? (
        <span className="message message-error" role="alert">
          {state.message}
        </span>
      ) : null}
    </>
  );
}

export function RevokeOtherSessionsButton() {
  const [state, action] = useActionState(revokeMyOtherSessions, INITIAL);
  return (
    <>
      <ConfirmButton
        action={action}
        hidden={{}}
        label="Sign out all other sessions"
        confirmLabel="Sign out the others"
        question="Sign out every session but this one?"
        testId="revoke-other-sessions"
      />
      <FormMessage state={state} id="other-sessions-message" />
    </>
  );
}
