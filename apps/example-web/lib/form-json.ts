// HTML form fields → the JSON body Kratos' self-service endpoints take.
import type { UiNode } from "@ory/client";

const FORBIDDEN_KEYS = new Set(["__proto__", "prototype", "constructor"]);

/** `traits.name.first=Ann` → `{traits:{name:{first:"Ann"}}}`, typed by the flow's nodes. */
export function formToJson(form: FormData, nodes: readonly UiNode[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of form.entries()) {
    if (typeof raw !== "string" || key.length > 200) continue;
    const path = key.split(".");
    if (path.some((p) => p === "" || FORBIDDEN_KEYS.has(p))) continue;
    const node = nodes.find((n) => n.type === "input" && (n.attributes as { name?: string }).name === key);
    const a = (node?.attributes ?? {}) as { type?: string; required?: boolean };
    let value: unknown = raw;
    if (a.type === "checkbox") value = raw === "true" || raw === "on";
    else if (a.type === "number") value = raw.trim() === "" ? undefined : Number(raw);
    // An optional field left empty is absent, as Kratos' own form decoding has it.
    if (value === undefined || (raw === "" && a.required !== true && a.type !== "hidden" && a.type !== "submit"))
      continue;
    let target = out;
    for (const seg of path.slice(0, -1)) {
      const next = target[seg];
      if (typeof next !== "object" || next === null || Array.isArray(next)) target[seg] = {};
      target = target[seg] as Record<string, unknown>;
    }
    target[path[path.length - 1] as string] = value;
  }
  return out;
}
