"""Migrations: head on an empty database creates every table, the chain head and the immutability triggers."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from core.store import current_revision, downgrade, make_engine, upgrade
from core.store.models import Base

TABLES = {"users", "dataset_version", "holdout", "generation", "evaluation", "review", "record_note", "decision",
          "audit_event", "audit_head", "alembic_version"}


def _triggers(engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        return {r[0] for r in rows}


def test_upgrade_head_on_empty_db_creates_everything(empty_url):
    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == "0002_signed_chain"
        assert set(inspect(engine).get_table_names()) == TABLES
        triggers = _triggers(engine)
        if engine.dialect.name == "sqlite":
            expected = {f"{t}_no_{op}" for t in ("audit_event", "decision", "review", "generation", "evaluation",
                                                 "dataset_version", "holdout") for op in ("update", "delete")}
            expected |= {"record_note_no_insert", "record_note_no_update", "record_note_no_delete",
                         "users_role_audited", "users_password_audited", "users_no_rename", "users_no_delete",
                         "audit_head_forward",
                         "audit_head_no_delete"}
        else:
            expected = {f"{t}_immutable" for t in ("audit_event", "decision", "review", "generation", "evaluation",
                                                   "dataset_version", "holdout", "record_note")}
            expected |= {"audit_event_no_truncate", "decision_no_truncate", "users_guard", "audit_head_guard"}
            expected |= {f"{t}_no_truncate" for t in ("review", "record_note", "users", "audit_head", "generation",
                                                      "evaluation", "dataset_version", "holdout")}
        assert expected <= triggers
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, last_event_id FROM audit_head")).all() == [(1, 0)]
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_migration_matches_models(fresh_engine):
    with fresh_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_then_upgrade(fresh_engine):
    downgrade(fresh_engine, "base")
    assert set(inspect(fresh_engine).get_table_names()) == {"alembic_version"}
    upgrade(fresh_engine)
    assert set(inspect(fresh_engine).get_table_names()) == TABLES


def test_store_made_before_0002_upgrades_and_verifies(fresh_engine, policy):
    """A store at 0001 (no signatures) upgrades: its events and decisions get signed and verify passes."""
    from core.review.signoff import approve
    from core.store import read_session, session_scope, verify_store
    from store_testkit import make_world

    world = make_world(fresh_engine)
    world.review(world.reviewer, records_read=300, notes=2)
    with session_scope(fresh_engine) as s:
        approve(s, world.generation_id, world.approver, "ok", None, world.synthetic_sha256, policy,
                attested_rules=range(1, 11))
    downgrade(fresh_engine, "0001_initial")
    with fresh_engine.connect() as conn:
        assert "signature" not in {c["name"] for c in inspect(conn).get_columns("audit_event")}
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == "0002_signed_chain"
    with read_session(fresh_engine) as s:
        result = verify_store(s)
    assert result.ok, result.reason
    assert result.rows_checked["decisions"] == 1
