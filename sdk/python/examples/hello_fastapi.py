"""A FastAPI service protected by Gatehouse, against the default local stack
(`./gatehouse up`: auth-service on http://127.0.0.1:7410).

    .venv/bin/uvicorn examples.hello_fastapi:app --port 8081
    curl -H "X-Session-Token: $TOKEN" http://localhost:8081/whoami
"""

import os

from fastapi import Depends, FastAPI

from gatehouse import AsyncGuard, Config, Principal, Rule
from gatehouse.fastapi import install, require

guard = AsyncGuard(Config(auth_service_url=os.environ.get("AUTH_SERVICE_URL", "http://127.0.0.1:7410")))
app = FastAPI()
install(app)  # refusals answer {error, message, request_id}, 503s with Retry-After


@app.get("/whoami")
async def whoami(p: Principal = Depends(require(guard))) -> dict:
    return {"user": p.subject, "email": p.email, "org": p.organization_id, "role": p.role}


@app.post("/admin/things", status_code=204)
async def admin_things(p: Principal = Depends(require(guard, Rule(roles=("admin", "owner"), aal2=True)))) -> None:
    return None
