"""Token authentication, session cookies and CSRF values for the console.

One shared secret (``PULSE_CONSOLE_TOKEN``) guards everything.  Scripts send it
as ``Authorization: Bearer``; a browser exchanges it once (``?token=`` or the
login form) for a session cookie, so the token never sits in the browser's
history or in a cookie.  The cookie is ``<issued>.<nonce>.<mac>``, signed
with the token: it needs no server-side store, expires after a shift, and every
session dies when the token is rotated.  Form posts carry a CSRF value derived
from the session cookie (an HMAC under the token): a third-party page can
neither read the cookie nor compute that value.  Every comparison is
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Literal

SESSION_COOKIE = "pulse_console"
SESSION_TTL = timedelta(hours=12)

Via = Literal["bearer", "cookie"]


class ConsoleAuth:
    """Checks the token, issues and verifies session cookies and CSRF values."""

    def __init__(self, token: str, clock: Callable[[], datetime]) -> None:
        if not token:
            raise ValueError("the console token must not be empty")
        self._key = hashlib.sha256(b"pulse-console\0" + token.encode()).digest()
        self._token_digest = hashlib.sha256(token.encode()).digest()
        self._clock = clock

    def check_token(self, candidate: str | None) -> bool:
        """Compare digests, so neither the content nor the length of the token leaks."""
        if candidate is None:
            return False
        given = hashlib.sha256(candidate.encode()).digest()
        return hmac.compare_digest(given, self._token_digest)

    def new_session(self) -> str:
        issued = str(int(self._clock().timestamp()))
        nonce = secrets.token_urlsafe(16)
        return f"{issued}.{nonce}.{self._mac('session', f'{issued}.{nonce}')}"

    def valid_session(self, value: str | None) -> bool:
        parts = (value or "").split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            return False
        issued, nonce, mac = parts
        if not hmac.compare_digest(mac, self._mac("session", f"{issued}.{nonce}")):
            return False
        age = self._clock().timestamp() - int(issued)
        return -60 <= age <= SESSION_TTL.total_seconds()

    def csrf_for(self, session: str) -> str:
        return self._mac("csrf", session)

    def check_csrf(self, session: str | None, candidate: str | None) -> bool:
        if not session or not candidate:
            return False
        return hmac.compare_digest(candidate, self.csrf_for(session))

    def identify(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Via | None:
        """How the request proved it holds the token, or None when it did not."""
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.check_token(credentials.strip()):
            return "bearer"
        if self.valid_session(cookies.get(SESSION_COOKIE)):
            return "cookie"
        return None

    def _mac(self, purpose: str, message: str) -> str:
        digest = hmac.new(self._key, f"{purpose}\0{message}".encode(), hashlib.sha256)
        return digest.hexdigest()
