// A minimal HTTP server that turns a Kratos session into a user id, with the
// error handling every caller needs. Run from packages/kratos:
//   KRATOS_PUBLIC_URL=http://127.0.0.1:7433 KRATOS_ADMIN_URL=http://127.0.0.1:7434 node examples/whoami-server.ts
import { createServer } from "node:http";
import { createKratosClient, credentialFrom, credentialKey, isKratosError } from "@gatehouse/kratos";

const kratos = createKratosClient({
  publicUrl: process.env.KRATOS_PUBLIC_URL ?? "http://127.0.0.1:7433",
  adminUrl: process.env.KRATOS_ADMIN_URL ?? "http://127.0.0.1:7434",
  timeoutMs: 3000,
});

const server = createServer(async (req, res) => {
  const token = req.headers["x-session-token"];
  const cred = credentialFrom({
    cookieHeader: req.headers.cookie,
    sessionToken: typeof token === "string" ? token : undefined,
  });
  if (!cred) {
    res.writeHead(401).end("sign in\n");
    return;
  }
  try {
    const session = await kratos.whoami(cred);
    const cacheKey = await credentialKey(cred); // safe to use as a cache key / log field
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ cacheKey, user: session.identity.id, email: session.identity.traits.email, aal: session.aal }),
    );
  } catch (err) {
    if (!isKratosError(err)) {
      console.error(err);
      res.writeHead(500).end();
      return;
    }
    switch (err.code) {
      case "unauthenticated":
        res.writeHead(401).end("sign in\n");
        return;
      case "aal2_required":
        res.writeHead(403, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "aal2_required", redirect_browser_to: err.redirectBrowserTo }));
        return;
      case "unavailable":
      case "rate_limited":
        // Kratos is down or busy: not the user's fault, so do not clear their cookie.
        res.writeHead(503, { "retry-after": String(err.retryAfterSec ?? 5) }).end("try again\n");
        return;
      case "bad_request":
        console.error(err.message); // never contains cookies or tokens
        res.writeHead(500).end();
        return;
    }
  }
});
server.listen(8080, "127.0.0.1", () => console.log("http://127.0.0.1:8080"));
process.on("SIGTERM", () => server.close(() => void kratos.close()));
