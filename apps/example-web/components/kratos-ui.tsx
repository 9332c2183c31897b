// Renders a Kratos flow's UI generically: whatever nodes Kratos sends (inputs of
// any type, images such as the TOTP QR code, texts such as the TOTP secret or the
// backup codes, links, scripts) become a form, so a new identity-schema field or a
// new method shows up without code changes here.
//
// Nodes are grouped by method ("password", "totp", "lookup_secret", "profile"…):
// one <form> per method, each carrying the "default" group's hidden inputs (the CSRF
// token, and on later steps the traits) so that submitting one method never trips
// over another method's required inputs.
import type { UiNode, UiText } from "@ory/client";
import Script from "next/script";
import type { HTMLAttributeReferrerPolicy, ReactNode } from "react";
import type { Flow } from "../lib/kratos.ts";
import { productMessage } from "../lib/kratos-messages.ts";
import { CodesActions } from "./copy.tsx";
import { KratosTriggers } from "./kratos-triggers.tsx";

type Attrs = Record<string, unknown>;

const GROUP_TITLES: Record<string, string> = {
  profile: "Profile",
  password: "Password",
  totp: "Authenticator app",
  lookup_secret: "Backup codes",
  oidc: "Sign-in providers",
  code: "Email code",
  webauthn: "Security keys",
  passkey: "Passkeys",
};

const GROUP_HINTS: Record<string, string> = {
  totp: "Use an authenticator app (1Password, Google Authenticator, Aegis…) as a second factor.",
  lookup_secret: "One-time codes for when your authenticator app is not at hand. Keep them somewhere safe.",
  password: "Choose a long password: at least 10 characters.",
};

function attrs(node: UiNode): Attrs {
  return node.attributes as unknown as Attrs;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Only the entries that have a value (props typed with exactOptionalPropertyTypes). */
function optional<T extends Record<string, unknown>>(o: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined | ""> }> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== "")) as Partial<{
    [K in keyof T]: Exclude<T[K], undefined | "">;
  }>;
}

function nodeName(node: UiNode): string {
  return str(attrs(node).name) ?? str(attrs(node).id) ?? "";
}

/** A React key: group, type, name (or id) and, for buttons sharing a name, the value. */
function nodeKey(node: UiNode): string {
  const a = attrs(node);
  const value = a.type === "submit" || a.type === "button" ? String(a.value ?? "") : "";
  return `${node.group}/${node.type}/${nodeName(node)}/${value}`;
}

function isHidden(node: UiNode): boolean {
  return node.type === "input" && attrs(node).type === "hidden";
}

/** A stable DOM id for an input: unique per form (method group) and name. */
function domId(formKey: string, name: string): string {
  return `${formKey}-${name}`.replace(/[^A-Za-z0-9_-]/g, "-");
}

export function Messages({ messages, id }: { messages: readonly UiText[] | undefined; id?: string }) {
  if (!messages || messages.length === 0) return null;
  return (
    <div id={id} className="messages">
      {messages.map((m) => {
        const pm = productMessage(m);
        return (
          <p
            key={`${m.id}-${m.text}`}
            className={`message message-${m.type}`}
            role={m.type === "error" ? "alert" : "status"}
            data-message-id={m.id}
          >
            {pm.text}
            {pm.action ? (
              <>
                {" "}
                <a href={pm.action.href} data-testid="message-action">
                  {pm.action.label}
                </a>
              </>
            ) : null}
          </p>
        );
      })}
    </div>
  );
}

