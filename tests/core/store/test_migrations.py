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
        assert current_revision(engine) == "0001_initial"
        assert set(inspect(engine).get_table_names()) == TABLES
        triggers = _triggers(engine)
        if engine.dialect.name == "sqlite":
            expected = {f"{t}_no_{op}" for t in ("audit_event", "decision", "review", "generation", "evaluation",
                                                 "dataset_version", "holdout") for op in ("update", "delete")}
            expected |= {"record_note_no_insert", "record_note_no_update", "record_note_no_delete"}
        else:
            expected = {f"{t}_immutable" for t in ("audit_event", "decision", "review", "generation", "evaluation",
                                                   "dataset_version", "holdout", "record_note")}
            expected |= {"audit_event_no_truncate", "decision_no_truncate"}
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
