"""Immutability: raw UPDATE/DELETE on reviewed artifacts is refused by triggers; edits behind them break the chain."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.policy import load_policy
from core.review.signoff import approve
from core.store import (
    StateError,
    audit_events,
    read_session,
    save_draft,
    session_scope,
    start_review,
    submit_review,
    verify_chain,
)
from store_testkit import make_world, raw

REFUSED = [
    "UPDATE audit_event SET actor = 'mallory' WHERE id = 2",
    "DELETE FROM audit_event WHERE id = 2",
    "UPDATE decision SET kind = 'rejected'",
    "DELETE FROM decision",
    "UPDATE review SET records_read = 9999 WHERE status = 'submitted'",
    "DELETE FROM review WHERE status = 'submitted'",
    "UPDATE record_note SET flag = 'other'",
    "DELETE FROM record_note",
    "UPDATE generation SET synthetic_sha256 = 'x'",
    "UPDATE evaluation SET report_json = '{}'",
]


def _approved(world, policy):
    world.review(world.reviewer, records_read=300, notes=3)
    with session_scope(world.engine) as s:
        approve(s, world.generation_id, world.approver, "ok", None, world.synthetic_sha256, policy, attested_rules=range(1, 11))
    return world


@pytest.fixture
def approved_world(fresh_engine, policy):
    """An approved generation on a store of its own (tests below break its chain)."""
    return _approved(make_world(fresh_engine), policy)


@pytest.fixture(scope="module")
def approved_shared(engine):
    """An approved generation on the shared store, built once per module (tests here only try refused edits)."""
    return _approved(make_world(engine), load_policy())


@pytest.mark.parametrize("sql", REFUSED)
def test_trigger_refuses_raw_edit(approved_shared, sql):
    engine = approved_shared.engine
    with pytest.raises(DBAPIError, match="immutable"):
        raw(engine, sql)
    with read_session(engine) as s:
        assert verify_chain(s).ok


@pytest.mark.parametrize("table", ["audit_event", "decision", "generation"])
def test_truncate_refused_on_postgresql(approved_shared, table):
    if approved_shared.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with pytest.raises(DBAPIError, match="immutable"):
        raw(approved_shared.engine, f"TRUNCATE {table} CASCADE")


def test_draft_may_change_submitted_may_not(world):
    with session_scope(world.engine) as s:
        review = start_review(s, world.generation_id, world.reviewer)
        review_id = review.id
    with session_scope(world.engine) as s:
        save_draft(s, review_id, reviewer=world.reviewer, records_read=10,
                   notes=[{"row_id": 1, "flag": "other", "row": {"a": 1}}])
    with session_scope(world.engine) as s:  # replace notes while still a draft
        save_draft(s, review_id, reviewer=world.reviewer, records_read=20,
                   notes=[{"row_id": 2, "flag": "format_error", "row": {"a": 2}},
                          {"row_id": 3, "flag": "privacy_risk", "row": {"a": 3}, "source": "real"}])
    raw(world.engine, f"UPDATE review SET comment = 'raw edit of a draft is allowed' WHERE id = {review_id}")
    with session_scope(world.engine) as s:
        r = submit_review(s, review_id, reviewer=world.reviewer, records_read=210)
        assert [n.row_id for n in r.notes] == ["2", "3"]
    with session_scope(world.engine) as s, pytest.raises(StateError, match="submitted"):
        save_draft(s, review_id, reviewer=world.reviewer, records_read=1)
    with pytest.raises(DBAPIError, match="immutable"):
        raw(world.engine, f"UPDATE review SET comment = 'x' WHERE id = {review_id}")
    with pytest.raises(DBAPIError, match="immutable"):
        raw(world.engine, f"INSERT INTO record_note (review_id, row_id, row_hash, flag, note, source) "
                          f"VALUES ({review_id}, '9', '{'0' * 64}', 'other', '', 'synthetic')")


def _drop_trigger(engine, table: str) -> None:
    if engine.dialect.name == "postgresql":
        raw(engine, f"DROP TRIGGER {table}_immutable ON {table}")
    else:
        raw(engine, f"DROP TRIGGER {table}_no_update")
        raw(engine, f"DROP TRIGGER {table}_no_delete")


def test_edit_behind_dropped_trigger_is_named_by_verify_chain(approved_world):
    engine = approved_world.engine
    with read_session(engine) as s:
        events = audit_events(s, action="review.submit")
        assert verify_chain(s).ok
    target = events[-1]["id"]
    _drop_trigger(engine, "audit_event")
    payload = dict(events[-1]["payload"], records_read=5000)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET payload_json = :p WHERE id = :i"),
                     {"p": json.dumps(payload), "i": target})
    with read_session(engine) as s:
        result = verify_chain(s)
    assert not result.ok and result.first_bad_event_id == target
    assert "does not match its hash" in result.reason


def test_deleted_event_is_named(approved_world):
    engine = approved_world.engine
    _drop_trigger(engine, "audit_event")
    raw(engine, "DELETE FROM audit_event WHERE id = 3")
    with read_session(engine) as s:
        result = verify_chain(s)
    assert (result.ok, result.first_bad_event_id, result.checked) == (False, 3, 2)
    assert "missing" in result.reason


def test_truncated_tail_is_detected(approved_world):
    engine = approved_world.engine
    _drop_trigger(engine, "audit_event")
    with read_session(engine) as s:
        last = verify_chain(s).checked
    raw(engine, f"DELETE FROM audit_event WHERE id = {last}")
    with read_session(engine) as s:
        result = verify_chain(s)
    assert (result.ok, result.first_bad_event_id) == (False, last)


def test_rehashed_forgery_fails_its_signature(approved_world):
    """Editing an event and recomputing its own hash is caught by its server signature (made over the old hash)."""
    from core.store.audit import event_hash
    from core.store.models import AuditEvent

    engine = approved_world.engine
    _drop_trigger(engine, "audit_event")
    with read_session(engine) as s:
        ev = s.get(AuditEvent, 2)
        ev.actor = "mallory"
        forged = event_hash(ev)
    raw(engine, f"UPDATE audit_event SET actor = 'mallory', hash = '{forged}' WHERE id = 2")
    with read_session(engine) as s:
        result = verify_chain(s)
    assert (result.ok, result.first_bad_event_id) == (False, 2)
    assert "signature" in result.reason
