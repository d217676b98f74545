"""Store errors: a missing entity and an action the entity's state forbids."""
from __future__ import annotations

from core.errors import UsageError


class NotFoundError(UsageError):
    """No entity with that id (or name)."""

    def __init__(self, entity: str, key: object):
        self.entity, self.key = entity, key
        super().__init__(f"{entity} {key!r} not found")


class StateError(UsageError):
    """The entity's current state does not allow this action (for example editing a submitted review)."""
