"""What every integration shares: the request id and the refusal's body and headers."""

from __future__ import annotations

import re
import uuid

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id(value: str | None) -> str:
    """The client's X-Request-Id when it is sane, else a fresh one."""
    return value if value is not None and _REQUEST_ID.match(value) else str(uuid.uuid4())
