// Writes one JSON Schema per event type into ../events/ from the catalogue
// (src/events.ts): `node packages/contracts/scripts/event-schemas.ts && pnpm biome
// format --write packages/contracts/events`. The unit test fails when the checked-in
// files and the catalogue disagree.
import { writeFileSync } from "node:fs";
import { EVENT_TYPES, eventSchema, eventSchemaFile } from "../src/events.ts";

const renderSchema = (schema: Record<string, unknown>) => `${JSON.stringify(schema, null, 2)}\n`;

if (import.meta.main) {
  const dir = new URL("../events/", import.meta.url);
  for (const type of EVENT_TYPES) writeFileSync(new URL(eventSchemaFile(type), dir), renderSchema(eventSchema(type)));
  console.log(`wrote ${EVENT_TYPES.length} schemas`);
}
