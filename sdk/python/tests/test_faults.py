"""The async guard against a stand-in auth-service (httpx.MockTransport): JWKS refetch
floor and outage, every exchange answer, one exchange per credential at a time. The
real auth-service is in tests_stack/."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from gatehouse import AsyncGuard, Config, GatehouseError

AUTH = "http://auth.test"


class Stub:
    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")
        self.kid = "k1"
        self.jwks_calls = 0
        self.token_calls = 0
        self.jwks_down = False
        self.answer: tuple[int, str, dict[str, str]] = (200, "", {})

    def mint(self, kid: str) -> str:
        now = int(time.time())
        claims = {
            "iss": AUTH, "aud": ["gatehouse"], "sub": "u1", "sid": "s1", "jti": "j1", "ver": 1,
            "iat": now, "nbf": now, "exp": now + 300, "teams": [], "perms": [], "aal": "aal1", "amr": ["password"],
        }
        return jwt.encode({"alg": "ES256", "kid": kid, "typ": "at+jwt"}, claims, self.key)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            self.jwks_calls += 1
            if self.jwks_down:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(200, json={"keys": [{**self.key.as_dict(private=False), "kid": self.kid, "use": "sig"}]})
        self.token_calls += 1
        await asyncio.sleep(0.02)  # long enough for concurrent callers to pile up
        status, body, headers = self.answer
        if status == 200 and not body:
            body = json.dumps({"access_token": self.mint(self.kid)})
        return httpx.Response(status, content=body.encode(), headers=headers)


def guard_for(stub: Stub, clock: list[float] | None = None) -> AsyncGuard:
    now = (lambda: clock[0]) if clock else time.time
    return AsyncGuard(Config(auth_service_url=AUTH, now=now), client=httpx.AsyncClient(transport=httpx.MockTransport(stub.handle)))


async def auth(guard: AsyncGuard, headers: dict[str, str]):
    return await guard.authenticate(lambda name: [v for k, v in headers.items() if k == name], {})


async def status_of(guard: AsyncGuard, headers: dict[str, str]) -> tuple[int, str, int | None]:
    try:
        await auth(guard, headers)
        return 200, "", None
    except GatehouseError as error:
        return error.status, error.code, error.retry_after


async def test_unknown_kid_refetch_has_a_floor() -> None:
    stub, clock = Stub(), [time.time()]
    guard = guard_for(stub, clock)
    assert await status_of(guard, {"authorization": f"Bearer {stub.mint('k1')}"}) == (200, "", None)
    assert (await status_of(guard, {"authorization": f"Bearer {stub.mint('nope')}"}))[0] == 401
    assert stub.jwks_calls == 1  # right after a fetch: within the floor
    clock[0] += 31
    for _ in range(5):
        assert (await status_of(guard, {"authorization": f"Bearer {stub.mint('nope')}"}))[0] == 401
    assert stub.jwks_calls == 2
    clock[0] += 31
    stub.kid = "k2"  # a rotation: found by the refetch the floor allows
    assert (await status_of(guard, {"authorization": f"Bearer {stub.mint('k2')}"}))[0] == 200
    assert stub.jwks_calls == 3


async def test_jwks_outage() -> None:
    stub = Stub()
    stub.jwks_down = True
    assert await status_of(guard_for(stub), {"authorization": f"Bearer {stub.mint('k1')}"}) == (503, "dependency_unavailable", 5)
    stub.jwks_down, clock = False, [time.time()]
    guard = AsyncGuard(
        Config(auth_service_url=AUTH, jwks_max_age=60, now=lambda: clock[0]),
        client=httpx.AsyncClient(transport=httpx.MockTransport(stub.handle)),
    )
    assert (await status_of(guard, {"authorization": f"Bearer {stub.mint('k1')}"}))[0] == 200
    stub.jwks_down, clock[0] = True, clock[0] + 120  # stale: refetched, which fails: the old keys serve
    assert (await status_of(guard, {"authorization": f"Bearer {stub.mint('k1')}"}))[0] == 200


COOKIE = {"x-session-token": "ory_st_abc"}


@pytest.mark.parametrize(
    ("answer", "headers", "expected"),
    [
        ((401, "{}", {}), COOKIE, (401, "unauthenticated", None)),
        ((401, "{}", {}), {"authorization": "Bearer sk_live_x"}, (401, "invalid_api_key", None)),
        ((403, '{"error":"aal2_required"}', {}), COOKIE, (403, "aal2_required", None)),
        ((403, '{"error":"user_deactivated"}', {}), COOKIE, (403, "forbidden", None)),
        ((429, "{}", {"retry-after": "7"}), COOKIE, (429, "rate_limited", 7)),
        ((502, "<html>bad gateway</html>", {}), COOKIE, (503, "dependency_unavailable", 5)),
        ((503, "{}", {"retry-after": "9"}), COOKIE, (503, "dependency_unavailable", 9)),
        ((404, "{}", {}), COOKIE, (503, "dependency_unavailable", 5)),
        ((200, "{}", {}), COOKIE, (503, "dependency_unavailable", 5)),
        ((200, '{"access_token":"a.b.c"}', {}), COOKIE, (503, "dependency_unavailable", 5)),
    ],
    ids=["session refused", "API key refused", "aal2", "deactivated", "429", "502", "503 Retry-After", "404", "no token", "bad token"],
)
async def test_exchange_answers(answer, headers, expected) -> None:
    stub = Stub()
    stub.answer = answer
    assert await status_of(guard_for(stub), headers) == expected


async def test_unreachable_auth_service_is_503() -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    guard = AsyncGuard(Config(auth_service_url=AUTH), client=httpx.AsyncClient(transport=httpx.MockTransport(refuse)))
    assert await status_of(guard, COOKIE) == (503, "dependency_unavailable", 5)


async def test_one_exchange_per_credential_and_failures_are_not_cached() -> None:
    stub = Stub()
    guard = guard_for(stub)
    results = await asyncio.gather(*(status_of(guard, COOKIE) for _ in range(20)))
    assert set(results) == {(200, "", None)}
    assert (await status_of(guard, COOKIE))[0] == 200
    assert stub.token_calls == 1
    stub.answer = (401, "{}", {})
    other = {"x-session-token": "ory_st_other"}
    assert (await status_of(guard, other))[0] == 401
    assert (await status_of(guard, other))[0] == 401
    assert stub.token_calls == 3


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer sk_a", "x-session-token": "ory_st_b"}, 400),
        ({"authorization": "Bearer a b"}, 401),
        ({"authorization": "Basic dTpw"}, 401),
    ],
    ids=["two different credentials", "malformed bearer", "Basic is not ours"],
)
async def test_credential_rules(headers, expected) -> None:
    stub = Stub()
    assert (await status_of(guard_for(stub), headers))[0] == expected
    assert stub.token_calls == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"auth_service_url": "auth.example"}, "auth_service_url"), ({"auth_service_url": AUTH, "algorithms": ("HS256",)}, "algorithms")],
)
def test_config_names_the_bad_field(kwargs, field) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**kwargs)


def test_starlette_middleware_guards_websockets_too() -> None:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from gatehouse.starlette import GatehouseMiddleware

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("in")

    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    app.add_middleware(GatehouseMiddleware, guard=guard_for(Stub()))
    with pytest.raises(WebSocketDisconnect) as closed, TestClient(app).websocket_connect("/ws") as ws:
        ws.receive_text()
    assert closed.value.code == 1008
