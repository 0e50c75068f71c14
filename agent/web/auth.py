"""Sign-in: argon2 password hashes, server-side sessions behind a signed cookie, a sign-in limit.

A session is a random id; the cookie carries it signed, the store keeps only its SHA-256 with
the employee's login and the session's CSRF token. Signing out deletes the row, so a copy of
the cookie taken before no longer opens anything; setting a new password ends every session
of that login.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from loguru import logger

from agent.errors import NotFoundError, UsageError
from agent.ports.times import now_iso, stored_time

SESSION_COOKIE = "zl_session"
SESSION_HOURS = 12
MIN_PASSWORD_LENGTH = 8
_SECRET_KEY = "web_cookie_secret"

Clock = Callable[[], float]


def password_hasher() -> PasswordHasher:
    """The hasher of new passwords (argon2id with the library's recommended costs)."""
    return PasswordHasher()


def set_password(app, login: str, password: str, *, by: str, hasher: PasswordHasher | None = None) -> str:
    """Set the web console password of an employee; ends their sessions. Returns the login.
    ``by`` is who set it, as the audit log records it (never assumed to be the employee)."""
    employee = app.state.get_employee(login)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"a web console password needs at least {MIN_PASSWORD_LENGTH} characters")
    digest = (hasher or password_hasher()).hash(password)
    with app.state.transaction():
        app.state.set_web_password(employee["login"], digest)
        app.state.audit(by, "set_web_password", f"web console password of {employee['login']}")
    return employee["login"]


def verify_password(app, login: str, password: str, hasher: PasswordHasher) -> dict | None:
    """The employee when ``password`` is theirs; ``None`` otherwise (unknown login included)."""
    digest = app.state.web_password(login) if login else None
    try:
        employee = app.state.get_employee(login) if digest else None
    except NotFoundError:
        employee = None
    if digest is None or employee is None:
        # Spend the time a real check takes, so the answer's delay does not tell which logins exist.
        _burn(hasher, password)
        return None
    try:
        hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return None
    return employee


def _burn(hasher: PasswordHasher, password: str) -> None:
    try:
        hasher.verify(hasher.hash("not a password"), password)
    except VerificationError:
        pass


@dataclass(frozen=True)
class Session:
    login: str
    csrf_token: str


class Sessions:
    """Signed-in sessions, kept in the state store."""

    def __init__(self, app, *, hours: float = SESSION_HOURS) -> None:
        self.app = app
        self.seconds = int(hours * 3600)
        self._signer = URLSafeTimedSerializer(_secret(app), salt="zenithlink-session")

    def start(self, login: str) -> tuple[str, Session]:
        """A new session for ``login``: the cookie value and the session."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = stored_time(datetime.now(timezone.utc) + timedelta(seconds=self.seconds))
        state = self.app.state
        with state.transaction():
            state.prune_web_sessions(now_iso())
            state.add_web_session(_digest(session_id), login, csrf, expires)
        return self._signer.dumps(session_id), Session(login, csrf)

    def find(self, cookie: str | None) -> Session | None:
        """The live session the cookie names, or ``None`` (none, forged, expired or signed out)."""
        session_id = self._session_id(cookie)
        if session_id is None:
            return None
        row = self.app.state.web_session(_digest(session_id))
        if row is None or row["expires_at"] <= now_iso():
            return None
        return Session(row["login"], row["csrf_token"])

    def end(self, cookie: str | None) -> None:
        session_id = self._session_id(cookie)
        if session_id is not None:
            self.app.state.end_web_session(_digest(session_id))

    def _session_id(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return str(self._signer.loads(cookie, max_age=self.seconds))
        except BadSignature:
            return None


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _secret(app) -> str:
    state = app.state
    with state.transaction():
        secret = state.get_state(_SECRET_KEY)
        if not secret:
            secret = secrets.token_urlsafe(48)
            state.set_state(_SECRET_KEY, secret)
    return secret


class SignInLimiter:
    """Slows down password guessing, per login and per client address, without letting one
    person's wrong passwords lock out another.

    Per login: two wrong passwords in a row are free; from the third on, that login's password is
    not checked until a wait has passed, which doubles with each failure (30 s, 60 s, … at most
    15 minutes). A right password clears the login's count.

    Per address: wrong passwords of every login from one address are counted too, with a larger
    allowance (``address_free``), because many people may share one address (an office behind
    NAT, or a TLS proxy on this machine through which every request comes from loopback). Past
    it, the address's wait applies only to logins that have a wrong password of their own in
    their current count: someone guessing many logins from one address gets one try per login,
    while a person who has not typed a wrong password is always checked.

    ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(self, clock: Clock = time.monotonic, *, free: int = 2, address_free: int = 10,
                 base_seconds: float = 30.0, cap_seconds: float = 900.0) -> None:
        self.clock = clock
        self.free, self.address_free, self.base, self.cap = free, address_free, base_seconds, cap_seconds
        self._failures: dict[str, tuple[int, float]] = {}

    def wait_seconds(self, login: str, address: str) -> float:
        """How long a sign-in as ``login`` from ``address`` must wait (0: its password is checked now)."""
        now = self.clock()
        login_key = _login_key(login)
        wait = self._until(login_key, self.free) - now
        if self._count(login_key, now):
            wait = max(wait, self._until(_address_key(address), self.address_free) - now)
        return max(wait, 0.0)

    def failed(self, login: str, address: str) -> None:
        now = self.clock()
        for key in (_login_key(login), _address_key(address)):
            self._failures[key] = (self._count(key, now) + 1, now)
        if len(self._failures) > 10_000:  # bound the memory an attacker can make us use
            oldest = sorted(self._failures.items(), key=lambda item: item[1][1])[:5_000]
            for key, _ in oldest:
                del self._failures[key]
            logger.warning("web console: many failed sign-ins; the oldest records were dropped")

    def succeeded(self, login: str) -> None:
        self._failures.pop(_login_key(login), None)

    def _count(self, key: str, now: float) -> int:
        count, last = self._failures.get(key, (0, now))
        return 0 if now - last > self.cap * 2 else count  # an old streak is forgotten

    def _until(self, key: str, free: int) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count <= free:
            return 0.0
        return last + min(self.cap, self.base * 2 ** (count - free - 1))


def _login_key(login: str) -> str:
    return f"login:{login.casefold()}"


def _address_key(address: str) -> str:
    return f"address:{address}"
