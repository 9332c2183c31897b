// Checks an answer of the auth-service against its OpenAPI document (src/http/openapi.ts):
// the path and method must be in it (or the answer is the 404 `not_found` of a path it
// does not know), the status must be declared, and the body must match the status's
// schema (JSON Schema 2020-12, ajv), an error's code among the response's x-error-codes.
// support.ts's call() runs every answer the tests receive through it.
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { openApiDocument } from "../src/http/openapi.ts";

type Json = Record<string, unknown>;

export interface Answer {
  method: string;
  /** The request's path; the query is ignored. */
  path: string;
  status: number;
  contentType: string | null;
  text: string;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

export function contractChecker(doc: Json = openApiDocument()) {
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats.default(ajv);
  ajv.addSchema(doc, "openapi");
  const paths = doc.paths as Record<string, Record<string, Json>>;
  // Express matches paths case-insensitively, with an optional trailing slash.
  const templates = Object.keys(paths).map((t) => ({
    template: t,
    re: new RegExp(`^${t.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}/?$`, "i"),
  }));

  function validate(ref: string, value: unknown): string | undefined {
    const v = ajv.getSchema(`openapi#/${ref}`);
    if (!v) return `no schema at ${ref}`;
    if (v(value)) return undefined;
    return ajv.errorsText(v.errors, { dataVar: "body" });
  }

  /** Why `a` breaks the contract, or undefined when it keeps it. */
  return function check(a: Answer): string | undefined {
    const method = a.method.toLowerCase();
    const path = a.path.split("?")[0] ?? "";
    const where = `${a.method} ${path} → ${a.status}`;
    // A CORS preflight is answered by the cors middleware before any route.
    if (method === "options")
      return a.status === 204 && a.text === "" ? undefined : `${where}: not a CORS preflight answer`;
    const found = templates.find((t) => t.re.test(path) && paths[t.template]?.[method]);
    if (!found) {
      if (a.status !== 404) return `${where}: no such route in the contract`;
      const err = validate(pointer("components", "schemas", "Error404"), parse(a.text));
      return err && `${where}: not the not_found error body: ${err}`;
    }
    const op = paths[found.template]?.[method] as Json;
    const responses = op.responses as Record<string, Json>;
    const declared = responses[String(a.status)];
    if (!declared) return `${where}: status not declared for ${found.template}`;
    const content = declared.content as Record<string, unknown> | undefined;
    if (!content) return a.text === "" ? undefined : `${where}: a body where the contract says none`;
    if (content["text/plain"]) return a.contentType?.startsWith("text/plain") ? undefined : `${where}: not text/plain`;
    if (!a.contentType?.startsWith("application/json")) return `${where}: not application/json (${a.contentType})`;
    const body = parse(a.text);
    const base = pointer("paths", found.template, method, "responses", String(a.status));
    const err = validate(`${base}/${pointer("content", "application/json", "schema")}`, body);
    if (err) return `${where}: ${err}; body ${a.text.slice(0, 300)}`;
    const codes = declared["x-error-codes"] as string[] | undefined;
    const code = (body as Json | undefined)?.error;
    if (codes && typeof code === "string" && !codes.includes(code)) {
      return `${where}: error ${code} not among this route's codes (${codes.join(", ")})`;
    }
    return undefined;
  };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return Symbol("not JSON");
  }
}
