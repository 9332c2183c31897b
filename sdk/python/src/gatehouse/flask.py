"""Flask: a decorator that authenticates (and authorizes) the request and puts the
principal in flask.g.principal.

    guard = Guard(Config(auth_service_url="http://127.0.0.1:7430"))
    @app.get("/teams")
    @protect(guard, Rule(permissions=("teams:read",)))
    def teams(): return {"user": g.principal.subject}
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, g, jsonify, request

from ._errors import GatehouseError
from ._guard import Guard, Rule, authorize
from ._http import request_id

F = TypeVar("F", bound=Callable[..., Any])


def error_response(error: GatehouseError) -> Response:
    rid = request_id(request.headers.get("x-request-id"))
    response = jsonify(error.body(rid))
    response.status_code = error.status
    response.headers.update(error.headers(rid))
    return response


def protect(guard: Guard, rule: Rule | None = None) -> Callable[[F], F]:
    needed = rule or Rule()

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                principal = guard.authenticate(request.headers.getlist, dict(request.cookies), request.remote_addr)
                authorize(principal, needed)
            except GatehouseError as error:
                return error_response(error)
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
