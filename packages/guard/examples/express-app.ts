// A small Express API behind @gatehouse/guard. With the local stack up (`./gatehouse up`),
// from packages/guard:
//
//   node examples/express-app.ts
//
// then e.g. `curl -H "X-Session-Token: ory_st_…" http://localhost:3000/me`, or open
// http://localhost:3000/me in the browser you signed in with (the session cookie of
// localhost is sent to every port). The defaults are the local stack's URLs; set
// AUTH_SERVICE_URL, KRATOS_BROWSER_URL and APP_HOST for another one.

import { gatehouse } from "@gatehouse/guard/express";
import express from "express";

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;

const auth = gatehouse({
  authServiceUrl: env("AUTH_SERVICE_URL", "http://127.0.0.1:7410"),
  audience: "gatehouse",
  accept: ["session", "jwt"],
  login: {
    // Kratos' login flow as browsers reach it: through the gateway.
    url: `${env("KRATOS_BROWSER_URL", "http://localhost:7400")}/self-service/login/browser`,
    // Where the login may send the browser back to: this app (README "return_to").
    allowedReturnHosts: [env("APP_HOST", "localhost")],
  },
  sessionCache: { maxTtlSec: 60 },
  onEvent: (event) => console.warn("[guard]", event),
});

const app = express();

// Public page: req.auth is set when the caller happens to be signed in.
app.get("/", auth.optionalAuth(), (req, res) => {
  res.json({ hello: req.auth?.email ?? "stranger" });
});

// Any signed-in caller (Kratos cookie, X-Session-Token or a Gatehouse JWT). Chosen
// fields only: req.auth.token is the caller's JWT, for upstream calls, not for the browser.
app.get("/me", auth.requireAuth(), (req, res) => {
  res.json({ subject: req.auth?.subject, email: req.auth?.email, org: req.auth?.organizationId, role: req.auth?.role });
});

// Organization admins only (list every role that may pass: no implied hierarchy).
app.get("/admin", auth.requireRoles("owner", "admin"), (req, res) => {
  res.json({ admin: req.auth?.subject });
});

// A permission, and a second factor on top.
app.delete("/org", auth.middleware({ permissions: ["org:delete"], aal: "aal2" }), (_req, res) => {
  res.status(204).end();
});

const server = app.listen(Number(env("PORT", "3000")), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  console.log(`listening on http://127.0.0.1:${port}`);
});

process.on("SIGTERM", () => {
  server.close(() => void auth.close());
});
