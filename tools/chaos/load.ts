// The mixed load of a chaos run: `clients` concurrent clients, each acting for the
// people it is given, one request at a time with a pause between (so no one person
// exceeds a few requests a second, far under any per-caller limit: a 429 is never
// deserved). What they do: token exchanges at the auth-service; requests through the
// gateway with the browser cookie (API calls and page loads), the session token and
// the JWT; and, for owners, writes (teams, role changes, API keys), each with its own
// X-Request-Id so its acknowledgement can be checked against Postgres afterwards.
import { setTimeout as sleep } from "node:timers/promises";
import { type Answer, call, setCookies } from "./http.ts";
import type { ChaosUser, Org, OrgRole, Urls } from "./users.ts";

export const READ_KINDS = ["exchange", "gw-cookie", "gw-page", "gw-token", "gw-jwt"] as const;
export const WRITE_KINDS = ["team", "role", "api-key"] as const;
export type Kind = (typeof READ_KINDS)[number] | (typeof WRITE_KINDS)[number] | "members";
type WriteKind = (typeof WRITE_KINDS)[number];

/**
 * ok: 2xx. signout: a valid session told it is not one (401, a redirect to the login
 * page, its cookie cleared). throttled: 429. unavailable: 502/503/504, which a client
 * retries. wrong: any other answer (a 500, a 403 to an owner, …). none: no answer at all.
 */
export type Outcome = "ok" | "signout" | "throttled" | "unavailable" | "wrong" | "none";

export interface Sample {
  phase: string;
  kind: Kind;
  user: number;
  status: number | string;
  error?: unknown;
  at: string;
}

export interface WriteRecord {
  requestId: string;
  kind: WriteKind;
  phase: string;
  orgId: string;
  /** The team's or key's name; for a role change, the member's identity. */
  subject: string;
  /** For a role change: the role asked for. */
  role?: OrgRole;
  status: number;
  error?: string;
  /** The id the acknowledgement names (team or key). */
  entityId?: string;
  sentAt: number;
}

export class PhaseStats {
  readonly startedAt = Date.now();
  endedAt = 0;
  /** kind → status ("200", "ERR ECONNREFUSED") → count */
  readonly statuses = new Map<Kind, Map<string, number>>();
  readonly outcomes: Record<Outcome, number> = { ok: 0, signout: 0, throttled: 0, unavailable: 0, wrong: 0, none: 0 };
  /** When the last request that was not ok ended (0: none yet). */
  lastBadAt = 0;
  /** kind → when its last ok answer arrived */
  readonly lastOkAt = new Map<Kind, number>();
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }

  count(kind: Kind, a: Answer, outcome: Outcome): void {
    const key = a.status === 0 ? `ERR ${a.error}` : String(a.status);
    const byStatus = this.statuses.get(kind) ?? new Map<string, number>();
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    this.statuses.set(kind, byStatus);
    this.outcomes[outcome]++;
    if (outcome === "ok") this.lastOkAt.set(kind, Date.now());
    else this.lastBadAt = Math.max(this.lastBadAt, Date.now());
  }

  /** Every status of every kind, summed. */
  histogram(): Map<string, number> {
    const out = new Map<string, number>();
    for (const byStatus of this.statuses.values()) for (const [s, n] of byStatus) out.set(s, (out.get(s) ?? 0) + n);
    return out;
  }

  get requests(): number {
    return Object.values(this.outcomes).reduce((a, b) => a + b, 0);
  }
}

const KEEP_SAMPLES = 20;

export interface LoadOptions {
  clients: number;
  /** Pause between two requests of one client, ms (uniform in [min, max]). */
  thinkMs: [number, number];
  /** Of an owner's turns, the share that writes. */
  writeShare: number;
  /** Prefix of request ids and names: tells this run's rows apart. */
  runId: string;
}

/** What each organization's owner knows of its members' roles (undefined: unknown, read before changing). */
interface OrgState {
  org: Org;
  roles: Map<string, OrgRole | undefined>;
}

export class Load {
  readonly phases: PhaseStats[] = [];
  readonly writes: WriteRecord[] = [];
  readonly samples: Record<"signout" | "throttled" | "wrong", Sample[]> = { signout: [], throttled: [], wrong: [] };
  #phase = new PhaseStats("setup");
  #stopping = false;
  #workers: Promise<void>[] = [];
  #seq = 0;
  readonly #orgs = new Map<string, OrgState>();
  /** "person minute" → requests: how close anyone came to a per-caller limit. */
  readonly #perMinute = new Map<string, number>();
  readonly #people: ChaosUser[];

