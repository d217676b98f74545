"""Local accounts: argon2 salted password hashes, roles viewer < reviewer < approver < admin, OIDC mapping,
sign-in throttling (growing delay and lockout per account and per client, every attempt an audit event) and the
first administrator (from the CLI, or with a one-time setup token printed by the server)."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InputError, PolicyError
from core.store.audit import append_event, lock_chain, sha256_text
from core.store.models import ROLES, AuditEvent, User
from core.store.users import get_user, set_user_role
from core.store.roles import (
    ROLE_RANK,
    AuthenticationError,
    PermissionDenied,
    check_role_name,
    has_role,
    require_role,
)

__all__ = ["ROLES", "ROLE_RANK", "AuthenticationError", "PermissionDenied", "create_user", "authenticate",
           "require_role", "has_role", "set_role", "set_password", "user_from_oidc_claims", "configure_hasher",
           "get_user", "ThrottlePolicy", "SignInResult", "sign_in", "unlock", "throttle_state", "user_count",
           "new_setup_token", "setup_token_sha256", "create_first_admin"]

LOGIN_REFUSED = "unknown user or wrong password"
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
_dummy_hash = _hasher.hash("not a real password, only here to spend the same time")


def configure_hasher(time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> None:
    """Set argon2 cost parameters (argon2-cffi defaults; tests lower them to stay fast)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _dummy_hash = _hasher.hash("not a real password, only here to spend the same time")


def _hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def create_user(
    session: Session,
    name: str,
    password: Optional[str],
    role: str = "viewer",
    *,
    email: Optional[str] = None,
    actor: str = "system",
) -> User:
    """Create a local account (password None = OIDC-only); the hash is argon2id with its own random salt."""
    lock_chain(session)
    check_role_name(role)
    if not name or not name.strip():
        raise InputError("user name must not be empty")
    if session.execute(select(User.id).where(User.name == name)).first():
        raise InputError(f"user '{name}' already exists")
    email = email.strip().lower() if email else None
    if email and session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        raise InputError(f"email '{email}' is already used")
    password_hash = _hash_password(password) if password is not None else None
    user = User(name=name, email=email, role=role, active=True, password_hash=password_hash)
    session.add(user)
    session.flush()
    append_event(session, actor=actor, action="user.create", entity="user", entity_id=user.id,
                 payload={"name": name, "role": role, "email": email, "local_password": password is not None,
                          "credential_sha256": sha256_text(password_hash) if password_hash else None})
    return user


def set_role(session: Session, name: str, role: str, *, actor: str) -> User:
    """Change a user's role; the actor must be an admin (the store writes the signed event, then the row)."""
    return set_user_role(session, name, role, actor=actor)


def set_password(session: Session, name: str, password: str, *, actor: str) -> User:
    """Set a user's password (the user themself or an admin); the signed event comes first, then the row."""
    lock_chain(session)
    if actor != name:
        require_role(get_user(session, actor), "admin")
    user = get_user(session, name)
    new_hash = _hash_password(password)
    # The users trigger lets a password_hash UPDATE through only right after this user's user.set_password event.
    append_event(session, actor=actor, action="user.set_password", entity="user", entity_id=user.id,
                 payload={"name": name, "credential_sha256": sha256_text(new_hash)})
    user.password_hash = new_hash
    session.flush()
    return user


def authenticate(session: Session, name: str, password: str) -> User:
    """The active user whose argon2 hash matches; AuthenticationError (same message, same work) otherwise."""
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash
    try:
        ok = _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or not user.password_hash or not user.active:
        raise AuthenticationError(LOGIN_REFUSED)
    return user


def user_from_oidc_claims(session: Session, claims: Mapping[str, Any]) -> User:
    """The existing active user whose email matches the OIDC claims' (verified) email; AuthenticationError otherwise.

    Nobody is created here: an admin must first create the account (create_user with email=...) and give its role.
    """
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise AuthenticationError("the identity provider gave no email address")
    if claims.get("email_verified") is False:
        raise AuthenticationError(f"email {email} is not verified by the identity provider")
    user = session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None or not user.active:
        raise AuthenticationError(f"no active account for {email}; ask an admin to create one")
    return user


# ----------------------------------------------------------------------------------------------- throttling

