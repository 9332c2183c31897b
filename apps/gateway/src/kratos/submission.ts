// A self-service submission, read once: the gateway counts the identifier it finds
// here and sends Kratos exactly what it parsed, re-serialized, so the two can never
// read different accounts out of one body. Whatever Kratos could read differently
// is refused instead of guessed at:
//  - a content type other than plain JSON or a URL-encoded form (Kratos' decoder
//    splits the header on "," and ignores parameters: "x-www-form-urlencoded;
//    charset=json" is a form to it), a content encoding;
//  - query parameters other than one `flow` (Kratos' form decoder may read the query);
//  - a field twice with two values, or two fields one decoder would take for the same
//    one (Go's JSON decoder matches names without regard to case, and "ſ" for "s");
//    a form field repeated with the same value is sent once;
//  - two identifier fields (`identifier` and the legacy `password_identifier`) that
//    name different accounts, or an identifier that is not a string or too long.
import { MAX_IDENTIFIER_LENGTH, normalizeIdentifier } from "./identifier.ts";

export type SelfServiceFlow = "login" | "registration" | "recovery" | "verification";

/**
 * What a login submission asks Kratos to do, by its fields: check a secret (a password,
 * a code, a TOTP or backup code, a passkey or WebAuthn assertion), send an email code
 * (the `code` method without one), or neither (a social sign-in's redirect to its
 * provider, a passkey's challenge). Only a failed secret counts towards a lockout.
 */
export type LoginIntent = "credential" | "code_request" | "other";

export interface Submission {
  flow: SelfServiceFlow;
  /** Login only; other flows are counted per submission. */
  intent: LoginIntent;
  /** The flow id from the query, when there is one. */
  flowId: string | undefined;
  /** The account the submission is about, as sent (undefined: none named). */
  identifier: string | undefined;
  /** What Kratos receives. */
  contentType: "application/json" | "application/x-www-form-urlencoded";
  body: Buffer;
}

export type Parsed = { ok: true; submission: Submission } | { ok: false; status: 400 | 415; message: string };

const IDENTIFIER_FIELDS: Record<SelfServiceFlow, readonly string[][]> = {
  login: [["identifier"], ["password_identifier"]],
  registration: [["traits", "email"]],
  recovery: [["email"]],
  verification: [["email"]],
};
const MAX_DEPTH = 8;
/** Fields that carry a secret for Kratos to check (any login method). */
const SECRET_FIELDS = ["password", "code", "totp_code", "lookup_secret", "passkey_login", "webauthn_login"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const refuse = (status: 400 | 415, message: string): Parsed => ({ ok: false, status, message });

/** A field name as any of Kratos' decoders might match it. */
const foldName = (name: string) => name.normalize("NFKC").toLowerCase();

function mediaType(header: string | undefined): Submission["contentType"] | undefined {
  if (header === undefined || header.includes(",")) return undefined;
  const [type, ...params] = header.split(";").map((p) => p.trim().toLowerCase());
  for (const p of params) if (!/^charset="?utf-8"?$/.test(p)) return undefined;
  return type === "application/json" || type === "application/x-www-form-urlencoded" ? type : undefined;
}

function parseQuery(query: string): { ok: true; flowId: string | undefined } | { ok: false } {
  const params = new URLSearchParams(query.startsWith("?") ? query.slice(1) : query);
  let flowId: string | undefined;
  for (const [k, v] of params) {
    if (k !== "flow" || flowId !== undefined) return { ok: false };
    flowId = v;
  }
  return { ok: true, flowId: flowId !== undefined && UUID.test(flowId) ? flowId : undefined };
}

/**
 * Whether JSON text has an object with the same key twice (JSON.parse silently keeps
 * the last; other decoders may keep the first). A scan over strings and braces: the
 * text already parsed, so it is well-formed.
 */
function duplicateJsonKeys(text: string): boolean {
  const objects: (Set<string> | undefined)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") {
      objects.push(new Set());
      expectKey = true;
    } else if (c === "[") {
      objects.push(undefined);
    } else if (c === "}" || c === "]") {
      objects.pop();
      expectKey = false;
    } else if (c === ",") {
      expectKey = objects[objects.length - 1] !== undefined;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const keys = objects[objects.length - 1] as Set<string>;
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    }
  }
  return false;
}

