"""An example FastAPI service in the seed product's shape (companies and teams: members
read, admins write, each organization sees only its own), protected by Gatehouse.
Against the default local stack:

    .venv/bin/uvicorn examples.companies:app --port 8083
    curl -H "X-Session-Token: $TOKEN" http://localhost:8083/v1/companies

Environment: AUTH_SERVICE_URL, PREFIX (a path prefix, e.g. /fastapi).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import defaultdict

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gatehouse import AsyncGuard, Config, Principal, Rule
from gatehouse.fastapi import install, require

KINDS = ("companies", "teams")


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=200)


def create_app(guard: AsyncGuard, prefix: str = "") -> FastAPI:
    """`prefix` ("" or e.g. "/fastapi"): where the API lives, so a gateway can route a path prefix here."""
    app = FastAPI(title="companies example")
    install(app)
    readers = require(guard, Rule(roles=("member", "admin", "owner")))
    writers = require(guard, Rule(roles=("admin", "owner")))
    # In memory, per organization: an example, not a database.
    data: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    lock = threading.Lock()

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    def add_routes(kind: str) -> None:
        @app.get(f"{prefix}/v1/{kind}", name=f"list_{kind}")
        async def list_items(p: Principal = Depends(readers)) -> dict:
            with lock:
                return {kind: sorted(data[p.organization_id or ""][kind])}

        @app.post(f"{prefix}/v1/{kind}", status_code=201, name=f"create_{kind}")
        async def create_item(item: NewItem, p: Principal = Depends(writers)) -> dict:
            with lock:
                data[p.organization_id or ""][kind].append(item.name)
            return {"name": item.name}

    for kind in KINDS:
        add_routes(kind)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The project's error shape for bad input too, not FastAPI's {"detail": [...]}.
        rid = request.headers.get("x-request-id") or str(uuid.uuid4())
        body = {"error": "invalid_request", "message": 'a JSON body {"name": "…"} (1-200 characters) is required', "request_id": rid}
        return JSONResponse(body, status_code=400, headers={"x-request-id": rid})

    return app


app = create_app(
    AsyncGuard(Config(auth_service_url=os.environ.get("AUTH_SERVICE_URL", "http://127.0.0.1:7410"))),
    prefix=os.environ.get("PREFIX", ""),
)
