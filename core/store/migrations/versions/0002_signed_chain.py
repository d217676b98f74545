"""Signed chain: signature columns, audited role changes, a forward-only head and TRUNCATE refused everywhere.

Revision ID: 0002_signed_chain
Revises: 0001_initial
Create Date: 2026-12-02

Existing events and decisions are signed here with the server key (created beside the store on first use), so an
upgraded store verifies; anything written after the upgrade without the key fails verify.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002_signed_chain"
down_revision: Union[str, Sequence[str], None] = "0001_initial"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Tables 0001 left without a TRUNCATE trigger on PostgreSQL (TRUNCATE bypasses row triggers).
TRUNCATE_NEW = ("review", "record_note", "users", "audit_head")
ROLE_OK_SQLITE = (
    "EXISTS (SELECT 1 FROM audit_event e JOIN audit_head h ON e.id = h.last_event_id "
    "WHERE e.action = 'user.set_role' AND e.entity_id = CAST(NEW.id AS TEXT) "
    "AND json_extract(e.payload_json, '$.to') = NEW.role)"
)
SQLITE_TRIGGERS = {
    "users_role_audited": "BEFORE UPDATE OF role ON users FOR EACH ROW "
                          f"WHEN OLD.role IS NOT NEW.role AND NOT {ROLE_OK_SQLITE} "
                          "BEGIN SELECT RAISE(ABORT, 'immutable: role change without its user.set_role event "
                          "refused'); END",
    "users_password_audited": "BEFORE UPDATE OF password_hash ON users FOR EACH ROW "
                              "WHEN OLD.password_hash IS NOT NEW.password_hash AND NOT EXISTS (SELECT 1 FROM "
                              "audit_event e JOIN audit_head h ON e.id = h.last_event_id WHERE e.action = "
                              "'user.set_password' AND e.entity_id = CAST(NEW.id AS TEXT)) "
                              "BEGIN SELECT RAISE(ABORT, 'immutable: password change without its user.set_password "
                              "event refused'); END",
    "users_no_rename": "BEFORE UPDATE OF name ON users FOR EACH ROW WHEN OLD.name IS NOT NEW.name "
                       "BEGIN SELECT RAISE(ABORT, 'immutable: UPDATE of users.name refused'); END",
    "users_no_delete": "BEFORE DELETE ON users FOR EACH ROW "
                       "BEGIN SELECT RAISE(ABORT, 'immutable: DELETE on users refused'); END",
    "audit_head_forward": "BEFORE UPDATE ON audit_head FOR EACH ROW "
                          "WHEN NEW.last_event_id IS NOT OLD.last_event_id + 1 "
                          "BEGIN SELECT RAISE(ABORT, 'immutable: audit_head only moves forward by one event'); END",
    "audit_head_no_delete": "BEFORE DELETE ON audit_head FOR EACH ROW "
                            "BEGIN SELECT RAISE(ABORT, 'immutable: DELETE on audit_head refused'); END",
}
PG_FUNCTIONS = [
    """
    CREATE FUNCTION review_desk_guard_user() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'immutable: DELETE on users refused' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.name IS DISTINCT FROM OLD.name THEN
            RAISE EXCEPTION 'immutable: UPDATE of users.name refused' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.role IS DISTINCT FROM OLD.role AND NOT EXISTS (
            SELECT 1 FROM audit_event e JOIN audit_head h ON e.id = h.last_event_id
            WHERE e.action = 'user.set_role' AND e.entity_id = NEW.id::text
              AND (e.payload_json::jsonb ->> 'to') = NEW.role) THEN
            RAISE EXCEPTION 'immutable: role change without its user.set_role event refused'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.password_hash IS DISTINCT FROM OLD.password_hash AND NOT EXISTS (
            SELECT 1 FROM audit_event e JOIN audit_head h ON e.id = h.last_event_id
            WHERE e.action = 'user.set_password' AND e.entity_id = NEW.id::text) THEN
            RAISE EXCEPTION 'immutable: password change without its user.set_password event refused'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION review_desk_guard_head() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR NEW.last_event_id IS DISTINCT FROM OLD.last_event_id + 1 THEN
            RAISE EXCEPTION 'immutable: audit_head only moves forward by one event'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
]
PG_TRIGGERS = {
    "users": "CREATE TRIGGER users_guard BEFORE UPDATE OR DELETE ON users FOR EACH ROW "
             "EXECUTE FUNCTION review_desk_guard_user()",
    "audit_head": "CREATE TRIGGER audit_head_guard BEFORE UPDATE OR DELETE ON audit_head FOR EACH ROW "
                  "EXECUTE FUNCTION review_desk_guard_head()",
}


def _sign_existing() -> None:
    """Sign the events and decisions already in the store with the server key (immutability paused meanwhile)."""
    from core.store.audit import event_hash
    from core.store.decisions import decision_signed_text
    from core.store.models import AuditEvent, Decision
    from core.store.signing import DECISION_DOMAIN, EVENT_DOMAIN, load_signing_key, sign_text

    bind = op.get_bind()
    session = sa.orm.Session(bind=bind)
    events = list(session.execute(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars())
    decisions = list(session.execute(sa.select(Decision).order_by(Decision.id)).scalars())
    if not events and not decisions:
        return
    key = load_signing_key(bind.engine.url, create=True)
    pg = bind.dialect.name == "postgresql"
    for table in ("audit_event", "decision"):
        if pg:
            op.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_immutable")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
    for e in events:
        # Only an event whose hash still holds is signed: a store already broken stays visibly broken.
        if event_hash(e) == e.hash:
            bind.execute(sa.text("UPDATE audit_event SET signature = :s WHERE id = :i"),
                         {"s": sign_text(key, EVENT_DOMAIN, e.hash), "i": e.id})
    for d in decisions:
        bind.execute(sa.text("UPDATE decision SET signature = :s WHERE id = :i"),
                     {"s": sign_text(key, DECISION_DOMAIN, decision_signed_text(d)), "i": d.id})
    for table in ("audit_event", "decision"):
        if pg:
            op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_immutable")
        else:
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} FOR EACH ROW "
                       f"BEGIN SELECT RAISE(ABORT, 'immutable: UPDATE on {table} refused'); END")
    session.close()


def upgrade() -> None:
    """Add the signature columns, sign what exists, and add the user, head and TRUNCATE triggers."""
    op.add_column("audit_event", sa.Column("signature", sa.String(128), nullable=True))
    op.add_column("decision", sa.Column("signature", sa.String(128), nullable=True))
    _sign_existing()
    if op.get_bind().dialect.name == "postgresql":
        for sql in PG_FUNCTIONS:
            op.execute(sql)
        for sql in PG_TRIGGERS.values():
            op.execute(sql)
        for table in TRUNCATE_NEW:
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION review_desk_refuse_change()")
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    """Drop the 0002 triggers and the signature columns (signatures are lost)."""
    if op.get_bind().dialect.name == "postgresql":
        for table in TRUNCATE_NEW:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION review_desk_guard_user() CASCADE")
        op.execute("DROP FUNCTION review_desk_guard_head() CASCADE")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_column("decision", "signature")
    op.drop_column("audit_event", "signature")
