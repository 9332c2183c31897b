"""The guard: credential -> principal (verify a JWT locally, or exchange a session or API
key at the auth-service) -> rule. AsyncGuard serves FastAPI/Starlette (httpx.AsyncClient);
Guard serves Flask and other sync code (httpx.Client). Both share every decision."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import _errors as e
from ._config import Config
from ._credentials import Credential, extract_credential
from ._errors import GatehouseError, TokenError
from ._exchange import TokenCache, cache_key, read_answer, request_headers, unavailable
from ._keys import AsyncKeySet, KeyState, SyncKeySet, index_keys
from ._verify import check_header, verify_signed


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, from a verified Gatehouse access token."""

    subject: str
    session_id: str
    aal: str
    via: str  # "jwt", "session" or "api_key"
    token: str  # the verified JWT, to forward upstream
    expires_at: int
    permissions: tuple[str, ...] = ()
    teams: tuple[dict[str, str], ...] = ()
    amr: tuple[str, ...] = ()
    email: str | None = None
    email_verified: bool | None = None
    organization_id: str | None = None
    plan: str | None = None
    role: str | None = None
    mfa_required: bool = False  # the organization requires a second factor: every route needs aal2

    @classmethod
    def from_claims(cls, c: dict[str, Any], token: str, via: str) -> Principal:
        return cls(
            subject=c["sub"], session_id=c["sid"], aal=c["aal"], via=via, token=token, expires_at=c["exp"],
            permissions=tuple(c["perms"]), teams=tuple(c["teams"]), amr=tuple(c["amr"]), email=c.get("email"),
            email_verified=c.get("email_verified"), organization_id=c.get("org"), plan=c.get("plan"),
            role=c.get("role"), mfa_required=c.get("mfa_required") is True,
        )


@dataclass(frozen=True)
class Rule:
    """What a route requires; Rule() means any authenticated caller."""

    roles: tuple[str, ...] = field(default=())
    permissions: tuple[str, ...] = field(default=())
    aal2: bool = False


def authorize(p: Principal, rule: Rule) -> None:
    """Raises forbidden/aal2_required. Roles and permissions first: a second factor would
    not help somebody who lacks the role. An organization that requires a second factor
    (mfa_required) makes every route need aal2."""
    if rule.roles and (p.organization_id is None or p.role not in rule.roles):
        raise GatehouseError("forbidden", f"this route needs the role {' or '.join(rule.roles)}")
    missing = [x for x in rule.permissions if x not in p.permissions]
    if missing:
        raise GatehouseError("forbidden", f"missing permission {', '.join(missing)}")
    if p.aal != "aal2" and p.mfa_required:
        raise GatehouseError("aal2_required", "your organization requires a second factor: sign in with it, or set one up")
    if rule.aal2 and p.aal != "aal2":
        raise GatehouseError("aal2_required", "this route needs a second factor")


def refusal(config: Config, error: TokenError) -> GatehouseError:
    """A bad token is a 401; keys that cannot be fetched are our outage, a 503."""
    if error.reason == e.JWKS_UNAVAILABLE:
        return unavailable(config, "the token signing keys are unavailable")
    return GatehouseError("invalid_token", f"access token rejected ({error.reason})")


def _issued_but_rejected(config: Config, error: TokenError) -> GatehouseError:
    # The auth-service just issued it: if it does not verify, issuer/audience/keys are
    # misconfigured. Not the user's fault, so not a 401.
    return unavailable(config, f"the auth-service issued a token this guard rejects ({error.reason})")


class _Base:
    def __init__(self, config: Config, jwks: dict[str, Any] | None) -> None:
        self.config = config
        self.key_state = KeyState(config, index_keys(jwks) if jwks is not None else None)
        self.cache = TokenCache(config)

    def credential(self, get_all: Callable[[str], list[str]], cookies: dict[str, str]) -> Credential:
        c = extract_credential(get_all, cookies.get(self.config.cookie_name))
        if c is None:
            raise GatehouseError("unauthenticated", "sign in first (accepted: session, jwt, api_key)")
        return c

    def token_request(self, c: Credential, client: str | None) -> tuple[str, dict[str, Any]]:
        """POST /v1/token's URL and httpx keyword arguments."""
        headers = request_headers(c, self.config, client)
        return f"{self.config.auth_service_url}/v1/token", {"content": b"{}", "headers": headers, "timeout": self.config.timeout}

    def remember(self, c: Credential, key: str, token: str, claims: dict[str, Any]) -> Principal:
        """The principal of a freshly exchanged token, cached for the credential."""
        p = Principal.from_claims(claims, token, c.kind)
        self.cache.put(key, p, claims["exp"])
        return p


