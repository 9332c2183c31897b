"""The conformance table (sdk/conformance/vectors.json, written by the TypeScript
generator): the Node guard and sdk/go reach the same outcome for every case. Run through
each integration: the FastAPI dependency, the Starlette middleware and the Flask decorator."""

from __future__ import annotations

import flask
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import gatehouse.fastapi as gh_fastapi
from gatehouse import AsyncGuard, Config, Guard, Principal, Rule, TokenError
from gatehouse.flask import protect
from gatehouse.starlette import GatehouseMiddleware

from .conftest import VECTORS

CASES = VECTORS["cases"]
IDS = [c["name"] for c in CASES]


def config() -> Config:
    return Config(
        auth_service_url="http://auth.conformance.test",
        issuer=VECTORS["issuer"],
        audience=(VECTORS["audience"],),
        algorithms=tuple(VECTORS["algorithms"]),
        leeway=VECTORS["leeway_sec"],
        now=lambda: VECTORS["now"],
    )


def rule_of(case: dict) -> Rule:
    r = case.get("rule", {})
    return Rule(roles=tuple(r.get("roles", ())), permissions=tuple(r.get("permissions", ())), aal2=r.get("aal") == "aal2")


def check(response, case: dict) -> None:
    expect = case["expect"]
    # httpx (FastAPI, Starlette) has json(), Werkzeug (Flask) a json property.
    body = response.json() if callable(response.json) else response.json
    assert response.status_code == expect["status"], body
    if "error" in expect:
        assert body["error"] == expect["error"]
        assert body["message"] and body["request_id"]
        assert response.headers["cache-control"] == "no-store"
    else:
        assert body["sub"]


def test_the_table_is_whole() -> None:
    assert len(CASES) >= 30 and {c["expect"]["status"] for c in CASES} == {200, 401, 403}


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_reason(case: dict) -> None:
    guard = AsyncGuard(config(), jwks=VECTORS["jwks"])
    reason = case["expect"].get("reason")
    try:
        await guard.verify(case["token"])
        got = None
    except TokenError as error:
        got = error.reason
    if case["expect"]["status"] == 401:
        assert got == reason
    else:
        assert got is None


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fastapi_dependency(case: dict) -> None:
    guard = AsyncGuard(config(), jwks=VECTORS["jwks"])
    app = FastAPI()
    gh_fastapi.install(app)

    @app.get("/x")
    async def x(p: Principal = Depends(gh_fastapi.require(guard, rule_of(case)))) -> dict:
        return {"sub": p.subject}

    check(TestClient(app).get("/x", headers={"authorization": f"Bearer {case['token']}"}), case)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_starlette_middleware(case: dict) -> None:
    guard = AsyncGuard(config(), jwks=VECTORS["jwks"])

    async def x(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.principal.subject})

    app = Starlette(routes=[Route("/x", x)])
    app.add_middleware(GatehouseMiddleware, guard=guard, rule=rule_of(case))
    check(TestClient(app).get("/x", headers={"authorization": f"Bearer {case['token']}"}), case)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_flask_decorator(case: dict) -> None:
    guard = Guard(config(), jwks=VECTORS["jwks"])
    app = flask.Flask(__name__)

    @app.get("/x")
    @protect(guard, rule_of(case))
    def x() -> dict:
        return {"sub": flask.g.principal.subject}

    check(app.test_client().get("/x", headers={"authorization": f"Bearer {case['token']}"}), case)
