"""What the SDK refuses with: TokenError (why a token is bad) and GatehouseError (the
HTTP answer). Codes and reasons are the Node guard's, so all SDKs answer alike."""

from __future__ import annotations

# Why a token was refused: @gatehouse/tokens' TokenError codes.
MALFORMED = "token_malformed"
EXPIRED = "token_expired"
NOT_YET_VALID = "token_not_yet_valid"
SIGNATURE_INVALID = "token_signature_invalid"
ALG_NOT_ALLOWED = "token_alg_not_allowed"
TYPE_INVALID = "token_type_invalid"
CLAIMS_INVALID = "token_claims_invalid"
ISSUER_INVALID = "token_issuer_invalid"
AUDIENCE_INVALID = "token_audience_invalid"
KEY_UNKNOWN = "token_key_unknown"
HEADER_FORBIDDEN = "token_header_forbidden"
# No key set could ever be fetched: an outage (503), not a bad token.
JWKS_UNAVAILABLE = "jwks_unavailable"

STATUS = {
    "unauthenticated": 401,
    "invalid_token": 401,
    "invalid_api_key": 401,
    "ambiguous_credentials": 400,
    "forbidden": 403,
    "aal2_required": 403,
    "rate_limited": 429,
    "dependency_unavailable": 503,
}


class TokenError(Exception):
    """A token the verifier refuses; `reason` is one of the constants above."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class GatehouseError(Exception):
    """A refusal: status, the body's `error` code and message, and for 429/503 when to
    retry. Messages are fixed text, never credentials, so they are safe to send and log."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = STATUS[code]
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def body(self, request_id: str) -> dict[str, str]:
        return {"error": self.code, "message": self.message, "request_id": request_id}

    def headers(self, request_id: str) -> dict[str, str]:
        h = {"cache-control": "no-store", "x-request-id": request_id}
        if self.retry_after is not None:
            h["retry-after"] = str(self.retry_after)
        if self.status == 401:
            h["www-authenticate"] = 'Bearer realm="gatehouse"'
        return h
