// After the run: every write the clients sent, held against what Postgres holds. Each
// write's transaction writes one audit row with the request's X-Request-Id, so for each
// request we know whether it committed, whatever the client was told:
//   acknowledged (2xx) but not committed        → lost
//   committed twice, or two rows of one name    → duplicated
//   committed but answered 5xx (or another 4xx)  → mis-acknowledged
//   no answer (reset, timeout)                   → either is right; counted
// and each member's role in Postgres must be the last one acknowledged for them.
import pg from "pg";
import type { WriteRecord } from "./load.ts";

const ACTION: Record<WriteRecord["kind"], string> = {
  team: "team.created",
  "api-key": "api_key.created",
  role: "membership.role_changed",
};

export interface WriteCheck {
  sent: number;
  acknowledged: Record<WriteRecord["kind"], number>;
  lost: WriteRecord[];
  duplicated: WriteRecord[];
  /** Answered 5xx (or 4xx) although it committed. */
  misacknowledged: WriteRecord[];
  unanswered: { committed: number; notCommitted: number };
  /** Members whose role in Postgres is not the last acknowledged one. */
  wrongFinalRole: { orgId: string; identityId: string; expected: string; actual: string | undefined }[];
  /** Invalidations committed to the outbox and never delivered. */
  undelivered: number;
}

export async function verifyWrites(databaseUrl: string, runId: string, writes: WriteRecord[]): Promise<WriteCheck> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const audit = await db.query<{ request_id: string; action: string; n: string }>(
      "select request_id, action, count(*) as n from audit_log where request_id like $1 group by 1, 2",
      [`chaos-${runId}-%`],
    );
    const committed = new Map(audit.rows.map((r) => [`${r.request_id} ${r.action}`, Number(r.n)]));
    const names = await db.query<{ name: string; n: string }>(
      `select name, count(*) as n from teams where name like $1 and deleted_at is null group by 1
       union all select name, count(*) as n from api_keys where name like $2 group by 1`,
      [`team-${runId}-%`, `key-${runId}-%`],
    );
    const rowsByName = new Map(names.rows.map((r) => [r.name, Number(r.n)]));
    const roles = await db.query<{ organization_id: string; identity_id: string; role: string }>(
      "select organization_id, identity_id, role from memberships where deleted_at is null",
    );
    const roleOf = new Map(roles.rows.map((r) => [`${r.organization_id} ${r.identity_id}`, r.role]));
    const undelivered = await db.query<{ n: string }>("select count(*) as n from outbox where published_at is null");

    const out: WriteCheck = {
      sent: writes.length,
      acknowledged: { team: 0, "api-key": 0, role: 0 },
      lost: [],
      duplicated: [],
      misacknowledged: [],
      unanswered: { committed: 0, notCommitted: 0 },
      wrongFinalRole: [],
      undelivered: Number(undelivered.rows[0]?.n ?? 0),
    };
    // The last write per member that decides its role: acknowledged, or committed without an answer.
    const lastRole = new Map<string, WriteRecord>();
    for (const w of writes) {
      const n = committed.get(`${w.requestId} ${ACTION[w.kind]}`) ?? 0;
      const rows = w.kind === "role" ? n : (rowsByName.get(w.subject) ?? 0);
      if (w.status >= 200 && w.status < 300) {
        out.acknowledged[w.kind]++;
        if (n === 0 || rows === 0) out.lost.push(w);
        if (n > 1 || rows > 1) out.duplicated.push(w);
      } else if (w.status === 0) {
        if (n > 0) out.unanswered.committed++;
        else out.unanswered.notCommitted++;
      } else if (n > 0) {
        out.misacknowledged.push(w);
      }
      if (w.kind === "role" && n > 0) lastRole.set(`${w.orgId} ${w.subject}`, w);
    }
    for (const [key, w] of lastRole) {
      const actual = roleOf.get(key);
      if (actual !== w.role)
        out.wrongFinalRole.push({ orgId: w.orgId, identityId: w.subject, expected: String(w.role), actual });
    }
    return out;
  } finally {
    await db.end();
  }
}
