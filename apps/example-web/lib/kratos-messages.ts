// Kratos' messages in the product's own words, keyed by Kratos' message id (the ids
// are stable; the English texts are not, and read like a library's). Each entry says
// what happened and, where there is one, the next step as a link. An id missing here
// shows Kratos' own text. Ids: github.com/ory/kratos@v1.3.1/text/id.go.
import type { UiText } from "@ory/client";

export interface ProductMessage {
  text: string;
  action?: { href: string; label: string };
}

type Ctx = Record<string, unknown>;
const num = (ctx: Ctx, key: string): number | undefined =>
  typeof ctx[key] === "number" ? (ctx[key] as number) : undefined;
const SIGN_IN = { href: "/auth/login", label: "Sign in" };
const RESET = { href: "/auth/recovery", label: "Reset your password" };
const SIGN_UP = { href: "/auth/registration", label: "Create an account" };

const TABLE: Record<number, (ctx: Ctx) => ProductMessage> = {
  // Registration: the password step, after the profile step.
  1040009: () => ({ text: "Choose a password for your account." }),
  // Recovery: signed in by the code; the settings page is where the new password goes.
  1060001: (ctx) => {
    const until =
      typeof ctx.privileged_session_expires_at_unix === "number" ? ctx.privileged_session_expires_at_unix : 0;
    const minutes = until ? Math.max(1, Math.round((until * 1000 - Date.now()) / 60_000)) : 15;
    return { text: `You are signed in. Choose a new password below within ${minutes} minutes.` };
  },
  4000002: () => ({ text: "This field is required." }),
  4000003: (ctx) => ({ text: `Use at least ${num(ctx, "min_length") ?? "more"} characters.` }),
  4000004: () => ({ text: "This is not in the expected format." }),
  4000006: () => ({ text: "That email and password do not match.", action: RESET }),
  4000007: () => ({
    text: "There is already an account with this email address. Sign in instead, or reset its password if you forgot it.",
    action: SIGN_IN,
  }),
  4000008: () => ({ text: "That code is not right. Codes change every 30 seconds: use the current one." }),
  4000010: () => ({
    text: "Verify your email address first: we sent you a code.",
    action: { href: "/auth/verification", label: "Verify email" },
  }),
  4000012: () => ({ text: "That backup code was already used. Each one works once." }),
  4000016: () => ({ text: "That backup code is not valid." }),
  4000017: (ctx) => ({
    text: `Too long: at most ${num(ctx, "max_length") ?? "?"} characters (this is ${num(ctx, "actual_length") ?? "?"}).`,
  }),
  4000028: () => ({
    text: "There is already an account with this email address. Sign in to it instead.",
    action: SIGN_IN,
  }),
  4000031: () => ({ text: "This password is too similar to your email address. Choose another." }),
  4000032: (ctx) => ({ text: `Use a password of at least ${num(ctx, "min_length") ?? 8} characters.` }),
  4000033: (ctx) => ({ text: `Use a password of at most ${num(ctx, "max_length") ?? 72} characters.` }),
  4000034: () => ({ text: "This password has appeared in data breaches. Choose another one." }),
  4000037: () => ({ text: "We do not know an account with this address.", action: SIGN_UP }),
  4010001: () => ({ text: "The sign-in form expired. Please try again." }),
  4040001: () => ({ text: "The sign-up form expired. Please try again." }),
  4050001: () => ({ text: "The settings form expired. Please try again." }),
  4060004: () => ({ text: "That recovery link is not valid or was used already. Ask for a new code.", action: RESET }),
  4060005: () => ({ text: "The recovery form expired. Ask for a new code.", action: RESET }),
  4060006: () => ({
    text: "That code is not valid or was used already. Check the latest email, or ask for a new code.",
  }),
  4070005: () => ({ text: "The verification form expired. Ask for a new code." }),
  4070006: () => ({
    text: "That code is not valid or was used already. Check the latest email, or ask for a new code.",
  }),
};

/** Kratos' "… is not valid "email"" (4000001, the generic JSON-schema message) for a format. */
function generic(m: UiText): ProductMessage | undefined {
  if (/is not valid "email"/.test(m.text)) return { text: "Enter an email address such as name@example.com." };
  return undefined;
}

export function productMessage(m: UiText): ProductMessage {
  const ctx = (m.context ?? {}) as Ctx;
  return TABLE[m.id]?.(ctx) ?? (m.id === 4000001 ? generic(m) : undefined) ?? { text: m.text };
}
