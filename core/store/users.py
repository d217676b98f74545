"""Users aggregate: lookups, the acting user's role check, and the one audited way to change a role."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.store.audit import append_event, lock_chain
from core.store.common import iso
from core.store.models import User
from core.store.errors import NotFoundError
from core.store.roles import check_role_name, require_role

ROLE_EVENT = "user.set_role"


def get_user(session: Session, name: str) -> User:
    """The user with that name, or NotFoundError."""
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFoundError("user", name)
    return user


def acting_user(session: Session, name: str, role: str) -> User:
    """The user acting, or PermissionDenied when their role is below `role`."""
    user = get_user(session, name)
    require_role(user, role)
    return user


def set_user_role(session: Session, name: str, role: str, *, actor: str) -> User:
    """Change a user's role (actor must be an admin): the signed event is written first, then the row.

    The users trigger (migration 0002) lets a role UPDATE through only when the chain's last event is this
    user's `user.set_role` naming the new role, so no raw UPDATE changes a role without an event."""
    lock_chain(session)
    require_role(get_user(session, actor), "admin")
    user = get_user(session, name)
    old, new = user.role, check_role_name(role)
    append_event(session, actor=actor, action=ROLE_EVENT, entity="user", entity_id=user.id,
                 payload={"name": name, "from": old, "to": new})
    if old == new:
        return user
    session.execute(update(User).where(User.id == user.id).values(role=new).execution_options(
        synchronize_session=False))
    session.refresh(user)
    return user


def user_record(user: User) -> dict[str, Any]:
    """A user as plain JSON (never the password hash)."""
    return {"id": user.id, "name": user.name, "email": user.email, "role": user.role, "active": user.active,
            "created_at": iso(user.created_at)}
