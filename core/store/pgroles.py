"""PostgreSQL roles: the owner migrates; the app role may read and insert, and update only what the desk updates.

The app role cannot TRUNCATE, ALTER or DROP (it owns nothing), so it cannot switch the triggers off; rows it may
update are the chain head (forward only, by trigger), draft reviews (submitted ones refused by trigger), users
(role only with its signed event, by trigger) and draft notes (delete)."""
from __future__ import annotations

import re

from sqlalchemy import Engine, text

from core.errors import UsageError

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
READ_INSERT = ("users", "dataset_version", "holdout", "generation", "evaluation", "review", "record_note",
               "decision", "audit_event", "audit_head")
UPDATE = ("audit_head", "review", "users")
DELETE = ("record_note",)


def app_role_grants(role: str) -> list[str]:
    """The GRANT statements giving `role` what the app needs and nothing more (run them as the owner)."""
    if not ROLE_NAME.match(role):
        raise UsageError(f"'{role}' is not a plain PostgreSQL role name (lower-case letters, digits, _)")
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON alembic_version TO {role}",
        f"GRANT SELECT, INSERT ON {', '.join(READ_INSERT)} TO {role}",
        f"GRANT UPDATE ON {', '.join(UPDATE)} TO {role}",
        f"GRANT DELETE ON {', '.join(DELETE)} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]


def grant_app_role(owner_engine: Engine, role: str) -> list[str]:
    """Run app_role_grants on a migrated PostgreSQL store as its owner; returns the statements run."""
    if owner_engine.dialect.name != "postgresql":
        raise UsageError("app roles exist only on PostgreSQL; a SQLite store is guarded by its file permissions")
    statements = app_role_grants(role)
    with owner_engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    return statements
