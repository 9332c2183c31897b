// What the chaos command counts as what, and when it fails: checked on answers and
// reports made up here, so a verdict cannot pass by counting nothing.
import { describe, expect, it } from "vitest";
import type { Answer } from "../http.ts";
import { classify } from "../load.ts";
import { type ChaosReport, failures, HITS, type PhaseReport } from "../run.ts";

const answer = (status: number, headers: Answer["headers"] = {}, error?: string): Answer => ({
  status,
  headers,
  body: {},
  startedAt: 0,
  ms: 1,
  ...(error ? { error } : {}),
});

describe("classify: an answer to a valid session", () => {
  it("401, a redirect to the login page and a cleared session cookie are sign-outs", () => {
    expect(classify(answer(401))).toBe("signout");
    expect(classify(answer(303, { location: "http://localhost:1/auth/login?return_to=x" }))).toBe("signout");
    expect(classify(answer(200, { "set-cookie": ["ory_kratos_session=; Max-Age=0"] }))).toBe("signout");
  });
  it("429 is throttled; 502–504 unavailable; no answer is none; 500 and 403 are wrong; 2xx ok", () => {
    expect(classify(answer(429))).toBe("throttled");
    for (const s of [502, 503, 504]) expect(classify(answer(s))).toBe("unavailable");
    expect(classify(answer(0, {}, "ECONNREFUSED"))).toBe("none");
    expect(classify(answer(500))).toBe("wrong");
    expect(classify(answer(403))).toBe("wrong");
    expect(classify(answer(201))).toBe("ok");
  });
});

function phase(name: string, outcomes: Partial<PhaseReport["outcomes"]> = {}, hit?: PhaseReport["hit"]): PhaseReport {
  return {
    name,
    seconds: 1,
    requests: 1,
    histogram: {},
    byKind: {},
    outcomes: { ok: 1, signout: 0, throttled: 0, unavailable: 0, wrong: 0, none: 0, ...outcomes },
    ...(hit ? { hit } : {}),
  };
}

function passing(): ChaosReport {
  return {
    form: "short",
    startedAt: "",
    seconds: 1,
    ports: "",
    logDir: "",
    people: 5,
    organizations: 1,
    clients: 1,
    phases: [
      phase("baseline"),
      ...HITS.map((h) =>
        phase(`${h.signal} ${h.service}`, { none: 3 }, { ...h, recovered: true, backAfterSec: 1, exit: "exit code 0" }),
      ),
      phase("soak"),
    ],
    crashes: [],
    samples: { signout: [], throttled: [], wrong: [] },
    busiestPersonPerMinute: 10,
    writes: {
      sent: 3,
      acknowledged: { team: 1, "api-key": 1, role: 1 },
      lost: [],
      duplicated: [],
      misacknowledged: [],
      unanswered: { committed: 0, notCommitted: 0 },
      wrongFinalRole: [],
      undelivered: 0,
    },
    rss: [],
    failures: [],
  };
}

describe("failures: what fails a run", () => {
  it("a clean run passes (failed requests during a hit are expected)", () => {
    expect(failures(passing())).toEqual([]);
  });

  it("each of the issue's conditions fails it", () => {
    const cases: [string, (r: ChaosReport) => void, RegExp][] = [
      [
        "crash",
        (r) => r.crashes.push({ phase: "kill -9 redis", service: "auth", reason: "exit code 1" }),
        /auth exited/,
      ],
      ["sign-out", (r) => (r.phases[1] as PhaseReport).outcomes.signout++, /signed a valid session out/],
      ["429", (r) => (r.phases[0] as PhaseReport).outcomes.throttled++, /429/],
      ["500", (r) => (r.phases[2] as PhaseReport).outcomes.wrong++, /wrong answers/],
      ["error while calm", (r) => (r.phases.at(-1) as PhaseReport).outcomes.unavailable++, /nothing was broken/],
      [
        "no recovery",
        (r) => (((r.phases[3] as PhaseReport).hit as { recovered: boolean }).recovered = false),
        /no recovery/,
      ],
      ["lost write", (r) => r.writes?.lost.push({} as never), /not in Postgres/],
      ["duplicate", (r) => r.writes?.duplicated.push({} as never), /twice/],
      ["5xx for a commit", (r) => r.writes?.misacknowledged.push({} as never), /answered with an error/],
      ["unchecked", (r) => delete r.writes, /not checked/],
    ];
    for (const [what, spoil, expected] of cases) {
      const r = passing();
      spoil(r);
      expect(failures(r).join("\n"), what).toMatch(expected);
    }
  });

  it("a SIGTERM that did not end in a clean exit fails it", () => {
    const r = passing();
    const term = r.phases.find((p) => p.hit?.signal === "SIGTERM")?.hit as { exit?: string };
    term.exit = "killed by SIGKILL";
    expect(failures(r).join("\n")).toMatch(/did not drain/);
  });
});
