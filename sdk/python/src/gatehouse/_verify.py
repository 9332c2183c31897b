"""Token verification on joserfc: header checks before any key lookup or crypto, then
the signature, then iss/aud/exp/nbf with leeway, then the claims schema (version 1)."""

from __future__ import annotations

import base64
import binascii
import json
import warnings
from dataclasses import dataclass
from typing import Any

from joserfc import errors as jose_errors
from joserfc import jwt
from joserfc.jwk import Key
from joserfc.jws import JWSRegistry

from . import _errors as e
from ._config import Config

MAX_TOKEN_LENGTH = 16 * 1024
# Never trust key material or key locations carried by the token; and since no
# extension is implemented, "crit" can only mean a token we would misunderstand.
FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")
ORG_ROLES = ("owner", "admin", "member")
TEAM_ROLES = ("lead", "member")
PLANS = ("starter", "pro", "enterprise")


@dataclass(frozen=True)
class Header:
    alg: str
    kid: str


def check_header(token: str, algorithms: tuple[str, ...]) -> Header:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise e.TokenError(e.MALFORMED, "token must be a compact JWS string")
    parts = token.split(".")
    if len(parts) != 3:
        raise e.TokenError(e.MALFORMED, "token must be a compact JWS")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (binascii.Error, ValueError) as error:
        raise e.TokenError(e.MALFORMED, "token header is not valid base64url JSON") from error
    if not isinstance(header, dict):
        raise e.TokenError(e.MALFORMED, "token header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise e.TokenError(e.ALG_NOT_ALLOWED, f"alg {json.dumps(alg)} is not allowed")
    for name in FORBIDDEN_HEADERS:
        if name in header:
            raise e.TokenError(e.HEADER_FORBIDDEN, f'token header must not carry "{name}"')
    typ = header.get("typ")
    typ = typ.lower().removeprefix("application/") if isinstance(typ, str) else None
    if typ != "at+jwt":
        raise e.TokenError(e.TYPE_INVALID, "typ must be at+jwt")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise e.TokenError(e.KEY_UNKNOWN, "token has no kid")
    return Header(alg=alg, kid=kid)


def verify_signed(token: str, header: Header, key: Key, config: Config) -> dict[str, Any]:
    """Signature and registered claims; returns the checked claims or raises TokenError."""
    if key.alg and key.alg != header.alg:
        raise e.TokenError(e.ALG_NOT_ALLOWED, "the key for this kid is not for this alg")
    try:
        with warnings.catch_warnings():
            # joserfc warns that "EdDSA" is deprecated by RFC 9864; the auth-service still signs with it.
            warnings.simplefilter("ignore")
            registry = JWSRegistry(algorithms=[header.alg])
            claims = jwt.decode(token, key, algorithms=[header.alg], registry=registry).claims
    except jose_errors.BadSignatureError as error:
        raise e.TokenError(e.SIGNATURE_INVALID, "token signature is invalid") from error
    except jose_errors.JoseError as error:
        raise e.TokenError(e.MALFORMED, "token is malformed") from error
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(config.now()),
        leeway=config.leeway,
        iss={"essential": True, "value": config.issuer},
        aud={"essential": True, "values": list(config.audience)},
        exp={"essential": True},
        nbf={"essential": True},
    )
    try:
        registry.validate(claims)
    except jose_errors.ExpiredTokenError as error:
        raise e.TokenError(e.EXPIRED, "token has expired") from error
    except jose_errors.ClaimError as error:
        reason = {"nbf": e.NOT_YET_VALID, "iss": e.ISSUER_INVALID, "aud": e.AUDIENCE_INVALID}.get(error.claim)
        if error.claim == "nbf" and not isinstance(claims.get("nbf"), int):
            reason = None
        raise e.TokenError(reason or e.CLAIMS_INVALID, f'claim "{error.claim}" is invalid') from error
    check_claims(claims)
    return claims


def check_claims(c: dict[str, Any]) -> None:
    """The Gatehouse claims schema (version 1) beyond the registered claims."""

    def bad(claim: str, detail: str) -> e.TokenError:
        return e.TokenError(e.CLAIMS_INVALID, f'claim "{claim}" {detail}')

    def strings(v: object) -> bool:
        return isinstance(v, list) and all(isinstance(s, str) and s for s in v)

    if c.get("ver") != 1:
        raise bad("ver", "must be 1 (this build understands claims version 1)")
    for name in ("sub", "sid", "jti"):
        if not isinstance(c.get(name), str) or not c[name]:
            raise bad(name, "must be a non-empty string")
    for name in ("iat", "nbf", "exp"):
        if not isinstance(c.get(name), int) or isinstance(c[name], bool):
            raise bad(name, "must be an integer")
    if c.get("aal") not in ("aal1", "aal2"):
        raise bad("aal", "must be aal1 or aal2")
    if not strings(c.get("perms")) or not strings(c.get("amr")):
        raise bad("perms/amr", "must be arrays of strings")
    teams = c.get("teams")
    if not isinstance(teams, list) or not all(
        isinstance(t, dict) and isinstance(t.get("id"), str) and t["id"] and t.get("role") in TEAM_ROLES
        for t in teams
    ):
        raise bad("teams", "must be an array of {id, role: lead|member}")
    if "org" not in c and ("role" in c or "plan" in c):
        raise bad("role/plan", "require org")
    if "mfa_required" in c and (c["mfa_required"] is not True or "org" not in c):
        raise bad("mfa_required", "must be true, and only with org")
    if "role" in c and c["role"] not in ORG_ROLES:
        raise bad("role", "must be one of owner, admin, member")
    if "plan" in c and c["plan"] not in PLANS:
        raise bad("plan", "must be one of starter, pro, enterprise")
