"""Who may see and act on which incidents: console accounts, roles and community groups.

Two roles.  An **administrator** sees and acts on every community.  A
**moderator** sees the incidents that involve one of their assigned communities
and acts on those that started in one (the incident is owned by its origin
community: a crisis that spread into a group is shown to that group's moderators,
but closed by the origin's).

Accounts come from a TOML file (``PULSE_CONSOLE_ACCESS_FILE``) that holds no secret:
each account names the environment variable its token is in, so tokens live where
the deployment keeps secrets and the file can sit in version control::

    [groups]                       # names for sets of communities
    beauty = ["wx-beauty-*", "qq-fans"]      # exact ids or shell-style patterns

    [accounts.li-lei]
    groups = ["beauty"]            # and/or communities = ["wecom-vip"]
    token_env = "PULSE_CONSOLE_TOKEN_LI_LEI"

    [accounts.ops-lead]
    role = "admin"
    token_env = "PULSE_CONSOLE_TOKEN_OPS_LEAD"

``PULSE_CONSOLE_TOKEN``, the console's original single token, stays valid as the
shared administrator account ``admin``: several people may hold it, so it is the
only account whose actions name their moderator in a "who" field.  Every other
account acts under its own name.  A bad file stops the worker with a message that
names the file and the problem.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from schemas.alerts import Alert

Role = Literal["admin", "moderator"]
ROLES: tuple[Role, ...] = ("admin", "moderator")
SHARED_ADMIN = "admin"
"""The account of ``PULSE_CONSOLE_TOKEN``."""
MIN_TOKEN_LENGTH = 16
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
"""Printable, no spaces or separators: names appear in cookies, logs and incident records."""


class AccessError(ValueError):
    """The access file (or the environment it names) is not usable; says which and why."""


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Account:
    """One console identity: its role, the communities it covers and its token's digest."""

    name: str
    role: Role
    communities: tuple[str, ...] = ()
    """Community ids or shell-style patterns; ignored for administrators (they cover all)."""
    shared: bool = False
    """Held by several people, who name themselves when they act (``PULSE_CONSOLE_TOKEN``)."""
    digest: bytes = field(default=b"", repr=False)
    key: bytes = field(default=b"", repr=False)
    """Signs this account's session cookies: a new token ends the account's sessions."""

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    def covers(self, community_id: str) -> bool:
        return self.admin or any(fnmatchcase(community_id, p) for p in self.communities)

    def sees(self, alert: Alert) -> bool:
        """Any involved community is assigned (spread included): the moderator must know."""
        return self.admin or any(self.covers(c) for c in alert.community_ids or
                                 [alert.community_id])

    def may_act(self, alert: Alert) -> bool:
        """The incident's origin community is assigned: it owns the incident."""
        return self.covers(alert.community_id)

    def describe(self) -> dict[str, object]:
        """What ``GET /api/me`` and ``pulse alerts whoami`` show: never the token."""
        return {"account": self.name, "role": self.role, "shared": self.shared,
                "communities": ["*"] if self.admin else list(self.communities)}


def make_account(name: str, role: Role, token: str, communities: Iterable[str] = (),
                 shared: bool = False) -> Account:
    """An account with its token's digest and session key (the token itself is not kept)."""
    return Account(name=name, role=role, communities=tuple(communities), shared=shared,
                   digest=token_digest(token),
                   key=hashlib.sha256(b"pulse-console\0" + token.encode()).digest())


@dataclass(frozen=True)
class AccessPolicy:
    """Every account; looks tokens up in constant time over all of them."""

    accounts: tuple[Account, ...]

    def __post_init__(self) -> None:
        names = [a.name for a in self.accounts]
        if len(set(names)) != len(names):
            raise AccessError(f"account names must be unique: {sorted(names)}")
        holders: dict[bytes, str] = {}
        for account in self.accounts:
            if account.digest in holders:
                raise AccessError(f"accounts {holders[account.digest]!r} and {account.name!r} "
                                  "have the same token: each needs its own")
            holders[account.digest] = account.name

    def __bool__(self) -> bool:
        return bool(self.accounts)

    def by_token(self, candidate: str | None) -> Account | None:
        """The account holding ``candidate``; every digest is compared, found or not."""
        if candidate is None:
            return None
        given = token_digest(candidate)
        found = None
        for account in self.accounts:
            if hmac.compare_digest(given, account.digest):
                found = account
        return found

    def by_name(self, name: str) -> Account | None:
        return next((a for a in self.accounts if a.name == name), None)