/** Refuses an object with a key twice under any spelling a decoder would confuse, at any depth. */
function ambiguousKeys(value: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH) return true;
  if (Array.isArray(value)) return value.some((v) => ambiguousKeys(v, depth + 1));
  if (value === null || typeof value !== "object") return false;
  const seen = new Set<string>();
  for (const [k, v] of Object.entries(value)) {
    const f = foldName(k);
    if (seen.has(f)) return true;
    seen.add(f);
    if (ambiguousKeys(v, depth + 1)) return true;
  }
  return false;
}

/** The value at a path of (folded) field names, in a JSON body or a form ("traits.email"). */
function lookup(fields: Record<string, unknown>, path: readonly string[], form: boolean): unknown {
  if (form) {
    const want = path.join(".");
    for (const [k, v] of Object.entries(fields)) if (foldName(k) === want) return v;
    return undefined;
  }
  let at: unknown = fields;
  for (const part of path) {
    if (at === null || typeof at !== "object" || Array.isArray(at)) return undefined;
    let next: unknown;
    for (const [k, v] of Object.entries(at)) if (foldName(k) === part) next = v;
    at = next;
  }
  return at;
}

function identifierOf(
  flow: SelfServiceFlow,
  fields: Record<string, unknown>,
  form: boolean,
): { ok: true; identifier: string | undefined } | { ok: false; message: string } {
  let found: string | undefined;
  for (const path of IDENTIFIER_FIELDS[flow]) {
    const v = lookup(fields, path, form);
    if (v === undefined || v === "") continue;
    if (typeof v !== "string") return { ok: false, message: `${path.join(".")} must be a string` };
    const n = normalizeIdentifier(v);
    if (n === "" || n.length > MAX_IDENTIFIER_LENGTH)
      return { ok: false, message: `${path.join(".")} must be 1 to ${MAX_IDENTIFIER_LENGTH} characters` };
    if (found !== undefined && normalizeIdentifier(found) !== n)
      return { ok: false, message: "two identifier fields name different accounts" };
    found ??= v;
  }
  return { ok: true, identifier: found };
}

function loginIntent(fields: Record<string, unknown>, form: boolean): LoginIntent {
  const given = (name: string) => {
    const v = lookup(fields, [name], form);
    return v !== undefined && v !== null && v !== "";
  };
  if (SECRET_FIELDS.some(given)) return "credential";
  const method = lookup(fields, ["method"], form);
  // Unknown or missing method: counted, so a method Kratos adds later fails closed.
  if (method === "code") return "code_request";
  return method === "oidc" || method === "passkey" || method === "webauthn" ? "other" : "credential";
}

export function parseSubmission(
  flow: SelfServiceFlow,
  headers: { contentType: string | undefined; contentEncoding: string | undefined },
  body: Buffer,
  query: string,
): Parsed {
  const q = parseQuery(query);
  if (!q.ok) return refuse(400, "a submission takes one query parameter: flow");
  const encoding = headers.contentEncoding?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== "" && encoding !== "identity")
    return refuse(415, "submissions are not accepted compressed");
  const type = mediaType(headers.contentType);
  if (type === undefined)
    return refuse(415, "send application/json or application/x-www-form-urlencoded (charset utf-8 only)");
  const text = body.toString("utf8");

  let fields: Record<string, unknown>;
  let out: string;
  if (type === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return refuse(400, "the body is not valid JSON");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      return refuse(400, "the body must be a JSON object");
    if (duplicateJsonKeys(text) || ambiguousKeys(parsed))
      return refuse(400, "a field is sent twice, under one name or two spellings of it");
    fields = parsed as Record<string, unknown>;
    out = JSON.stringify(parsed);
  } else {
    const params = new URLSearchParams(text);
    const kept = new URLSearchParams();
    const folded = new Map<string, string>();
    fields = {};
    for (const [k, v] of params) {
      const f = foldName(k);
      const before = folded.get(f);
      // A UI may send one field twice with one value (a hidden input and a button):
      // that is one field. Two values, or two spellings of a name, are two readings.
      if (before !== undefined) {
        if (before === k && fields[k] === v) continue;
        return refuse(400, "a field is sent twice, under one name or two spellings of it");
      }
      folded.set(f, k);
      fields[k] = v;
      kept.append(k, v);
    }
    out = kept.toString();
  }
  const form = type !== "application/json";
  const id = identifierOf(flow, fields, form);
  if (!id.ok) return refuse(400, id.message);
  const intent = flow === "login" ? loginIntent(fields, form) : "credential";
  const payload = Buffer.from(out);
  return {
    ok: true,
    submission: { flow, intent, flowId: q.flowId, identifier: id.identifier, contentType: type, body: payload },
  };
}
