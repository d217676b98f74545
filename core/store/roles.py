"""Roles viewer < reviewer < approver < admin and the errors for refused access (no DB access here)."""
from __future__ import annotations

from typing import Any

from core.errors import ReviewError, UsageError
from core.store.models import ROLES

ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}


class AuthenticationError(ReviewError):
    """Login refused; the message never says whether the user exists."""


class PermissionDenied(ReviewError):
    """The user's role is below what the action needs."""

    def __init__(self, user: str, role: str, needed: str):
        self.user, self.role, self.needed = user, role, needed
        super().__init__(f"user '{user}' has role '{role}'; this needs role '{needed}' or higher")


def check_role_name(role: str) -> str:
    """The role itself, or UsageError naming the valid roles."""
    if role not in ROLE_RANK:
        raise UsageError(f"unknown role '{role}'; expected one of {', '.join(ROLES)}")
    return role


def has_role(user: Any, role: str) -> bool:
    """True when the (active) user's role is at least `role` in viewer < reviewer < approver < admin."""
    check_role_name(role)
    return bool(getattr(user, "active", True)) and ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def require_role(user: Any, role: str) -> None:
    """Raise PermissionDenied unless the user's role is at least `role` (inactive users have no role)."""
    if not has_role(user, role):
        shown = user.role if getattr(user, "active", True) else f"{user.role} (inactive)"
        raise PermissionDenied(user.name, shown, role)
