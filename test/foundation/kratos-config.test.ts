import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "../../tools/stack/config.ts";
import { stack } from "../support/kratos.ts";

const ref = (f: string) =>
  JSON.parse(readFileSync(resolve(REPO_ROOT, "kratos-config/reference/kratos-v1.3.1", f), "utf8")) as Record<
    string,
    unknown
  >;

function validator() {
  // Kratos' schemas use draft-07 plus Ory-specific keywords and formats; the
  // unknown ones are declared so that everything else is still checked strictly.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats.default(ajv);
  for (const f of ["duration", "uri-or-file"]) ajv.addFormat(f, true);
  ajv.addSchema(ref("tracing-config.schema.json"));
  ajv.addSchema(ref("identity_extension.schema.json"));
  return ajv;
}

const kratosYml = () =>
  parse(readFileSync(resolve(REPO_ROOT, "kratos-config/kratos.yml"), "utf8")) as Record<string, unknown>;
const identitySchema = () =>
  JSON.parse(readFileSync(resolve(REPO_ROOT, "kratos-config/identity.schema.json"), "utf8")) as Record<string, unknown>;

describe("kratos-config validates against Kratos v1.3.1's own schemas", () => {
  it("kratos.yml matches config.schema.json", () => {
    const validate = validator().compile(ref("config.schema.json"));
    const ok = validate(kratosYml());
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it("the validator is not vacuous: an unknown key and a wrong type are reported", () => {
    const validate = validator().compile(ref("config.schema.json"));
    const bad = kratosYml();
    (bad.session as Record<string, unknown>).lifespan_typo = "24h";
    (bad.serve as { public: { base_url: unknown } }).public.base_url = 42;
    expect(validate(bad)).toBe(false);
    const msgs = JSON.stringify(validate.errors);
    expect(msgs).toContain("lifespan_typo");
    expect(msgs).toContain("/serve/public/base_url");
  });

  it("identity.schema.json matches identity_meta.schema.json and declares the seed traits", () => {
    const ajv = validator();
    const validate = ajv.compile(ref("identity_meta.schema.json"));
    const schema = identitySchema();
    expect(validate(schema), JSON.stringify(validate.errors)).toBe(true);
    const traits = (schema.properties as { traits: { properties: Record<string, Record<string, unknown>> } }).traits;
    const email = traits.properties.email as Record<string, Record<string, unknown>>;
    expect(email["ory.sh/kratos"]).toMatchObject({
      credentials: { password: { identifier: true } },
      verification: { via: "email" },
      recovery: { via: "email" },
    });
    expect(Object.keys((traits.properties.name as { properties: object }).properties)).toEqual(["first", "last"]);
  });

  it("the running Kratos started on this config without warnings (other than dev mode)", () => {
    const log = readFileSync(resolve(stack().env.STACK_LOG_DIR ?? "", "kratos.log"), "utf8");
    const warnings = log
      .split("\n")
      .filter((l) => /"level":"(warning|error|fatal)"|level=(warning|error|fatal)/.test(l))
      .filter((l) => !/DEV MODE/.test(l))
      // Errors answering requests (other tests send bad ones on purpose) are not about the config.
      .filter((l) => !l.includes('"http_request"'));
    expect(warnings).toEqual([]);
  });
});
