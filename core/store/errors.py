"""Store errors: a missing entity and an action the entity's state forbids."""
from __future__ import annotations

from core.errors import ReviewError, UsageError


class NotFoundError(UsageError):
    """No entity with that id (or name)."""

    def __init__(self, entity: str, key: object):
        self.entity, self.key = entity, key
        super().__init__(f"{entity} {key!r} not found")


class StateError(UsageError):
    """The entity's current state does not allow this action (for example editing a submitted review)."""


class StoreError(ReviewError):
    """The store cannot be used: missing file, locked, full, unreachable, refused login, or no signing key."""


def store_error_message(exc: BaseException, url: object = None) -> str:
    """One line naming the store (password hidden) and the driver's first line of complaint, never a secret."""
    from sqlalchemy.engine import make_url

    where = ""
    if url is not None:
        try:
            parsed = make_url(str(url)) if not hasattr(url, "render_as_string") else url
            where = f" {parsed.render_as_string(hide_password=True)}"
        except Exception:  # noqa: BLE001 - a malformed URL is shown without its credentials below
            where = ""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    if url is not None and hasattr(url, "password") and url.password:
        text = text.replace(str(url.password), "***")
    return f"store{where}: {text}"