SIGN_IN_ENTITY = "sign_in"  # audit entity of sign-in attempts; entity_id is the account name tried


@dataclass(frozen=True)
class ThrottlePolicy:
    """The policy's [auth] section: delay doubling from base_delay_seconds after each failure (capped), lockout
    after max_failed_attempts failures in a row (per account) or client_max_failed_attempts (per client)."""

    max_failed_attempts: int = 5
    client_max_failed_attempts: int = 20
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    lockout_minutes: float = 30.0
    window_minutes: float = 24 * 60.0

    @classmethod
    def from_policy(cls, policy: Any = None) -> "ThrottlePolicy":
        """From a Policy's [auth] section (None: the defaults); unknown keys or bad values are a PolicyError."""
        section = dict(getattr(policy, "sections", {}).get("auth", {})) if policy is not None else {}
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(section) - set(known)
        if unknown:
            raise PolicyError(f"[auth] has unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
        for key, value in section.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < (1 if "attempts" in key else 0):
                raise PolicyError(f"[auth] {key} must be a number >= {1 if 'attempts' in key else 0}, not {value!r}")
            if "attempts" in key and not isinstance(value, int):
                raise PolicyError(f"[auth] {key} must be a whole number, not {value!r}")
        return cls(**section)

    def delay(self, failures: int) -> float:
        """Seconds a new attempt must wait after `failures` failures in a row (0 before the first)."""
        if failures <= 0:
            return 0.0
        return float(min(self.base_delay_seconds * 2 ** min(failures - 1, 40), self.max_delay_seconds))


@dataclass(frozen=True)
class ThrottleState:
    """Failures in a row for the account and for the client, and until when a new attempt is refused."""

    account_failures: int
    client_failures: int
    locked: bool
    retry_at: Optional[datetime]
    reason: str = ""


@dataclass(frozen=True)
class SignInResult:
    """The outcome of one sign-in attempt: the user, or why not and how long to wait."""

    user: Optional[User]
    message: str
    retry_after_seconds: float = 0.0
    locked: bool = False

    @property
    def ok(self) -> bool:
        """True when the attempt signed the user in."""
        return self.user is not None


def _parse_at(at: str) -> datetime:
    return datetime.fromisoformat(at)


def _recent_attempts(session: Session, now: datetime, throttle: ThrottlePolicy) -> list[AuditEvent]:
    cutoff = (now - timedelta(minutes=throttle.window_minutes)).isoformat(timespec="microseconds")
    return list(session.execute(select(AuditEvent).where(AuditEvent.entity == SIGN_IN_ENTITY,
                                                         AuditEvent.at >= cutoff)
                                .order_by(AuditEvent.id)).scalars())


def _failures_in_a_row(events: list[AuditEvent], keep) -> tuple[int, Optional[datetime]]:
    """Failures since the last success or unlock among the events `keep` selects, and the last failure's time."""
    count, last = 0, None
    for event in events:
        if not keep(event):
            continue
        if event.action == "auth.failed":
            count, last = count + 1, _parse_at(event.at)
        elif event.action in ("auth.sign_in", "auth.unlock"):
            count, last = 0, None
    return count, last


def throttle_state(session: Session, name: str, client: str, throttle: ThrottlePolicy,
                   now: Optional[datetime] = None) -> ThrottleState:
    """Whether account `name` may try to sign in from `client` now, from the sign-in audit events."""
    now = now or datetime.now(timezone.utc)
    events = _recent_attempts(session, now, throttle)
    payload = {e.id: json.loads(e.payload_json or "{}") for e in events}
    account, account_last = _failures_in_a_row(events, lambda e: e.entity_id == name)
    # A client's row of failures ends with its own successful sign-in (an unlock is per account).
    client_events = [e for e in events if payload[e.id].get("client") == client and e.action != "auth.unlock"]
    by_client, client_last = _failures_in_a_row(client_events, lambda e: True)
    lock = timedelta(minutes=throttle.lockout_minutes)
    if account >= throttle.max_failed_attempts and now < account_last + lock:
        return ThrottleState(account, by_client, True, account_last + lock,
                             f"account '{name}' is locked after {account} failed sign-ins in a row; "
                             f"try again after {(account_last + lock):%H:%M} UTC or ask an administrator to unlock it")
    if by_client >= throttle.client_max_failed_attempts and now < client_last + lock:
        return ThrottleState(account, by_client, True, client_last + lock,
                             f"too many failed sign-ins from this client ({by_client} in a row); "
                             f"try again after {(client_last + lock):%H:%M} UTC")
    waits = [last + timedelta(seconds=throttle.delay(n)) for n, last in
             ((account, account_last), (by_client, client_last)) if last is not None]
    retry_at = max(waits) if waits else None
    if retry_at is not None and now < retry_at:
        return ThrottleState(account, by_client, False, retry_at,
                             f"too soon after {max(account, by_client)} failed sign-in(s); wait "
                             f"{(retry_at - now).total_seconds():.0f} s and try again")
    return ThrottleState(account, by_client, False, None)


def sign_in(session: Session, name: str, password: str, *, client: str = "unknown", policy: Any = None,
            now: Optional[datetime] = None) -> SignInResult:
    """One sign-in attempt, throttled and audited: every attempt (refused, failed or good) is an audit event.

    Returns instead of raising so the caller's transaction commits the failure's audit event."""
    lock_chain(session)
    throttle = ThrottlePolicy.from_policy(policy)
    now = now or datetime.now(timezone.utc)
    name = (name or "").strip()
    client = str(client or "unknown")[:200]
    state = throttle_state(session, name, client, throttle, now)
    if state.retry_at is not None:
        append_event(session, actor=name or "(empty)", action="auth.throttled", entity=SIGN_IN_ENTITY,
                     entity_id=name, payload={"client": client, "locked": state.locked, "reason": state.reason})
        return SignInResult(None, state.reason, max((state.retry_at - now).total_seconds(), 0.0), state.locked)
    try:
        user = authenticate(session, name, password)
    except AuthenticationError:
        account, by_client = state.account_failures + 1, state.client_failures + 1
        locked = account >= throttle.max_failed_attempts or by_client >= throttle.client_max_failed_attempts
        append_event(session, actor=name or "(empty)", action="auth.failed", entity=SIGN_IN_ENTITY, entity_id=name,
                     payload={"client": client, "failures_in_a_row": account, "client_failures_in_a_row": by_client,
                              "locked": locked})
        wait = throttle.lockout_minutes * 60 if locked else throttle.delay(max(account, by_client))
        message = LOGIN_REFUSED + (f"; account locked for {throttle.lockout_minutes:g} min after {account} failures"
                                   if locked else f"; next attempt possible in {wait:.0f} s")
        return SignInResult(None, message, wait, locked)
    append_event(session, actor=name, action="auth.sign_in", entity=SIGN_IN_ENTITY, entity_id=name,
                 payload={"client": client})
    return SignInResult(user, f"signed in as {name}")


def unlock(session: Session, name: str, *, actor: str) -> None:
    """An admin clears an account's failed sign-ins (it can try again at once)."""
    lock_chain(session)
    require_role(get_user(session, actor), "admin")
    get_user(session, name)
    append_event(session, actor=actor, action="auth.unlock", entity=SIGN_IN_ENTITY, entity_id=name,
                 payload={"name": name})


# ----------------------------------------------------------------------------------------------- first admin


def user_count(session: Session) -> int:
    """Accounts in the store."""
    return int(session.execute(select(func.count()).select_from(User)).scalar_one())


def new_setup_token() -> str:
    """A fresh one-time setup token (the server prints it; whoever holds it may create the first admin)."""
    return secrets.token_urlsafe(24)


def setup_token_sha256(token: str) -> str:
    """Hex sha256 of a setup token (the server keeps only this)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_first_admin(session: Session, name: str, password: str, *, token: str, token_sha256: str,
                       email: Optional[str] = None) -> User:
    """Create the first admin on an empty store, only with the setup token the server printed at start."""
    lock_chain(session)
    if user_count(session) > 0:
        raise AuthenticationError("the store already has accounts; sign in, or ask an administrator")
    if not token_sha256 or not hmac.compare_digest(setup_token_sha256((token or "").strip()), token_sha256):
        raise AuthenticationError("wrong setup token: use the one printed in the server's log at start")
    return create_user(session, (name or "").strip(), password, "admin", email=email, actor="setup token")
