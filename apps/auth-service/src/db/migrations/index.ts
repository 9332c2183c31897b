// Every migration, by name. Names sort in the order they must run (Kysely's Migrator
// refuses to run them out of order); add new files here as 0002_..., 0003_....
import type { Migration } from "kysely/migration";
import * as m0001 from "./0001_initial.ts";
import * as m0002 from "./0002_invitations.ts";
import * as m0003 from "./0003_outbox.ts";
import * as m0004 from "./0004_events.ts";
import * as m0005 from "./0005_inbound.ts";
import * as m0006 from "./0006_event_stream.ts";
import * as m0007 from "./0007_webhook_secret_kid.ts";
import * as m0008 from "./0008_require_mfa.ts";

export const migrations: Readonly<Record<string, Migration>> = {
  "0001_initial": m0001,
  "0002_invitations": m0002,
  "0003_outbox": m0003,
  "0004_events": m0004,
  "0005_inbound": m0005,
  "0006_event_stream": m0006,
  "0007_webhook_secret_kid": m0007,
  "0008_require_mfa": m0008,
};