/** Submit buttons Kratos sends carry name/value (`method=password`); their label is the node's label. */
function SubmitButton({ node, primary }: { node: UiNode; primary: boolean }) {
  const a = attrs(node);
  const label = node.meta.label?.text || str(a.value) || "Continue";
  const secondary =
    !primary || a.name === "screen" || a.name === "lookup_secret_reveal" || String(a.name).endsWith("_unlink");
  const danger = String(a.name).endsWith("_unlink") || a.name === "lookup_secret_disable";
  const trigger = str(a.onclickTrigger);
  if (trigger) {
    // A passkey button: webauthn.js does the work and submits the form (KratosTriggers).
    return (
      <button
        type="button"
        data-ory-trigger={trigger}
        disabled={a.disabled === true}
        className={primary ? "btn btn-primary" : "btn btn-secondary"}
        data-testid={`trigger-${trigger}`}
      >
        {label}
      </button>
    );
  }
  return (
    <button
      type="submit"
      name={str(a.name)}
      value={a.value === undefined || a.value === null ? "" : String(a.value)}
      disabled={a.disabled === true}
      // "Resend code", "Back", "Disable…": they must not be blocked by the primary
      // method's required inputs (an empty code field).
      formNoValidate={secondary || undefined}
      className={danger ? "btn btn-danger" : secondary ? "btn btn-secondary" : "btn btn-primary"}
      data-testid={`submit-${String(a.name)}-${String(a.value ?? "")}`}
    >
      {label}
    </button>
  );
}

function Field({ node, formKey }: { node: UiNode; formKey: string }) {
  const a = attrs(node);
  const name = str(a.name) ?? "";
  const type = str(a.type) ?? "text";
  const id = domId(formKey, name);
  const msgId = `${id}-messages`;
  const errors = node.messages.filter((m) => m.type === "error");
  const label = node.meta.label?.text || name;
  const described = node.messages.length > 0 ? msgId : undefined;
  const value = a.value;
  if (type === "checkbox") {
    return (
      <div className="field field-checkbox">
        <input
          id={id}
          type="checkbox"
          name={name}
          value="true"
          defaultChecked={value === true || value === "true"}
          required={a.required === true}
          disabled={a.disabled === true}
          aria-invalid={errors.length > 0 || undefined}
          aria-describedby={described}
        />
        <label htmlFor={id}>{label}</label>
        <Messages messages={node.messages} id={msgId} />
      </div>
    );
  }
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {a.required === true ? null : <span className="optional"> (optional)</span>}
      </label>
      <input
        id={id}
        name={name}
        type={type}
        // Kratos never sends back a password; everything else keeps what was typed.
        defaultValue={type === "password" || value === undefined || value === null ? undefined : String(value)}
        required={a.required === true}
        disabled={a.disabled === true}
        autoComplete={str(a.autocomplete) ?? (name === "totp_code" || name === "code" ? "one-time-code" : undefined)}
        inputMode={name === "totp_code" || name === "code" ? "numeric" : undefined}
        pattern={str(a.pattern)}
        maxLength={typeof a.maxlength === "number" ? a.maxlength : undefined}
        aria-invalid={errors.length > 0 || undefined}
        aria-describedby={described}
      />
      <Messages messages={node.messages} id={msgId} />
    </div>
  );
}

interface Secret {
  text?: string;
  context?: { secret?: string };
}

function TextNode({ node }: { node: UiNode }) {
  const a = attrs(node);
  const text = (a.text ?? {}) as UiText & { context?: { secrets?: Secret[]; secret?: string } };
  const id = str(a.id) ?? "text";
  const secrets = text.context?.secrets;
  const label = node.meta.label?.text;
  if (Array.isArray(secrets)) {
    return (
      <div className="node-text" id={id}>
        {label ? <p className="muted">{label}</p> : null}
        <ul className="codes" data-testid="lookup-codes">
          {secrets.map((s, i) => (
            // Codes may repeat as "used" markers; the index keeps keys unique.
            // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list rendered once
            <li key={i}>
              <code>{s.context?.secret ?? s.text}</code>
            </li>
          ))}
        </ul>
        <CodesActions codes={secrets.map((s) => s.context?.secret ?? s.text ?? "")} />
      </div>
    );
  }
  return (
    <div className="node-text" id={id}>
      {label ? <p className="muted">{label}</p> : null}
      <code className="secret" data-testid={id}>
        {text.text}
      </code>
    </div>
  );
}

