"""The auth-service exchange (POST /v1/token): a Kratos session or an API key in, a
Gatehouse JWT out. Every answer is sorted into "the credential is bad" (401), "not
allowed" (403) and "we could not find out" (429/503); a 5xx, a timeout or a refused
connection never reads as signed out."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import httpx

from ._config import Config
from ._credentials import Credential
from ._errors import GatehouseError

# The auth-service contract this client follows: apps/auth-service/openapi.json (info.version),
# POST /v1/token's TokenResponse and the {error, message, request_id} body. A test on the
# TypeScript side (contract.unit.test.ts) fails when the document's major version moves on.
CONTRACT_VERSION = "1.0.0"

MAX_ANSWER_BYTES = 64 * 1024
# A cached token is dropped this long before it expires, so what is forwarded still has life left.
FORWARD_MARGIN = 30


def cache_key(c: Credential) -> str:
    """A key that does not reveal the credential."""
    return hashlib.sha256(f"{c.cache_kind}:{c.value}".encode()).hexdigest()


def request_headers(c: Credential, config: Config, client_address: str | None) -> dict[str, str]:
    h = {"accept": "application/json", "content-type": "application/json"}
    if c.kind == "api_key":
        h["authorization"] = f"Bearer {c.value}"
    elif c.cookie:  # only the Kratos cookie is forwarded, never the browser's others
        h["cookie"] = f"{config.cookie_name}={c.value}"
    else:
        h["x-session-token"] = c.value
    if client_address:  # the auth-service's rate limits count the end client, not this service
        h["x-forwarded-for"] = client_address
    return h


def unavailable(config: Config, message: str, retry_after: int | None = None) -> GatehouseError:
    return GatehouseError("dependency_unavailable", message, retry_after or config.retry_after)


def read_answer(c: Credential, config: Config, res: httpx.Response) -> str:
    """The access token, or the GatehouseError this answer means."""
    body: Any = None
    if len(res.content) <= MAX_ANSWER_BYTES:
        try:
            body = res.json()
        except ValueError:
            body = None  # a proxy's HTML error page: the status says enough
    body = body if isinstance(body, dict) else {}
    retry = res.headers.get("retry-after", "")
    retry_after = int(retry) if retry.isdigit() else None
    status, code = res.status_code, body.get("error")
    if status == 200:
        token = body.get("access_token")
        if isinstance(token, str) and token:
            return token
        raise unavailable(config, "the auth-service answered 200 without a token")
    if status == 401:
        if c.kind == "api_key":
            raise GatehouseError("invalid_api_key", "the API key is not valid")
        raise GatehouseError("unauthenticated", "the session is not valid (or no longer)")
    if status == 403 and code == "aal2_required":
        raise GatehouseError("aal2_required", "this session needs a second factor")
    if status == 403 and code == "forbidden":
        raise GatehouseError("forbidden", "not a member of the requested organization")
    if status == 403 and code == "user_deactivated":
        # Another service deactivated the person: a verdict, not an outage.
        raise GatehouseError("forbidden", "this account is deactivated")
    if status == 429:
        raise GatehouseError("rate_limited", "the auth-service is rate limiting; retry later", retry_after or config.retry_after)
    # 5xx, and 3xx/400/404 (a misconfiguration between this service and the auth-service): an outage.
    raise unavailable(config, f"the auth-service answered {status}", retry_after)


class TokenCache:
    """Exchanged principals by credential hash, each until its own deadline; LRU-bounded."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.entries: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None or self.config.now() >= hit[1]:
                return None
            self.entries.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: Any, expires_at: float) -> None:
        if self.config.session_cache_ttl <= 0:
            return
        until = min(expires_at - FORWARD_MARGIN, self.config.now() + self.config.session_cache_ttl)
        with self.lock:
            self.entries[key] = (value, until)
            self.entries.move_to_end(key)
            while len(self.entries) > self.config.session_cache_size:
                self.entries.popitem(last=False)
