"""The FastAPI example against the real stack, with users test/sdk/sdk.test.ts made: an
admin and a member of one organization, and a user with none."""

from __future__ import annotations

import httpx

from examples.companies import create_app
from gatehouse import AsyncGuard, Config

from .test_stack import need


async def test_members_read_admins_write() -> None:
    app = create_app(AsyncGuard(Config(auth_service_url=need("GATEHOUSE_AUTH_URL"))))
    admin, member, outsider = (need(n) for n in ("GATEHOUSE_ADMIN_TOKEN", "GATEHOUSE_MEMBER_TOKEN", "GATEHOUSE_SESSION_TOKEN"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app.test") as c:

        def as_(token: str) -> dict[str, str]:
            return {"x-session-token": token}

        for kind in ("companies", "teams"):
            created = await c.post(f"/v1/{kind}", json={"name": f"Acme {kind}"}, headers=as_(admin))
            assert created.status_code == 201, created.text
            refused = await c.post(f"/v1/{kind}", json={"name": "Nope"}, headers=as_(member))
            assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
            listed = await c.get(f"/v1/{kind}", headers=as_(member))
            assert listed.status_code == 200 and listed.json()[kind] == [f"Acme {kind}"]
            assert (await c.get(f"/v1/{kind}", headers=as_(outsider))).status_code == 403
            assert (await c.get(f"/v1/{kind}")).status_code == 401
        bad = await c.post("/v1/teams", content=b'{"name":', headers={**as_(admin), "content-type": "application/json"})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request" and bad.json()["request_id"]
        assert (await c.get("/health")).status_code == 200
