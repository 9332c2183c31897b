// What bench/gateway.ts and bench/gateway-ab.ts send, and the one route their
// gateways serve, so an A/B measures exactly the requests of the full bench.
import type { Req } from "./loadgen.ts";

/** The routes file: one guarded route to the bench upstream (forwarding as the local routes file does). */
export const ROUTES_YAML = (upstream: string) => `# bench: one guarded route to the bench upstream
routes:
  - name: bench-api
    match: { path: /api/** }
    upstream: ${upstream}
    auth: { accept: [session, jwt] }
    forward: { jwt: true, identity_headers: true, kratos_cookie: false }
`;

/** GET /api/items with a Kratos session token (proxied by the gateway, the raw proxy, the Express proxies). */
export const apiReq = (origin: string, token: string): Req => ({
  origin,
  path: "/api/items",
  method: "GET",
  headers: { "x-session-token": token, accept: "application/json" },
});

/** Forward-auth as nginx auth_request asks it, with a Kratos session token. */
export const decisionsReq = (origin: string, token: string): Req => ({
  origin,
  path: "/decisions",
  method: "GET",
  headers: {
    "x-original-uri": "/api/items?page=2",
    "x-original-method": "GET",
    "x-forwarded-host": "app.example.com",
    "x-session-token": token,
    accept: "application/json",
  },
});

/** GET /hello with a Gatehouse JWT (the Express JWT guard and its hello-world). */
export const helloReq = (origin: string, jwt: string): Req => ({
  origin,
  path: "/hello",
  method: "GET",
  headers: { authorization: `Bearer ${jwt}`, accept: "application/json" },
});
