"""Starlette/ASGI middleware: authenticates every HTTP request (refusing with the Node
guard's JSON body), then hands the principal to the app in scope["state"]["principal"]
(request.state.principal)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ._errors import GatehouseError
from ._guard import AsyncGuard, Principal, Rule, authorize
from ._http import request_id


def _cookies(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for raw in headers.getlist("cookie"):
        try:
            jar.load(raw)
        except Exception:  # noqa: BLE001 - a hostile Cookie header is no credential, not a crash
            continue
    return {k: m.value for k, m in jar.items()}


def error_response(error: GatehouseError, headers: Headers) -> JSONResponse:
    rid = request_id(headers.get("x-request-id"))
    return JSONResponse(error.body(rid), status_code=error.status, headers=error.headers(rid))


async def authenticate_scope(guard: AsyncGuard, scope: Scope) -> Principal:
    headers = Headers(scope=scope)
    client = scope.get("client")
    return await guard.authenticate(headers.getlist, _cookies(headers), client[0] if client else None)


class GatehouseMiddleware:
    """`app.add_middleware(GatehouseMiddleware, guard=guard, rule=Rule(...), exclude=("/health",))`."""

    def __init__(self, app: ASGIApp, guard: AsyncGuard, rule: Rule | None = None, exclude: tuple[str, ...] = ()) -> None:
        self.app, self.guard, self.rule, self.exclude = app, guard, rule or Rule(), exclude

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Lifespan events carry no request; HTTP and WebSocket requests are both guarded (fail closed).
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.exclude:
            await self.app(scope, receive, send)
            return
        try:
            principal = await authenticate_scope(self.guard, scope)
            authorize(principal, self.rule)
        except GatehouseError as error:
            if scope["type"] == "websocket":
                await WebSocketClose(code=1008, reason=error.code)(scope, receive, send)
            else:
                await error_response(error, Headers(scope=scope))(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["principal"] = principal
        await self.app(scope, receive, send)