function NodeView({ node, formKey, primary }: { node: UiNode; formKey: string; primary: boolean }): ReactNode {
  const a = attrs(node);
  switch (node.type) {
    case "input": {
      const type = str(a.type);
      if (type === "hidden") {
        return <input type="hidden" name={str(a.name)} value={a.value == null ? "" : String(a.value)} />;
      }
      if (type === "submit" || type === "button") return <SubmitButton node={node} primary={primary} />;
      return <Field node={node} formKey={formKey} />;
    }
    case "img":
      return (
        <figure className="node-img">
          {/* A data: URL from Kratos (the TOTP QR code): next/image has nothing to optimise. */}
          {/* biome-ignore lint/performance/noImgElement: data URL from Kratos */}
          <img
            src={str(a.src)}
            alt={node.meta.label?.text || "Image"}
            width={typeof a.width === "number" ? a.width : undefined}
            height={typeof a.height === "number" ? a.height : undefined}
            id={str(a.id)}
          />
          {node.meta.label?.text ? <figcaption className="muted">{node.meta.label.text}</figcaption> : null}
        </figure>
      );
    case "text":
      return <TextNode node={node} />;
    case "a": {
      const title = (a.title ?? {}) as UiText;
      return (
        <p>
          <a className="btn btn-secondary" href={str(a.href)} id={str(a.id)}>
            {title.text || node.meta.label?.text || "Continue"}
          </a>
        </p>
      );
    }
    case "script":
      // Kratos' webauthn.js. Loaded by next/script once the page is interactive: a plain
      // <script async> in the server HTML is hoisted by React and fails hydration, and a
      // failed hydration re-renders the forms, dropping what was typed.
      return (
        <Script
          src={str(a.src) ?? ""}
          strategy="afterInteractive"
          {...optional({
            crossOrigin: str(a.crossorigin) as "anonymous" | "use-credentials" | undefined,
            integrity: str(a.integrity),
            nonce: str(a.nonce),
            referrerPolicy: str(a.referrerpolicy) as HTMLAttributeReferrerPolicy | undefined,
            id: str(a.id),
          })}
        />
      );
    default:
      return null;
  }
}

export interface FlowFormsProps {
  flow: Flow;
  /** Form action; defaults to Kratos' own (`flow.ui.action`). */
  action?: string;
  /** Show a heading per method (settings). */
  titled?: boolean;
  /** Extra hidden fields added to every form. */
  extraHidden?: Record<string, string>;
}

/**
 * Where a method's card goes on a titled page (settings): a fixed order, because
 * Kratos lists groups in the order their nodes were added, which changes with the
 * state (generating backup codes moved their card). Others follow in Kratos' order.
 */
const GROUP_ORDER = ["profile", "password", "totp", "lookup_secret", "webauthn", "passkey", "oidc"];
const rank = (g: string) => {
  const i = GROUP_ORDER.indexOf(g);
  return i < 0 ? GROUP_ORDER.length : i;
};

