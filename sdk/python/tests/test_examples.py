"""The README's example imports and answers a caller without credentials as documented."""

from fastapi.testclient import TestClient

from examples.hello_fastapi import app


def test_example_refuses_without_a_credential() -> None:
    r = TestClient(app).get("/whoami", headers={"x-request-id": "readme-1"})
    assert r.status_code == 401
    assert r.json() == {"error": "unauthenticated", "message": r.json()["message"], "request_id": "readme-1"}