def shared_admin(token: str) -> Account:
    return make_account(SHARED_ADMIN, "admin", token, shared=True)


def load_access(path: Path | None, admin_token: str | None,
                environ: Mapping[str, str]) -> AccessPolicy:
    """The accounts of the access file plus the shared administrator token, if set."""
    accounts = [shared_admin(admin_token)] if admin_token else []
    if path is None:
        return AccessPolicy(tuple(accounts))
    accounts.extend(_file_accounts(path, environ))
    try:
        return AccessPolicy(tuple(accounts))
    except AccessError as error:
        raise AccessError(f"console access file {path}: {error}") from error


def _file_accounts(path: Path, environ: Mapping[str, str]) -> list[Account]:
    def fail(problem: str) -> AccessError:
        return AccessError(f"console access file {path}: {problem}")

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise fail(str(error)) from error
    unknown = set(data) - {"groups", "accounts"}
    if unknown:
        raise fail(f"unknown section(s) {sorted(unknown)}; expected [groups] and [accounts.NAME]")
    groups = _groups(data.get("groups", {}), fail)
    raw_accounts = data.get("accounts", {})
    if not isinstance(raw_accounts, dict) or not raw_accounts:
        raise fail("no [accounts.NAME] table")
    return [_account(name, entry, groups, environ, fail)
            for name, entry in raw_accounts.items()]


def _strings(value: object) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return [v.strip() for v in value]
    return None


def _groups(raw: object, fail) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        raise fail("[groups] must map group names to lists of community ids")
    groups: dict[str, list[str]] = {}
    for name, members in raw.items():
        patterns = _strings(members)
        if not patterns:
            raise fail(f"group {name!r} must be a non-empty list of community ids or patterns")
        groups[name] = patterns
    return groups


def _account(name: str, entry: object, groups: Mapping[str, list[str]],
             environ: Mapping[str, str], fail) -> Account:
    if not ACCOUNT_NAME.fullmatch(name) or name == SHARED_ADMIN:
        raise fail(f"account name {name!r}: letters, digits and . _ @ - (at most 64), "
                   f"not {SHARED_ADMIN!r} (the PULSE_CONSOLE_TOKEN account)")
    if not isinstance(entry, dict):
        raise fail(f"account {name!r} must be a table")
    unknown = set(entry) - {"role", "groups", "communities", "token_env"}
    if unknown:
        raise fail(f"account {name!r}: unknown key(s) {sorted(unknown)}")
    role = entry.get("role", "moderator")
    if role not in ROLES:
        raise fail(f"account {name!r}: role {role!r} is not one of {list(ROLES)}")
    communities: list[str] = []
    for group in _strings(entry.get("groups", [])) or []:
        if group not in groups:
            raise fail(f"account {name!r}: no group {group!r} in [groups]")
        communities.extend(groups[group])
    direct = entry.get("communities", [])
    if direct and _strings(direct) is None:
        raise fail(f"account {name!r}: communities must be a list of ids or patterns")
    communities.extend(_strings(direct) or [])
    if role == "moderator" and not communities:
        raise fail(f"account {name!r}: a moderator needs groups or communities")
    variable = entry.get("token_env")
    if not isinstance(variable, str) or not variable:
        raise fail(f"account {name!r}: token_env must name the environment variable "
                   f"holding its token")
    token = environ.get(variable, "")
    if len(token) < MIN_TOKEN_LENGTH:
        state = "is not set" if not token else f"is shorter than {MIN_TOKEN_LENGTH} characters"
        raise fail(f"account {name!r}: its token variable {variable} {state}")
    return make_account(name, role, token, dict.fromkeys(communities))
