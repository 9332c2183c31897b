"""Protect Python services with Gatehouse: verify its access tokens against the JWKS,
exchange Kratos sessions and API keys at the auth-service, and refuse like the Node
guard (401 bad credential, 403 not enough, 503 + Retry-After on an outage — never 401).
Integrations: gatehouse.fastapi, gatehouse.starlette, gatehouse.flask."""

from ._config import Config
from ._credentials import Credential, extract_credential
from ._errors import GatehouseError, TokenError
from ._guard import AsyncGuard, Guard, Principal, Rule, authorize

__all__ = [
    "AsyncGuard",
    "Config",
    "Credential",
    "GatehouseError",
    "Guard",
    "Principal",
    "Rule",
    "TokenError",
    "authorize",
    "extract_credential",
]
