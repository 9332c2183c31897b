#!/usr/bin/env python3
"""Verify a Gatehouse access token without Node: PyJWT (Debian: python3-jwt).

    python3 docs/examples/verify_token.py <metadata-url> <audience> <jwt>

<metadata-url> is the auth-service's /.well-known/oauth-authorization-server. The
issuer and the JWKS come from it, never typed in by hand; the token must be signed
by a key in that JWKS, carry `typ: at+jwt`, the issuer, the audience, and be
unexpired. Prints the claims as JSON; exits 1 with the reason when it is refused.
"""
import json
import sys
import urllib.request

import jwt


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    metadata_url, audience, token = sys.argv[1:]
    with urllib.request.urlopen(metadata_url, timeout=5) as r:
        meta = json.load(r)
    # The JWKS client caches keys and fetches again for a kid it does not know
    # (after a key rotation).
    jwks = jwt.PyJWKClient(meta["jwks_uri"], cache_keys=True)
    try:
        header = jwt.get_unverified_header(token)
        # typ first: an ID token or another JWT signed by the same keys is not an access token.
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            raise jwt.InvalidTokenError(f"typ is {header.get('typ')!r}, not at+jwt")
        key = jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=meta["access_token_signing_alg_values_supported"],
            issuer=meta["issuer"],
            audience=audience,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=30,
        )
    except jwt.PyJWTError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    print(json.dumps(claims, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
