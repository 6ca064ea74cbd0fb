"""Users, roles and passwords from config/users.yaml."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException

from hotline.lifecycle import dispatched_to, readable_by

ROLES = ("dispatcher", "unit", "supervisor", "callback", "monitor", "admin")
PERMISSIONS = ("see_personal_data", "intake", "dispatch", "handle", "supervise", "callback", "monitor")
_ITERATIONS = 200_000


class UsersConfigError(ValueError):
    """users.yaml is inconsistent; `where` is the path to the entry at fault (for its line number)."""

    def __init__(self, message: str, where: tuple = ()):
        super().__init__(message)
        self.where = where


def hash_password(password: str, salt: str | None = None, iterations: int = _ITERATIONS) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("ascii"), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, _ = stored.split("$", 3)
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    return hmac.compare_digest(hash_password(password, salt, int(iterations)), stored)


@dataclass(frozen=True)
class Role:
    name: str
    see_personal_data: bool = False
    intake: bool = False
    dispatch: bool = False
    handle: bool = False
    supervise: bool = False
    callback: bool = False
    monitor: bool = False


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    display_name: str
    unit: str | None = None  # a unit's user: see `sees` and `acts_on`

    def sees(self, ticket: dict) -> bool:
        """Whether this user may read the ticket: any, or for a unit's user one dispatched to the unit now or
        one its figures still count against it (hotline.lifecycle.readable_by)."""
        return self.unit is None or readable_by(ticket, self.unit)

    def acts_on(self, ticket: dict) -> bool:
        """Whether the ticket is this user's to act on (as far as the role allows): any, or for a unit's user
        one dispatched to the unit now, as lead or co-unit (hotline.lifecycle.dispatched_to)."""
        return self.unit is None or dispatched_to(ticket, self.unit)

    def sees_personal_data_of(self, ticket: dict) -> bool:
        """Whether this user may see the citizen's personal data in this ticket: a role allowed to, and for a
        unit's user only while the ticket is with the unit (not one it returned or has left)."""
        return self.role.see_personal_data and self.acts_on(ticket)


def centre_only(user: User, what: str) -> None:
    """Refuse a unit's user (403) what the hotline centre keeps over every ticket; `what` names it."""
    if user.unit is not None:
        raise HTTPException(403, f"{what} the hotline centre's, not a unit's: a unit's users see their unit's tickets")


class Users:
    def __init__(self, roles: dict[str, Role], users: dict[str, tuple[User, str]]):
        self.roles = roles
        self._users = users

    @classmethod
    def from_config(cls, data: dict, units: set[str] | None = None) -> "Users":
        """units: the unit ids a user's `unit` may name (None: not checked)."""
        roles = {}
        for name, spec in (data.get("roles") or {}).items():
            if name not in ROLES:
                raise UsersConfigError(f"unknown role {name!r} (roles are {', '.join(ROLES)})", ("roles", name))
            spec = spec or {}
            unknown = set(spec) - set(PERMISSIONS)
            if unknown:
                raise UsersConfigError(f"role {name!r}: unknown permission(s) {', '.join(sorted(unknown))} "
                                       f"(permissions are {', '.join(PERMISSIONS)})", ("roles", name))
            roles[name] = Role(name, **{p: bool(spec.get(p, False)) for p in PERMISSIONS})
        users = {}
        for i, entry in enumerate(data.get("users") or []):
            where = ("users", i)
            try:
                username, role, password = entry["username"], entry["role"], entry["password"]
            except (KeyError, TypeError):
                raise UsersConfigError("each user needs username, role and password (a hash)", where) from None
            if role not in roles:
                raise UsersConfigError(f"user {username!r} has undefined role {role!r}", where)
            if not str(password).startswith("pbkdf2_sha256$"):
                raise UsersConfigError(f"user {username!r}: password must be a hash from `hotline hash-password`", where)
            unit = entry.get("unit")
            if role == "unit" and not unit:
                raise UsersConfigError(f"user {username!r} has role unit: name its unit (`unit:`, "
                                       "a unit id from config/routing.yaml)", where)
            if unit is not None and (units is not None and unit not in units):
                raise UsersConfigError(f"user {username!r}: unknown unit {unit!r} (not in config/routing.yaml)", where)
            users[username] = (User(username, roles[role], entry.get("name", username), unit), password)
        return cls(roles, users)

    def authenticate(self, username: str, password: str) -> User | None:
        found = self._users.get(username)
        if found and check_password(password, found[1]):
            return found[0]
        return None

    def get(self, username: str) -> User | None:
        found = self._users.get(username)
        return found[0] if found else None


def session_secret(home: Path, environ: dict) -> str:
    """HOTLINE_SECRET, or a random key kept in HOTLINE_HOME (made on first use)."""
    if environ.get("HOTLINE_SECRET"):
        return environ["HOTLINE_SECRET"]
    path = home / "secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="ascii")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()