/** One form per method group: in Kratos' order, or GROUP_ORDER's on titled pages. */
export function FlowForms({ flow, action, titled = false, extraHidden = {} }: FlowFormsProps) {
  const nodes = flow.ui.nodes;
  const defaults = nodes.filter((n) => n.group === "default");
  const groups: string[] = [];
  for (const n of nodes) if (n.group !== "default" && !groups.includes(n.group)) groups.push(n.group);
  // Array.prototype.sort is stable: groups of equal rank keep Kratos' order.
  if (titled) groups.sort((a, b) => rank(a) - rank(b));
  // A flow with only default nodes (e.g. a bare verification step) still gets one form.
  if (groups.length === 0) groups.push("default");
  const visibleDefaults = defaults.filter((n) => !isHidden(n));
  const hiddenDefaults = defaults.filter(isHidden);

  const isButton = (n: UiNode) => n.type === "input" && (attrs(n).type === "submit" || attrs(n).type === "button");
  const own = (g: string) => nodes.filter((n) => n.group === g);
  const buttonsOnly = (g: string) => own(g).length > 0 && own(g).every(isButton);
  const typed = (g: string) => own(g).some((n) => n.type === "input" && !isButton(n) && !isHidden(n));
  // Visible default nodes (the identifier, the traits on the first sign-up step) belong
  // to the first method the person types into (the password), else the first that is only
  // a button (the first sign-up step's "Sign up"), never to social sign-in buttons (the
  // provider supplies the traits, and required empty fields would block them) nor to
  // Kratos' script group. Every other method gets only the hidden ones.
  const firstOf = (ok: (g: string) => boolean) => groups.findIndex((g) => g !== "oidc" && ok(g));
  const withDefaults = [firstOf(typed), firstOf(buttonsOnly), firstOf(() => true), 0].find((i) => i >= 0) as number;
  // A method that is only a button and acts on what the person typed there (login's
  // "Send sign in code" takes the identifier) joins that form as another button.
  const joined =
    titled || visibleDefaults.length === 0
      ? []
      : groups.filter(
          (g, i) =>
            i !== withDefaults &&
            g !== "oidc" &&
            buttonsOnly(g) &&
            !nodes.some((n) => n.group === g && attrs(n).name === "screen"),
        );
  // The sections with buttons, in order: an "or" goes between them (not above the first).
  const alternatives = groups.filter(
    (g, i) => !joined.includes(g) && (own(g).some(isButton) || (i === withDefaults && joined.length > 0)),
  );
  const formFor = (group: string, index: number) => {
    if (joined.includes(group)) return null;
    const mine = group === "default" ? [] : own(group);
    const guests = index === withDefaults ? nodes.filter((n) => joined.includes(n.group)) : [];
    const body = [...(index === withDefaults ? visibleDefaults : []), ...mine, ...guests];
    const submits = body.filter(isButton);
    const firstSubmit = submits[0];
    const fields = body.filter((n) => !submits.includes(n));
    const formKey = `${group}`;
    // A group that is only a "Back" button (screen=previous) is navigation, not an alternative.
    const onlyNavigation = mine.length > 0 && mine.every((n) => attrs(n).name === "screen");
    const hasInputs = body.some((n) => n.type === "input");
    const content = (
      <>
        {hiddenDefaults.map((n) => (
          <NodeView key={`h-${nodeName(n)}`} node={n} formKey={formKey} primary={false} />
        ))}
        {Object.entries(extraHidden).map(([k, v]) => (
          <input key={`x-${k}`} type="hidden" name={k} value={v} />
        ))}
        {fields.map((n) => (
          <NodeView key={nodeKey(n)} node={n} formKey={formKey} primary={false} />
        ))}
        {submits.length > 0 ? (
          <div className="actions">
            {submits.map((n) => (
              <NodeView key={nodeKey(n)} node={n} formKey={formKey} primary={n === firstSubmit} />
            ))}
          </div>
        ) : null}
      </>
    );
    return (
      <section
        key={group}
        className={titled ? "card method" : "method"}
        aria-labelledby={titled ? `${formKey}-title` : undefined}
      >
        {titled && GROUP_TITLES[group] ? (
          <>
            <h2 id={`${formKey}-title`}>{GROUP_TITLES[group]}</h2>
            {GROUP_HINTS[group] ? <p className="muted">{GROUP_HINTS[group]}</p> : null}
          </>
        ) : null}
        {!titled && alternatives.indexOf(group) > 0 && !onlyNavigation ? <div className="divider">or</div> : null}
        {hasInputs ? (
          <form
            // A provider button posts straight to Kratos (through the gateway), never via a
            // page's own handler: Kratos' continuity cookie is host-only, set for the host the
            // browser posted to, and the provider's callback comes back to Kratos' host.
            action={group === "oidc" ? flow.ui.action : (action ?? flow.ui.action)}
            method={flow.ui.method || "post"}
            className="form"
            data-group={group}
            noValidate={false}
          >
            {content}
          </form>
        ) : (
          <div className="form">{content}</div>
        )}
      </section>
    );
  };

  return (
    <div className="flow">
      {groups.map((g, i) => formFor(g, i))}
      {nodes.some((n) => str(attrs(n).onclickTrigger)) ? <KratosTriggers /> : null}
    </div>
  );
}