  readonly urls: Urls;
  readonly o: LoadOptions;

  constructor(urls: Urls, orgs: Org[], o: LoadOptions) {
    this.urls = urls;
    this.o = o;
    this.#people = orgs.flatMap((org) => [org.owner, ...org.members]);
    for (const org of orgs)
      this.#orgs.set(org.id, { org, roles: new Map(org.members.map((m) => [m.identityId, m.role])) });
  }

  get phase(): PhaseStats {
    return this.#phase;
  }

  /** Counts from now on under `name`. */
  begin(name: string): PhaseStats {
    this.#phase.endedAt = Date.now();
    this.#phase = new PhaseStats(name);
    this.phases.push(this.#phase);
    return this.#phase;
  }

  start(): void {
    for (let w = 0; w < this.o.clients; w++) {
      const mine = this.#people.filter((p) => p.index % this.o.clients === w);
      if (mine.length > 0) this.#workers.push(this.#client(mine));
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#workers);
    this.#phase.endedAt = Date.now();
  }

  async #client(people: ChaosUser[]): Promise<void> {
    // Clients start spread over one pause, not all at once.
    await sleep(Math.random() * this.o.thinkMs[1]);
    for (let i = 0; !this.#stopping; i++) {
      const who = people[i % people.length] as ChaosUser;
      if (who.role === "owner" && Math.random() < this.o.writeShare) await this.#write(who);
      else await this.#read(who);
      const [lo, hi] = this.o.thinkMs;
      await sleep(lo + Math.random() * (hi - lo));
    }
  }

  /** One exchange or gateway request, picked by weight. */
  async #read(u: ChaosUser): Promise<void> {
    const r = Math.random();
    const jwtFresh = u.jwt !== undefined && u.jwt.exp - Date.now() > 15_000;
    if (r < 0.25 || (r >= 0.75 && !jwtFresh)) return this.exchange(u);
    const client = { "x-forwarded-for": u.address };
    const cookie = { cookie: `ory_kratos_session=${u.cookie}` };
    if (r < 0.5) {
      const a = await call(`${this.urls.gateway}/v1/me`, {
        headers: { ...client, ...cookie, accept: "application/json" },
      });
      this.#count("gw-cookie", u, a);
      return;
    }
    if (r < 0.6) {
      // A page load, as a browser sends it: where a lost session would become a login redirect.
      const a = await call(`${this.urls.gateway}/v1/me`, {
        headers: {
          ...client,
          ...cookie,
          accept: "text/html,application/xhtml+xml",
          "sec-fetch-mode": "navigate",
          "sec-fetch-site": "none",
          "sec-fetch-dest": "document",
        },
      });
      this.#count("gw-page", u, a);
      return;
    }
    if (r < 0.75) {
      const a = await call(`${this.urls.gateway}/v1/me`, {
        headers: { ...client, "x-session-token": u.sessionToken, accept: "application/json" },
      });
      this.#count("gw-token", u, a);
      return;
    }
    const a = await call(`${this.urls.gateway}/v1/projects`, {
      headers: { ...client, authorization: `Bearer ${u.jwt?.value}`, accept: "application/json" },
    });
    this.#count("gw-jwt", u, a);
  }

