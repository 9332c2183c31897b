"""Which credential does a request carry? The Node guard's rules: explicit credentials
(Authorization, X-API-Key, X-Session-Token) win over the ambient Kratos cookie; a broken
explicit one is a 401, never shadowed by the cookie; two that disagree are a 400."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ._errors import GatehouseError
from ._verify import MAX_TOKEN_LENGTH

MAX_CREDENTIAL_LENGTH = 4096
_BEARER = re.compile(r"^bearer\s+([A-Za-z0-9\-._~+/]+=*)$", re.IGNORECASE)
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


@dataclass(frozen=True)
class Credential:
    kind: str  # "jwt", "session" or "api_key"
    value: str
    cookie: bool = False  # a session from the Kratos cookie (else a session token)

    @property
    def cache_kind(self) -> str:
        if self.kind == "session":
            return "cookie" if self.cookie else "token"
        return self.kind


def _classify(token: str) -> Credential:
    if token.startswith("sk_"):
        return Credential("api_key", token)
    if token.startswith("ory_st_"):  # Kratos accepts its session token as a bearer token too
        return Credential("session", token)
    return Credential("jwt", token)


def _ambiguous() -> GatehouseError:
    return GatehouseError("ambiguous_credentials", "a credential header was sent more than once")


def _malformed() -> GatehouseError:
    return GatehouseError("unauthenticated", "the credential is malformed")


def extract_credential(get_all: Callable[[str], list[str]], cookie: str | None) -> Credential | None:
    """`get_all(name)`: every value of a header (case-insensitive); `cookie`: the Kratos cookie's value."""
    found: list[Credential] = []
    auth = get_all("authorization")
    if auth:
        if len(auth) > 1 or "," in auth[0]:
            raise _ambiguous()
        value = auth[0].strip()
        if value.lower().startswith("bearer"):  # other schemes (Basic, ...) are not ours
            m = _BEARER.match(value)
            if m is None or len(m.group(1)) > MAX_TOKEN_LENGTH:
                raise _malformed()
            found.append(_classify(m.group(1)))
    for name, kind in (("x-api-key", "api_key"), ("x-session-token", "session")):
        values = get_all(name)
        if not values or not values[0].strip():
            continue
        token = values[0].strip()
        if len(values) > 1 or "," in token:
            raise _ambiguous()
        if len(token) > MAX_CREDENTIAL_LENGTH or not _B64TOKEN.match(token):
            raise _malformed()
        found.append(Credential(kind, token))
    if any(c != found[0] for c in found[1:]):
        raise GatehouseError("ambiguous_credentials", "the request carries more than one different credential")
    if found:
        return found[0]
    if cookie and len(cookie) <= MAX_CREDENTIAL_LENGTH:
        return Credential("session", cookie, cookie=True)
    return None
