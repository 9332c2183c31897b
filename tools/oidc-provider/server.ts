// A real OpenID Provider for development and tests (panva's oidc-provider, an
// OpenID-certified implementation), so Kratos' social sign-in runs the whole
// Authorization Code + PKCE dance against something that checks it: its own users
// (users.ts), its own sign-in and consent pages, one client (Kratos). Never deployed:
// only tools/stack starts it.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import Provider, { type Configuration, type KoaContextWithOIDC } from "oidc-provider";
import { findUser, IDP_USERS } from "./users.ts";

interface IdpConfig {
  port: number;
  host: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  cookieKey: string;
}

function fail(message: string): never {
  console.error(`oidc-provider: ${message}`);
  process.exit(2);
}

function loadConfig(env: NodeJS.ProcessEnv): IdpConfig {
  const need = (k: string) => env[k] || fail(`${k} is required`);
  const port = Number(env.OIDC_PORT ?? "7444");
  if (!Number.isInteger(port) || port < 1024 || port > 65_535) fail(`OIDC_PORT must be a port, got "${env.OIDC_PORT}"`);
  const issuer = need("OIDC_ISSUER");
  if (!URL.canParse(issuer)) fail(`OIDC_ISSUER must be a URL, got "${issuer}"`);
  const redirectUris = need("OIDC_REDIRECT_URIS").split(",");
  for (const u of redirectUris) if (!URL.canParse(u)) fail(`OIDC_REDIRECT_URIS: "${u}" is not a URL`);
  return {
    port,
    host: env.OIDC_HOST ?? "127.0.0.1",
    issuer,
    clientId: need("OIDC_CLIENT_ID"),
    clientSecret: need("OIDC_CLIENT_SECRET"),
    redirectUris,
    cookieKey: env.OIDC_COOKIE_KEY ?? "gatehouse-local-idp-cookie-key-0000000001",
  };
}

const cfg = loadConfig(process.env);

const configuration: Configuration = {
  clients: [
    {
      client_id: cfg.clientId,
      client_secret: cfg.clientSecret,
      redirect_uris: cfg.redirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  // PKCE for every client, confidential ones too: a Kratos that stopped sending a
  // code_challenge would fail here instead of passing unnoticed.
  pkce: { required: () => true },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["given_name", "family_name", "name"],
  },
  // Kratos' generic provider reads the ID token's claims, not userinfo: put the scopes'
  // claims (email, email_verified, names) in the ID token, as Google's and most IdPs do.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  cookies: { keys: [cfg.cookieKey] },
  interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const user = IDP_USERS.find((u) => u.sub === sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: user.email,
          email_verified: user.emailVerified,
          given_name: user.givenName,
          family_name: user.familyName,
          name: `${user.givenName} ${user.familyName}`,
        };
      },
    };
  },
  // Short-lived, in memory: each start is a fresh IdP.
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
};

const provider = new Provider(cfg.issuer, configuration);
const oidcCallback = provider.callback();

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;margin:.4rem 0}input,button{padding:.5rem}
.err{color:#b00020}</style></head><body><p><strong>Local IdP</strong> (development only)</p>
<h1>${esc(title)}</h1>${body}</body></html>`);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let raw = "";
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 8192) throw new Error("form too large");
  }
  return new URLSearchParams(raw);
}

function loginForm(uid: string, error?: string, email = ""): string {
  return `${error ? `<p class="err" role="alert">${esc(error)}</p>` : ""}
<form method="post" action="/interaction/${uid}/login">
<label for="email">Email</label><input id="email" name="email" type="email" value="${esc(email)}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`;
}

/** The interaction pages: sign-in, consent, abort. */
async function interaction(req: IncomingMessage, res: ServerResponse, uid: string, action: string): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return page(res, 400, "Expired", "<p>This sign-in has expired; start again.</p>");
  const { prompt, params } = details;
  if (req.method === "GET" && action === "") {
    if (prompt.name === "login") return page(res, 200, "Sign in to the local IdP", loginForm(uid));
    return page(
      res,
      200,
      "Allow access?",
      `<p><strong>${esc(String(params.client_id))}</strong> asks for your ${esc(String(params.scope))}.</p>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Deny</button></form>`,
    );
  }
  if (req.method !== "POST") return page(res, 405, "Not allowed", "");
  if (action === "login") {
    const form = await readForm(req);
    const user = findUser(form.get("email") ?? "");
    if (!user || user.password !== form.get("password"))
      return page(
        res,
        200,
        "Sign in to the local IdP",
        loginForm(uid, "Wrong email or password.", form.get("email") ?? ""),
      );
    return provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.sub } },
      { mergeWithLastSubmission: false },
    );
  }
  if (action === "confirm") {
    const accountId = details.session?.accountId;
    if (!accountId) return page(res, 400, "Expired", "<p>Sign in again.</p>");
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ??
        new provider.Grant({ accountId, clientId: String(params.client_id) }))
      : new provider.Grant({ accountId, clientId: String(params.client_id) });
    const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (action === "abort") {
    return provider.interactionFinished(
      req,
      res,
      { error: "access_denied", error_description: "The person declined at the IdP" },
      { mergeWithLastSubmission: false },
    );
  }
  return page(res, 404, "Not found", "");
}

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(login|confirm|abort))?$/;

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (path === "/health") {
    res.writeHead(200, { "content-type": "application/json" });
    return void res.end('{"status":"ok"}');
  }
  const m = INTERACTION.exec(path);
  if (!m) return void oidcCallback(req, res);
  interaction(req, res, m[1] ?? "", m[2] ?? "").catch((e: Error) => {
    // An unknown or expired interaction cookie is the person's problem, not a crash.
    if (!res.headersSent) page(res, 400, "Sign-in expired", `<p>${esc(e.name)}: start again from the app.</p>`);
    else res.destroy();
  });
});

server.listen(cfg.port, cfg.host, () => {
  console.log(`oidc-provider: issuer ${cfg.issuer} on ${cfg.host}:${cfg.port}, client ${cfg.clientId}`);
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
