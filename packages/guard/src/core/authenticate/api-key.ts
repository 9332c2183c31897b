// Step 2, API-key path: the key ("sk_…", from `Authorization: Bearer sk_…` or
// `X-API-Key`) is exchanged like a session, sent to the auth-service's POST /v1/token
// as `Authorization: Bearer sk_…`; a 401 there means the key is not valid. Same
// cache, single-flight and outage handling as sessions: keys are hashed, never stored.
import {
  createExchangeAuthenticator,
  type ExchangeAuthenticator,
  type ExchangeAuthenticatorOptions,
} from "./session.ts";

export function createApiKeyAuthenticator(options: Omit<ExchangeAuthenticatorOptions, "via">): ExchangeAuthenticator {
  return createExchangeAuthenticator({ ...options, via: "api_key" });
}
