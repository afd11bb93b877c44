"""Token authentication, session cookies and CSRF values for the console.

Each account holds a token (:mod:`pipeline.console.access`).  Scripts send it as
``Authorization: Bearer``; a browser exchanges it once (``?token=`` or the login
form) for a session cookie, so the token never sits in the browser's history or
in a cookie.  The cookie is ``<issued>.<nonce>.<mac>.<account>``, signed with a
key derived from that account's token: it needs no server-side store, expires
after a shift, and an account's sessions end when its token is rotated.  Form
posts carry a CSRF value derived from the session cookie (an HMAC under the same
key): a third-party page can neither read the cookie nor compute that value.
Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pipeline.console.access import AccessPolicy, Account

SESSION_COOKIE = "pulse_console"
SESSION_TTL = timedelta(hours=12)

Via = Literal["bearer", "cookie"]


@dataclass(frozen=True)
class Principal:
    """The account a request proved it acts for, and how it proved it."""

    account: Account
    via: Via


class ConsoleAuth:
    """Finds the account of a token, issues and verifies session cookies and CSRF values."""

    def __init__(self, policy: AccessPolicy, clock: Callable[[], datetime]) -> None:
        if not policy:
            raise ValueError("the console needs at least one account")
        self.policy = policy
        self._clock = clock

    def account_of(self, candidate: str | None) -> Account | None:
        """Compare digests, so neither the content nor the length of a token leaks."""
        return self.policy.by_token(candidate)

    def new_session(self, account: Account) -> str:
        issued = str(int(self._clock().timestamp()))
        nonce = secrets.token_urlsafe(16)
        return f"{issued}.{nonce}.{_mac(account, 'session', f'{issued}.{nonce}')}.{account.name}"

    def session_account(self, value: str | None) -> Account | None:
        """The account of a valid, unexpired session cookie, or None."""
        parts = (value or "").split(".", 3)
        if len(parts) != 4 or not parts[0].isdigit():
            return None
        issued, nonce, mac, name = parts
        account = self.policy.by_name(name)
        if account is None:
            return None
        if not hmac.compare_digest(mac, _mac(account, "session", f"{issued}.{nonce}")):
            return None
        age = self._clock().timestamp() - int(issued)
        return account if -60 <= age <= SESSION_TTL.total_seconds() else None

    def csrf_for(self, session: str) -> str:
        account = self.session_account(session)
        return _mac(account, "csrf", session) if account is not None else ""

    def check_csrf(self, session: str | None, candidate: str | None) -> bool:
        if not session or not candidate:
            return False
        expected = self.csrf_for(session)
        return bool(expected) and hmac.compare_digest(candidate, expected)

    def identify(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Principal | None:
        """Who the request acts for and how it proved it, or None when it did not."""
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            account = self.account_of(credentials.strip())
            if account is not None:
                return Principal(account, "bearer")
        account = self.session_account(cookies.get(SESSION_COOKIE))
        return Principal(account, "cookie") if account is not None else None


def _mac(account: Account, purpose: str, message: str) -> str:
    digest = hmac.new(account.key, f"{purpose}\0{message}".encode(), hashlib.sha256)
    return digest.hexdigest()
