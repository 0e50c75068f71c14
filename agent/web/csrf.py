"""CSRF tokens: every form that changes something carries the session's token.

Signed-in forms use the token kept with the session; the sign-in form (no session yet) uses a
double-submit token: a random value in a cookie of its own, repeated in the form.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

FIELD = "csrf"
SIGNIN_COOKIE = "zl_signin"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str | None, given: str | None) -> bool:
    """Whether the form's token is the expected one (compared in constant time)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def signin_token(request: Request) -> str | None:
    return request.cookies.get(SIGNIN_COOKIE)
