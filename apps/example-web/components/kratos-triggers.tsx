"use client";
// Kratos' passkey (and WebAuthn) buttons name a function of its webauthn.js (the flow's
// `script` node, served by Kratos through the gateway) in `onclickTrigger`, e.g.
// "oryPasskeyLogin": it asks the browser for the credential, fills the form's hidden
// input and submits the form. Such buttons are rendered as type="button" with
// data-ory-trigger; this one listener calls the named function on click.
import { useEffect } from "react";

const TRIGGER = /^ory[A-Za-z]{1,64}$/;

export function KratosTriggers() {
  useEffect(() => {
    const onClick = (e: MouseEvent) => {
      const el = e.target instanceof Element ? e.target.closest("[data-ory-trigger]") : null;
      const name = el?.getAttribute("data-ory-trigger") ?? "";
      if (!el || !TRIGGER.test(name)) return;
      e.preventDefault();
      const fn = (window as unknown as Record<string, unknown>)[name];
      if (typeof fn === "function") fn();
    };
    document.addEventListener("click", onClick);
    return () => document.removeEventListener("click", onClick);
  }, []);
  return null;
}
