"""The optional API token: ``Authorization: Bearer TOKEN`` on every request, or a login cookie.

Pages can't send a header, so ``/login`` takes the token in a form and sets a cookie holding an
HMAC of it (never the token itself); the cookie is HttpOnly and SameSite=Strict, so another site
cannot make the browser use it.  Every endpoint accepts either the header or the cookie.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import HTTPConnection

COOKIE = "pcapflow_session"
OPEN_PATHS = frozenset({"/login"})


class TokenGuard:
    """Decides whether a request carries the token (always true when no token is set)."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.session = (
            hmac.new(token.encode(), b"pcapflow web session", hashlib.sha256).hexdigest()
            if token
            else ""
        )

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    def allows(self, conn: HTTPConnection) -> bool:
        if not self.token or conn.url.path in OPEN_PATHS:
            return True
        scheme, _, credentials = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.check_token(credentials.strip()):
            return True
        cookie = conn.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session.encode())

    def check_token(self, candidate: str) -> bool:
        return bool(self.token) and hmac.compare_digest(
            candidate.encode(), (self.token or "").encode()
        )
