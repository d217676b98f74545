"""Checks and lookups every aggregate module of the store shares (no writes here)."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.errors import InputError
from core.store.errors import NotFoundError

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def get_row(session: Session, model: type, key: int, label: str) -> Any:
    """The row of `model` with primary key `key`, or NotFoundError naming it by `label`."""
    obj = session.get(model, key)
    if obj is None:
        raise NotFoundError(label, key)
    return obj


def check_sha256(value: Any, what: str) -> str:
    """The sha256 lower-cased, or InputError naming `what`."""
    if not isinstance(value, str) or not SHA256_RE.match(value.lower()):
        raise InputError(f"{what} must be a 64-character hex sha256, got {value!r}")
    return value.lower()


def check_int(value: Any, what: str, minimum: int | None = 0) -> int:
    """The integer itself (at least `minimum` when given), or InputError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InputError(f"{what} must be >= {minimum}, got {value}")
    return value


def short_time(value: Any, seconds: bool = True) -> str:
    """A time from the store (ISO text or datetime) as 'YYYY-MM-DD HH:MM:SS' (or to the minute), in its own zone
    (UTC in the store); other text as it is."""
    if not value:
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def iso(value: Any) -> Any:
    """ISO text of a datetime (None stays None)."""
    return value.isoformat() if value is not None else None
