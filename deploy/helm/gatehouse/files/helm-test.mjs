// `helm test <release>`: run in a pod of the release's namespace (templates/tests.yaml)
// with the auth-service's image, against the release's Services. Each check prints one
// line; any failure exits 1. It sends no real credential and prints no response body.
//   AUTH_ADMIN_URL   the auth-service's admin port: readiness
//   AUTH_PUBLIC_URL  its public port: JWKS, token exchange
//   GATEWAY_URL      the gateway (optional): readiness
const env = (name, optional = false) => {
  const v = process.env[name];
  if (!v && !optional) throw new Error(`${name} is not set`);
  return v;
};

async function call(url, init = {}) {
  const r = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, json };
}

const checks = [
  [
    "auth-service ready (Postgres and Kratos answer)",
    async () => {
      const r = await call(`${env("AUTH_ADMIN_URL")}/health/ready`);
      if (r.status !== 200) return `GET /health/ready answered ${r.status} ${JSON.stringify(r.json ?? {})}`;
    },
  ],
  [
    "JWKS published with at least one signing key",
    async () => {
      const r = await call(`${env("AUTH_PUBLIC_URL")}/.well-known/jwks.json`);
      if (r.status !== 200) return `GET /.well-known/jwks.json answered ${r.status}`;
      const keys = Array.isArray(r.json?.keys) ? r.json.keys : [];
      if (keys.length === 0) return "the JWKS has no keys";
      const bad = keys.filter((k) => !k.kid || !k.kty || k.d !== undefined);
      if (bad.length) return `${bad.length} key(s) without kid/kty, or with a private part`;
    },
  ],
  [
    "token exchange refuses a bogus session",
    async () => {
      const r = await call(`${env("AUTH_PUBLIC_URL")}/v1/token`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-session-token": "ory_st_helm-test-not-a-session" },
        body: "{}",
      });
      if (r.status !== 401) return `POST /v1/token with a bogus session answered ${r.status}, not 401`;
      const e = r.json ?? {};
      if (!e.error || !e.message || !e.request_id) return "the 401 is not {error, message, request_id}";
    },
  ],
  [
    "gateway ready",
    async () => {
      const base = env("GATEWAY_URL", true);
      if (!base) return undefined;
      const r = await call(`${base}/health/ready`);
      if (r.status !== 200) return `GET /health/ready answered ${r.status}`;
    },
  ],
];

let failed = 0;
for (const [name, check] of checks) {
  let problem;
  try {
    problem = await check();
  } catch (e) {
    problem = e instanceof Error ? e.message : String(e);
  }
  console.log(`${problem ? "FAIL" : "ok  "} ${name}${problem ? `: ${problem}` : ""}`);
  if (problem) failed++;
}
process.exitCode = failed ? 1 : 0;