class AsyncGuard(_Base):
    """For asyncio frameworks. `jwks`: a fixed key set (tests); otherwise fetched from the auth-service."""

    def __init__(self, config: Config, *, jwks: dict[str, Any] | None = None, client: httpx.AsyncClient | None = None):
        super().__init__(config, jwks)
        self.client = client or httpx.AsyncClient(timeout=config.timeout)
        self.keys = AsyncKeySet(self.key_state, self.client)
        self.flights: dict[str, asyncio.Future[Principal]] = {}

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token, or TokenError."""
        header = check_header(token, self.config.algorithms)
        return verify_signed(token, header, await self.keys.get(header.kid), self.config)

    async def authenticate(self, get_all: Callable[[str], list[str]], cookies: dict[str, str], client: str | None = None) -> Principal:
        c = self.credential(get_all, cookies)
        if c.kind == "jwt":
            try:
                return Principal.from_claims(await self.verify(c.value), c.value, "jwt")
            except TokenError as error:
                raise refusal(self.config, error) from error
        key = cache_key(c)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        # One exchange per credential however many requests carry it at once.
        flight = self.flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._exchange(c, key, client))
            self.flights[key] = flight
            flight.add_done_callback(lambda _: self.flights.pop(key, None))
        return await asyncio.shield(flight)

    async def _exchange(self, c: Credential, key: str, client: str | None) -> Principal:
        url, kwargs = self.token_request(c, client)
        try:
            res = await self.client.post(url, **kwargs)
        except httpx.HTTPError as error:
            raise unavailable(self.config, "the auth-service cannot be reached") from error
        token = read_answer(c, self.config, res)
        try:
            return self.remember(c, key, token, await self.verify(token))
        except TokenError as error:
            raise _issued_but_rejected(self.config, error) from error

    async def aclose(self) -> None:
        await self.client.aclose()


class Guard(_Base):
    """For sync code (Flask, Django, scripts): the same decisions over httpx.Client."""

    def __init__(self, config: Config, *, jwks: dict[str, Any] | None = None, client: httpx.Client | None = None):
        super().__init__(config, jwks)
        self.client = client or httpx.Client(timeout=config.timeout)
        self.keys = SyncKeySet(self.key_state, self.client)
        self.locks: dict[str, threading.Lock] = {}
        self.locks_lock = threading.Lock()

    def verify(self, token: str) -> dict[str, Any]:
        header = check_header(token, self.config.algorithms)
        return verify_signed(token, header, self.keys.get(header.kid), self.config)

    def authenticate(self, get_all: Callable[[str], list[str]], cookies: dict[str, str], client: str | None = None) -> Principal:
        c = self.credential(get_all, cookies)
        if c.kind == "jwt":
            try:
                return Principal.from_claims(self.verify(c.value), c.value, "jwt")
            except TokenError as error:
                raise refusal(self.config, error) from error
        key = cache_key(c)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        with self.locks_lock:
            lock = self.locks.setdefault(key, threading.Lock())
        with lock:  # one exchange per credential: later threads find the cached answer
            try:
                return self.cache.get(key) or self._exchange(c, key, client)
            finally:
                with self.locks_lock:
                    self.locks.pop(key, None)

    def _exchange(self, c: Credential, key: str, client: str | None) -> Principal:
        url, kwargs = self.token_request(c, client)
        try:
            res = self.client.post(url, **kwargs)
        except httpx.HTTPError as error:
            raise unavailable(self.config, "the auth-service cannot be reached") from error
        token = read_answer(c, self.config, res)
        try:
            return self.remember(c, key, token, self.verify(token))
        except TokenError as error:
            raise _issued_but_rejected(self.config, error) from error

    def close(self) -> None:
        self.client.close()
