"""FastAPI: a dependency that authenticates (and authorizes) the request.

    guard = AsyncGuard(Config(auth_service_url="http://127.0.0.1:7430"))
    install(app)  # refusals answer with {error, message, request_id}
    @app.get("/teams")
    async def teams(p: Principal = Depends(require(guard, Rule(permissions=("teams:read",))))): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ._errors import GatehouseError
from ._guard import AsyncGuard, Principal, Rule, authorize
from .starlette import authenticate_scope, error_response


def require(guard: AsyncGuard, rule: Rule | None = None) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency returning the principal; raises GatehouseError (see install) otherwise."""
    needed = rule or Rule()

    async def dependency(request: Request) -> Principal:
        principal = await authenticate_scope(guard, request.scope)
        authorize(principal, needed)
        request.state.principal = principal
        return principal

    return dependency


def install(app: FastAPI) -> None:
    """Answers GatehouseError as the Node guard does (status, body, Retry-After, no-store)."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatehouseError)
        return error_response(exc, request.headers)

    app.add_exception_handler(GatehouseError, handler)
