// A small Express API behind @gatehouse/guard.
//
//   AUTH_SERVICE_URL=http://127.0.0.1:7410 KRATOS_BROWSER_URL=http://auth.localhost:7433 \
//   APP_HOST=127.0.0.1 node examples/express-app.ts
//
// then e.g. `curl -H "X-Session-Token: ory_st_…" http://127.0.0.1:3000/me`.

import { gatehouse } from "@gatehouse/guard/express";
import express from "express";

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;

const auth = gatehouse({
  authServiceUrl: env("AUTH_SERVICE_URL", "http://127.0.0.1:7410"),
  audience: "gatehouse",
  accept: ["session", "jwt"],
  login: {
    url: `${env("KRATOS_BROWSER_URL", "http://127.0.0.1:7433")}/self-service/login/browser`,
    allowedReturnHosts: [env("APP_HOST", "127.0.0.1")],
  },
  sessionCache: { maxTtlSec: 60 },
  onEvent: (event) => console.warn("[guard]", event),
});

const app = express();

// Public page: req.auth is set when the caller happens to be signed in.
app.get("/", auth.optionalAuth(), (req, res) => {
  res.json({ hello: req.auth?.email ?? "stranger" });
});

// Any signed-in caller (Kratos cookie, X-Session-Token or a Gatehouse JWT).
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
