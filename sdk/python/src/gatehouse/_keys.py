"""The auth-service's public keys by kid. Refetched when older than jwks_max_age, and on
an unknown kid (a rotation) at most once per refetch_floor, so made-up kids cannot turn
into a flood of fetches. One fetch at a time; a failed fetch keeps the keys we had (an
outage must not sign everybody out). The state is shared; only the I/O differs between
the async (httpx.AsyncClient) and the sync (httpx.Client, Flask) flavour."""

from __future__ import annotations

import asyncio
import threading
import warnings
from typing import Any

import httpx
from joserfc.jwk import Key, import_key

from . import _errors as e
from ._config import Config

MAX_JWKS_BYTES = 256 * 1024


def index_keys(document: Any) -> dict[str, Key]:
    """kid -> key for the public signature keys; a kid listed twice is dropped (which did the issuer mean?)."""
    keys: dict[str, Key] = {}
    dup: set[str] = set()
    entries = document.get("keys") if isinstance(document, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or jwk.get("use", "sig") != "sig":
            continue
        if "d" in jwk or jwk.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        kid = jwk["kid"]
        if kid in keys or kid in dup:
            keys.pop(kid, None)
            dup.add(kid)
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                keys[kid] = import_key(jwk)
        except Exception:  # noqa: BLE001 - one unusable key must not take the others down
            continue
    return keys


class KeyState:
    def __init__(self, config: Config, keys: dict[str, Key] | None = None) -> None:
        self.config = config
        self.keys = keys
        self.static = keys is not None
        self.fetched_at = self.tried_at = config.now() if keys is not None else float("-inf")

    def lookup(self, kid: str) -> tuple[Key | None, bool]:
        """The key, and whether a fetch is due before answering."""
        now = self.config.now()
        key = (self.keys or {}).get(kid)
        if self.static:
            return key, False
        stale = now - self.fetched_at > self.config.jwks_max_age
        if key is not None and not stale:
            return key, False
        return key, self.keys is None or stale or now - self.tried_at >= self.config.refetch_floor

    def settle(self, kid: str) -> Key:
        key = (self.keys or {}).get(kid)
        if key is not None:
            return key
        if self.keys is None:
            raise e.TokenError(e.JWKS_UNAVAILABLE, "the signing keys cannot be fetched")
        raise e.TokenError(e.KEY_UNKNOWN, "no published key has this kid")

    def store(self, response: httpx.Response | None) -> None:
        self.tried_at = self.config.now()
        if response is None or response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
            return
        try:
            self.keys = index_keys(response.json())
            self.fetched_at = self.tried_at
        except ValueError:
            return


class AsyncKeySet:
    def __init__(self, state: KeyState, client: httpx.AsyncClient) -> None:
        self.state, self.client, self.lock = state, client, asyncio.Lock()

    async def get(self, kid: str) -> Key:
        key, due = self.state.lookup(kid)
        if due:
            async with self.lock:  # waiters find the fresh set and do not fetch again
                key, due = self.state.lookup(kid)
                if due:
                    try:
                        res = await self.client.get(self.state.config.jwks_url, timeout=self.state.config.timeout)
                    except httpx.HTTPError:
                        res = None
                    self.state.store(res)
        return key if key is not None and not due else self.state.settle(kid)


class SyncKeySet:
    def __init__(self, state: KeyState, client: httpx.Client) -> None:
        self.state, self.client, self.lock = state, client, threading.Lock()

    def get(self, kid: str) -> Key:
        key, due = self.state.lookup(kid)
        if due:
            with self.lock:
                key, due = self.state.lookup(kid)
                if due:
                    try:
                        res = self.client.get(self.state.config.jwks_url, timeout=self.state.config.timeout)
                    except httpx.HTTPError:
                        res = None
                    self.state.store(res)
        return key if key is not None and not due else self.state.settle(kid)