  /** POST /v1/token with the session token; keeps the access token for the JWT requests. */
  async exchange(u: ChaosUser): Promise<void> {
    const a = await call(`${this.urls.auth}/v1/token`, {
      headers: { "x-forwarded-for": u.address, "x-session-token": u.sessionToken },
      json: {},
    });
    if (this.#count("exchange", u, a) === "ok") {
      const token = String(a.body.access_token ?? "");
      const exp = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString() || "{}").exp as number;
      u.jwt = { value: token, exp: exp * 1000 };
    }
  }

  async #write(owner: ChaosUser): Promise<void> {
    const st = this.#orgs.get(owner.orgId);
    if (!st) return;
    const n = ++this.#seq;
    const r = Math.random();
    if (r < 0.4)
      return void (await this.#writeOne(owner, n, "team", "POST", "teams", { name: `team-${this.o.runId}-${n}` }));
    if (r < 0.6) {
      const key = { name: `key-${this.o.runId}-${n}`, scopes: ["teams:read"] };
      return void (await this.#writeOne(owner, n, "api-key", "POST", "api-keys", key));
    }
    const member = st.org.members[Math.floor(Math.random() * st.org.members.length)] as ChaosUser;
    if (st.roles.get(member.identityId) === undefined && !(await this.#readRoles(owner, st))) return;
    const role: OrgRole = st.roles.get(member.identityId) === "admin" ? "member" : "admin";
    // Unknown until acknowledged: a change without an answer may or may not have happened.
    st.roles.set(member.identityId, undefined);
    const w = await this.#writeOne(owner, n, "role", "PATCH", `members/${member.identityId}`, { role });
    if (w.status === 200) st.roles.set(member.identityId, role);
  }

  /** The owner reads the members' roles (after a role change that got no acknowledgement). */
  async #readRoles(owner: ChaosUser, st: OrgState): Promise<boolean> {
    const a = await call(`${this.urls.auth}/v1/organizations/${st.org.id}/members`, {
      headers: { "x-forwarded-for": owner.address, "x-session-token": owner.sessionToken },
    });
    if (this.#count("members", owner, a) !== "ok") return false;
    for (const m of (a.body.members ?? []) as { identityId: string; role: OrgRole }[])
      if (st.roles.has(m.identityId)) st.roles.set(m.identityId, m.role);
    return true;
  }

  async #writeOne(
    owner: ChaosUser,
    n: number,
    kind: WriteKind,
    method: string,
    path: string,
    json: Record<string, unknown>,
  ): Promise<WriteRecord> {
    const requestId = `chaos-${this.o.runId}-${n}`;
    const sentAt = Date.now();
    const a = await call(`${this.urls.auth}/v1/organizations/${owner.orgId}/${path}`, {
      method,
      headers: { "x-forwarded-for": owner.address, "x-session-token": owner.sessionToken, "x-request-id": requestId },
      json,
    });
    this.#count(kind, owner, a);
    const entity = (a.body.team ?? a.body.api_key) as { id?: string } | undefined;
    const w: WriteRecord = {
      requestId,
      kind,
      phase: this.#phase.name,
      orgId: owner.orgId,
      subject: kind === "role" ? path.slice("members/".length) : String(json.name),
      status: a.status,
      sentAt,
      ...(kind === "role" ? { role: json.role as OrgRole } : {}),
      ...(a.error ? { error: a.error } : {}),
      ...(entity?.id ? { entityId: entity.id } : {}),
    };
    this.writes.push(w);
    return w;
  }

  /** The most requests one person sent within one minute (of the clock) in the run. */
  busiestMinute(): number {
    return Math.max(0, ...this.#perMinute.values());
  }

  #count(kind: Kind, u: ChaosUser, a: Answer): Outcome {
    const outcome = classify(a);
    const minute = `${u.index} ${Math.floor(a.startedAt / 60_000)}`;
    this.#perMinute.set(minute, (this.#perMinute.get(minute) ?? 0) + 1);
    this.#phase.count(kind, a, outcome);
    if (outcome === "signout" || outcome === "throttled" || outcome === "wrong") {
      const keep = this.samples[outcome];
      if (keep.length < KEEP_SAMPLES)
        keep.push({
          phase: this.#phase.name,
          kind,
          user: u.index,
          status: a.status,
          error: a.body.error ?? a.headers.location ?? a.body.text,
          at: new Date(a.startedAt).toISOString(),
        });
    }
    return outcome;
  }
}

/** What an answer means for a client whose session is valid (every session of a chaos run is). */
export function classify(a: Answer): Outcome {
  if (a.status === 0) return "none";
  const location = typeof a.headers.location === "string" ? a.headers.location : "";
  if (
    a.status === 401 ||
    (a.status >= 300 && a.status < 400 && /\/auth\/login|\/self-service\/login/.test(location)) ||
    setCookies(a).some((c) => c.startsWith("ory_kratos_session="))
  )
    return "signout";
  if (a.status === 429) return "throttled";
  if (a.status === 502 || a.status === 503 || a.status === 504) return "unavailable";
  if (a.status >= 200 && a.status < 300) return "ok";
  return "wrong";
}
