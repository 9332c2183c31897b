"""The guard's configuration, checked once: a bad value fails at start-up naming the field."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

SIGNING_ALGS = ("RS256", "ES256", "EdDSA")


@dataclass(frozen=True)
class Config:
    #: Base URL of the auth-service's public listener, e.g. http://127.0.0.1:7430.
    auth_service_url: str
    #: Accepted `aud` values; a token's aud must contain one.
    audience: tuple[str, ...] = ("gatehouse",)
    #: Required `iss`. Default: auth_service_url without a trailing slash.
    issuer: str = ""
    #: Default: auth_service_url + /.well-known/jwks.json.
    jwks_url: str = ""
    algorithms: tuple[str, ...] = SIGNING_ALGS
    #: Leeway for exp and nbf, seconds.
    leeway: int = 10
    cookie_name: str = "ory_kratos_session"
    #: Deadline of one call to the auth-service or the JWKS, seconds.
    timeout: float = 3.0
    #: Retry-After of a 503 when the upstream gave none, seconds.
    retry_after: int = 5
    #: An unknown kid refetches the key set at most this often, seconds.
    refetch_floor: float = 30.0
    #: The key set is refetched when older than this, seconds.
    jwks_max_age: float = 300.0
    #: Upper bound for reusing an exchanged token, seconds (0 disables the cache).
    session_cache_ttl: float = 60.0
    session_cache_size: int = 10_000
    #: Clock in seconds since the epoch (tests).
    now: Callable[[], float] = field(default=time.time)

    def __post_init__(self) -> None:
        u = urlparse(self.auth_service_url)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ValueError("gatehouse: Config.auth_service_url must be an absolute http(s) URL")
        base = self.auth_service_url.rstrip("/")
        object.__setattr__(self, "auth_service_url", base)
        if isinstance(self.audience, str):
            object.__setattr__(self, "audience", (self.audience,))
        if not self.audience or not all(isinstance(a, str) and a for a in self.audience):
            raise ValueError("gatehouse: Config.audience must be non-empty strings")
        if not self.algorithms or any(a not in SIGNING_ALGS for a in self.algorithms):
            raise ValueError(f"gatehouse: Config.algorithms must be a subset of {', '.join(SIGNING_ALGS)}")
        for name in ("leeway", "timeout", "retry_after", "refetch_floor", "jwks_max_age", "session_cache_ttl"):
            if getattr(self, name) < 0:
                raise ValueError(f"gatehouse: Config.{name} must not be negative")
        if self.session_cache_size < 1:
            raise ValueError("gatehouse: Config.session_cache_size must be at least 1")
        object.__setattr__(self, "issuer", self.issuer or base)
        object.__setattr__(self, "jwks_url", self.jwks_url or f"{base}/.well-known/jwks.json")
