"""Against the real test stack (Kratos, auth-service), run by test/sdk/sdk.test.ts, which
registers a real user and passes its credentials in the environment."""

from __future__ import annotations

import asyncio
import os

import flask
import httpx
import pytest
from fastapi import Depends, FastAPI

import gatehouse.fastapi as gh_fastapi
from gatehouse import AsyncGuard, Config, GatehouseError, Guard, Principal, Rule
from gatehouse.flask import protect


def need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run this through test/sdk/sdk.test.ts")
    return value


def app_for(guard: AsyncGuard, rule: Rule | None = None) -> FastAPI:
    app = FastAPI()
    gh_fastapi.install(app)

    @app.get("/whoami")
    async def whoami(p: Principal = Depends(gh_fastapi.require(guard, rule))) -> dict:
        return {"sub": p.subject, "via": p.via, "token": p.token}

    return app


async def get(app: FastAPI, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app.test") as c:
        return await c.get("/whoami", headers=headers)


async def test_real_session_cookie_token_and_jwt() -> None:
    exchanges = 0

    async def count(request: httpx.Request) -> None:
        nonlocal exchanges
        exchanges += request.method == "POST" and request.url.path.endswith("/v1/token")

    client = httpx.AsyncClient(event_hooks={"request": [count]})
    guard = AsyncGuard(Config(auth_service_url=need("GATEHOUSE_AUTH_URL")), client=client)
    cookie = {"cookie": f"ory_kratos_session={need('GATEHOUSE_SESSION_COOKIE')}"}

    # Many requests with one fresh cookie at once: one exchange.
    responses = await asyncio.gather(*(get(app_for(guard), cookie) for _ in range(16)))
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["sub"] for r in responses} == {need("GATEHOUSE_SUBJECT")}
    assert exchanges == 1

    via_jwt = await get(app_for(guard), {"authorization": f"Bearer {responses[0].json()['token']}"})
    assert via_jwt.status_code == 200 and via_jwt.json()["via"] == "jwt"

    via_token = await get(app_for(guard), {"x-session-token": need("GATEHOUSE_SESSION_TOKEN")})
    assert via_token.status_code == 200 and via_token.json()["via"] == "session"
    assert via_token.json()["sub"] != need("GATEHOUSE_SUBJECT")

    for headers in ({"authorization": f"Bearer {need('GATEHOUSE_API_KEY')}"}, {"x-api-key": need("GATEHOUSE_API_KEY")}):
        via_key = await get(app_for(guard), headers)
        assert via_key.status_code == 200 and via_key.json()["via"] == "api_key", via_key.text
    unknown_key = await get(app_for(guard), {"x-api-key": "sk_not_a_real_key_000000000000"})
    assert unknown_key.status_code == 401 and unknown_key.json()["error"] == "invalid_api_key"

    for headers in ({}, {"cookie": "ory_kratos_session=MTY5bm90LWEtc2Vzc2lvbg"}):
        refused = await get(app_for(guard), headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "unauthenticated" and refused.json()["request_id"]
        assert refused.headers["www-authenticate"]

    # Authenticated but not enough: the fresh user has no organization.
    forbidden = await get(app_for(guard, Rule(roles=("admin",))), cookie)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
    await guard.aclose()


async def test_outage_is_503_with_retry_after_never_401() -> None:
    real = AsyncGuard(Config(auth_service_url=need("GATEHOUSE_AUTH_URL")))
    jwt = (await get(app_for(real), {"x-session-token": need("GATEHOUSE_SESSION_TOKEN")})).json()["token"]
    down = AsyncGuard(Config(auth_service_url=need("GATEHOUSE_CLOSED_URL"), issuer=need("GATEHOUSE_AUTH_URL")))
    for headers in (
        {"cookie": f"ory_kratos_session={need('GATEHOUSE_SESSION_COOKIE')}"},
        {"x-session-token": need("GATEHOUSE_SESSION_TOKEN")},
        {"authorization": f"Bearer {jwt}"},
    ):
        r = await get(app_for(down), headers)
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "dependency_unavailable" and int(r.headers["retry-after"]) > 0


def test_flask_against_the_real_stack() -> None:
    for url, expected in ((need("GATEHOUSE_AUTH_URL"), 200), (need("GATEHOUSE_CLOSED_URL"), 503)):
        guard = Guard(Config(auth_service_url=url, issuer=need("GATEHOUSE_AUTH_URL")))
        app = flask.Flask(__name__)

        @app.get("/whoami")
        @protect(guard)
        def whoami() -> dict:
            return {"sub": flask.g.principal.subject}

        r = app.test_client().get("/whoami", headers={"x-session-token": need("GATEHOUSE_SESSION_TOKEN")})
        assert r.status_code == expected, r.json
        if expected == 503:
            assert r.headers["retry-after"] and r.json["error"] == "dependency_unavailable"
    with pytest.raises(GatehouseError) as refused:
        Guard(Config(auth_service_url=need("GATEHOUSE_AUTH_URL"))).authenticate(lambda _: [], {})
    assert refused.value.status == 401
