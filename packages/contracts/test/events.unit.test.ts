// The event catalogue's JSON Schemas: the checked-in files are what the catalogue
// generates, the documented example validates, and a wrong event does not.
import { readdirSync, readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { EVENT_TYPES, type EventType, EXAMPLE_EVENT, eventSchema, eventSchemaFile } from "../src/index.ts";

const dir = new URL("../events/", import.meta.url);
const ajv = new Ajv2020({ strict: true });
addFormats.default(ajv);
const validator = (type: EventType) => {
  const schema = eventSchema(type);
  return ajv.getSchema(schema.$id as string) ?? ajv.compile(schema);
};

describe("event schemas", () => {
  it("the files in events/ are exactly what the catalogue generates", () => {
    expect(readdirSync(dir).sort()).toEqual(EVENT_TYPES.map(eventSchemaFile).sort());
    for (const type of EVENT_TYPES) {
      const file = JSON.parse(readFileSync(new URL(eventSchemaFile(type), dir), "utf8"));
      expect(file, type).toEqual(eventSchema(type));
    }
  });

  it("the documented example validates against its type's schema", () => {
    const validate = validator(EXAMPLE_EVENT.type);
    expect(validate(EXAMPLE_EVENT), JSON.stringify(validate.errors)).toBe(true);
  });

  it("an event of another type, without an organization or with a stray field is refused", () => {
    const validate = validator("membership.role_changed");
    expect(validate({ ...EXAMPLE_EVENT, type: "membership.added" })).toBe(false);
    expect(validate({ ...EXAMPLE_EVENT, organization_id: null })).toBe(false);
    expect(validate({ ...EXAMPLE_EVENT, cookie: "x" })).toBe(false);
    expect(validate({ ...EXAMPLE_EVENT, subject: { type: "team", id: "x" } })).toBe(false);
  });
});
