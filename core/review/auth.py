"""Local accounts: argon2 salted password hashes, roles viewer < reviewer < approver < admin, OIDC mapping."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InputError
from core.store.audit import append_event, lock_chain, sha256_text
from core.store.models import ROLES, User
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
           "get_user"]

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
