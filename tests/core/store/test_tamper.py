"""Tamper matrix: each write made with database access alone is refused by a trigger or named by verify, and the
gate stops trusting the store (SQLite and PostgreSQL)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.review.signoff import approve, gate_check
from core.store import chain_anchor, read_session, session_scope, verify_store
from core.store.audit import canonical_json, event_hash
from core.store.models import AuditEvent, AuditHead
from store_testkit import make_world, raw, sha


def _ready_world(engine, policy):
    """A world whose generation has a submitted review (approvable) and a second generation approved."""
    world = make_world(engine)
    world.review(world.reviewer, records_read=300, notes=2)
    return world


def _approve(world, policy, generation_id=None, sha256=None):
    with session_scope(world.engine) as s:
        return approve(s, generation_id or world.generation_id, world.approver, "ok", None,
                       sha256 or world.synthetic_sha256, policy, attested_rules=range(1, 11)).id


def _forged_decision_sql(world, generation_id: int, synthetic_sha256: str) -> str:
    return ("INSERT INTO decision (generation_id, kind, signer, at, comment, waivers_json, evaluation_id, "
            "review_ids_json, synthetic_sha256, evidence_sha256, policy_toml, policy_sha256, round) VALUES "
            f"({generation_id}, 'approved', '{world.approver}', CURRENT_TIMESTAMP, 'forged', '[]', NULL, '[]', "
            f"'{synthetic_sha256}', '{sha('e')}', '', '{sha('')}', 1)")


def _append_forged_event(engine, **fields) -> int:
    """Append an event with a correct hash and link, as someone who can write the tables but lacks the key."""
    with read_session(engine) as s:
        head = s.get(AuditHead, 1)
        last_id, last_hash = head.last_event_id, head.last_hash
    event = AuditEvent(id=last_id + 1, at="2026-12-02T00:00:00.000000+00:00", prev_hash=last_hash,
                       payload_json=canonical_json(fields.pop("payload")), **fields)
    event.hash = event_hash(event)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_event (id, at, actor, action, entity, entity_id, generation_id, "
                          "payload_json, prev_hash, hash, signature) VALUES (:id, :at, :actor, :action, :entity, "
                          ":entity_id, :generation_id, :payload_json, :prev_hash, :hash, :signature)"),
                     {"id": event.id, "at": event.at, "actor": event.actor, "action": event.action,
                      "entity": event.entity, "entity_id": event.entity_id, "generation_id": event.generation_id,
                      "payload_json": event.payload_json, "prev_hash": event.prev_hash, "hash": event.hash,
                      "signature": "ab" * 64})
        conn.execute(text("UPDATE audit_head SET last_event_id = :i, last_hash = :h WHERE id = 1"),
                     {"i": event.id, "h": event.hash})
    return event.id


def _disable_triggers(engine, *tables: str) -> None:
    """What only the owner can do: switch the immutability triggers off (drop them on SQLite)."""
    if engine.dialect.name == "postgresql":
        for t in tables:
            raw(engine, f"ALTER TABLE {t} DISABLE TRIGGER USER")
        return
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s)"
            % ", ".join(f"'{t}'" for t in tables)))]
    for name in names:
        raw(engine, f"DROP TRIGGER {name}")


def _verify(engine, anchor=None):
    with read_session(engine) as s:
        return verify_store(s, anchor)


def _gate(world, generation_id, synthetic_sha256, anchor=None):
    with read_session(world.engine) as s:
        return gate_check(s, generation_id, synthetic_sha256, anchor)


def test_clean_store_verifies_and_gate_passes(fresh_engine, policy):
    world = _ready_world(fresh_engine, policy)
    _approve(world, policy)
    result = _verify(fresh_engine)
    assert result.ok, result.reason
    assert result.rows_checked["users"] == 6 and result.rows_checked["decisions"] == 1
    assert _gate(world, world.generation_id, world.synthetic_sha256)[0]


def test_inserted_decision_fails_verify_and_gate(fresh_engine, policy):
    world = _ready_world(fresh_engine, policy)
    assert not _gate(world, world.generation_id, world.synthetic_sha256)[0]
    raw(fresh_engine, _forged_decision_sql(world, world.generation_id, world.synthetic_sha256))
    result = _verify(fresh_engine)
    assert not result.ok
    assert any("decision row" in p and "no signed decision.approved event" in p for p in result.problems)
    assert any("signature is missing" in p for p in result.problems)
    ok, reason = _gate(world, world.generation_id, world.synthetic_sha256)
    assert not ok and "does not verify" in reason


def test_inserted_decision_with_rehashed_event_fails_the_signature(fresh_engine, policy):
    world = _ready_world(fresh_engine, policy)
    raw(fresh_engine, _forged_decision_sql(world, world.generation_id, world.synthetic_sha256))
    with fresh_engine.connect() as conn:
        decision_id = conn.execute(text("SELECT max(id) FROM decision")).scalar_one()
    event_id = _append_forged_event(
        fresh_engine, actor=world.approver, action="decision.approved", entity="decision",
        entity_id=str(decision_id), generation_id=world.generation_id,
        payload={"kind": "approved", "comment": "forged", "waivers": [], "evaluation_id": None, "review_ids": [],
                 "evidence_sha256": sha("e"), "policy_sha256": sha(""), "synthetic_sha256": world.synthetic_sha256})
    result = _verify(fresh_engine)
    assert (result.ok, result.chain.first_bad_event_id) == (False, event_id)
    assert "signature" in result.reason
    assert not _gate(world, world.generation_id, world.synthetic_sha256)[0]


def test_role_change_by_sql_is_refused_and_named_behind_the_trigger(fresh_engine, policy):
    world = _ready_world(fresh_engine, policy)
    with pytest.raises(DBAPIError, match="immutable"):
        raw(fresh_engine, f"UPDATE users SET role = 'admin' WHERE name = '{world.viewer}'")
    with pytest.raises(DBAPIError, match="immutable"):
        raw(fresh_engine, f"DELETE FROM users WHERE name = '{world.viewer}'")
    assert _verify(fresh_engine).ok
    _disable_triggers(fresh_engine, "users")
    raw(fresh_engine, f"UPDATE users SET role = 'admin' WHERE name = '{world.viewer}'")
    result = _verify(fresh_engine)
    assert not result.ok
    assert any(f"('{world.viewer}'): role is 'admin' but its signed events say 'viewer'" in p for p in result.problems)


def test_role_change_through_core_passes_the_trigger(fresh_engine, policy):
    from core.review import auth

    world = _ready_world(fresh_engine, policy)
    with session_scope(fresh_engine) as s:
        auth.set_role(s, world.viewer, "approver", actor=world.admin)
    with read_session(fresh_engine) as s:
        assert auth.get_user(s, world.viewer).role == "approver"
    assert _verify(fresh_engine).ok


def test_inserted_admin_user_is_named(fresh_engine, policy):
    _ready_world(fresh_engine, policy)
    raw(fresh_engine, "INSERT INTO users (name, email, password_hash, role, active, created_at) "
                      "VALUES ('mallory', NULL, NULL, 'admin', TRUE, CURRENT_TIMESTAMP)")
    result = _verify(fresh_engine)
    assert any("('mallory'): no signed user.create event" in p for p in result.problems)


def test_truncate_is_refused_and_named_behind_disabled_triggers(fresh_engine, policy):
    world = _ready_world(fresh_engine, policy)
    _approve(world, policy)
    if fresh_engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="immutable"):
            raw(fresh_engine, "TRUNCATE record_note, review CASCADE")
        _disable_triggers(fresh_engine, "record_note", "review")
        raw(fresh_engine, "TRUNCATE record_note, review CASCADE")
    else:
        with pytest.raises(DBAPIError, match="immutable"):
            raw(fresh_engine, "DELETE FROM review")
        _disable_triggers(fresh_engine, "record_note", "review")
        raw(fresh_engine, "DELETE FROM record_note")
        raw(fresh_engine, "DELETE FROM review")
    result = _verify(fresh_engine)
    assert not result.ok
    assert any(p.startswith("review row") and "is missing but signed event" in p for p in result.problems)
    ok, reason = _gate(world, world.generation_id, world.synthetic_sha256)
    assert not ok and "review row" in reason


def test_removed_tail_with_reset_head_is_caught_by_the_anchor(fresh_engine, policy):
    world = _ready_world(fresh_engine, policy)
    _approve(world, policy)
    with read_session(fresh_engine) as s:
        anchor = chain_anchor(s)
    assert _verify(fresh_engine, anchor).ok
    with pytest.raises(DBAPIError, match="immutable"):  # the head only moves forward
        raw(fresh_engine, f"UPDATE audit_head SET last_event_id = {anchor.event_id - 1}")
    _disable_triggers(fresh_engine, "audit_event", "decision", "audit_head")
    with read_session(fresh_engine) as s:
        prev = s.get(AuditEvent, anchor.event_id).prev_hash
    raw(fresh_engine, f"DELETE FROM decision WHERE generation_id = {world.generation_id}")
    raw(fresh_engine, f"DELETE FROM audit_event WHERE id = {anchor.event_id}")
    raw(fresh_engine, f"UPDATE audit_head SET last_event_id = {anchor.event_id - 1}, last_hash = '{prev}'")
    assert _verify(fresh_engine).ok  # consistent and signed: only the anchor knows
    result = _verify(fresh_engine, anchor)
    assert not result.ok and f"anchored event {anchor.event_id} is gone" in result.reason
    assert not _verify(fresh_engine, anchor.hash).ok  # a bare hash kept by a pipeline works too
    assert not _gate(world, world.generation_id, world.synthetic_sha256, anchor.hash)[0]


def test_full_rehash_fails_signatures_and_anchor(fresh_engine, policy):
    world = _ready_world(fresh_engine, policy)
    _approve(world, policy)
    with read_session(fresh_engine) as s:
        anchor = chain_anchor(s)
        events = list(s.query(AuditEvent).order_by(AuditEvent.id))
    _disable_triggers(fresh_engine, "audit_event", "audit_head")
    prev = "0" * 64
    with fresh_engine.begin() as conn:
        for e in events:  # rewrite the creator as someone else, recompute every hash after it
            payload = json.loads(e.payload_json)
            actor = "mallory" if e.actor == world.creator else e.actor
            forged = AuditEvent(id=e.id, at=e.at, actor=actor, action=e.action, entity=e.entity,
                                entity_id=e.entity_id, generation_id=e.generation_id,
                                payload_json=canonical_json(payload), prev_hash=prev)
            forged.hash = event_hash(forged)
            conn.execute(text("UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h WHERE id = :i"),
                         {"a": actor, "p": prev, "h": forged.hash, "i": e.id})
            prev = forged.hash
        conn.execute(text("UPDATE audit_head SET last_hash = :h WHERE id = 1"), {"h": prev})
    result = _verify(fresh_engine)
    assert not result.ok and "signature" in result.reason
    assert not _verify(fresh_engine, anchor).ok
    assert not _gate(world, world.generation_id, world.synthetic_sha256)[0]


def test_edited_generation_hash_behind_the_trigger_is_named(fresh_engine, policy):
    world = _ready_world(fresh_engine, policy)
    _approve(world, policy)
    _disable_triggers(fresh_engine, "generation")
    raw(fresh_engine, f"UPDATE generation SET synthetic_sha256 = '{sha('other')}' WHERE id = {world.generation_id}")
    result = _verify(fresh_engine)
    assert any(f"generation row {world.generation_id}: synthetic_sha256" in p for p in result.problems)
    assert not _gate(world, world.generation_id, sha("other"))[0]


def test_missing_signing_key_fails_verify(fresh_engine, policy, monkeypatch, tmp_path):
    from core.store.signing import KEY_ENV, forget_keys

    _ready_world(fresh_engine, policy)
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "no-such-key"))
    forget_keys()
    result = _verify(fresh_engine)
    assert not result.ok and "signing key" in result.reason
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "other-key"))  # another server's key signs nothing here
    from core.store.signing import load_signing_key

    load_signing_key(fresh_engine.url, create=True)
    assert oct((tmp_path / "other-key").stat().st_mode & 0o777) == "0o600"
    result = _verify(fresh_engine)
    assert not result.ok and "not made by the server key" in result.reason
    forget_keys()


def test_password_swap_by_sql_is_refused_and_named_behind_the_trigger(fresh_engine, policy):
    from core.review import auth

    world = _ready_world(fresh_engine, policy)
    with session_scope(fresh_engine) as s:  # through core: the signed event first, then the row
        auth.set_password(s, world.viewer, "a new long password", actor=world.viewer)
    with read_session(fresh_engine) as s:
        assert auth.authenticate(s, world.viewer, "a new long password").name == world.viewer
        known = auth.get_user(s, world.viewer).password_hash
    assert _verify(fresh_engine).ok
    with pytest.raises(DBAPIError, match="immutable"):  # log in as the approver with the viewer's password
        raw(fresh_engine, f"UPDATE users SET password_hash = '{known}' WHERE name = '{world.approver}'")
    _disable_triggers(fresh_engine, "users")
    raw(fresh_engine, f"UPDATE users SET password_hash = '{known}' WHERE name = '{world.approver}'")
    result = _verify(fresh_engine)
    assert any(f"('{world.approver}'): password_hash is not the one its signed events record" in p
               for p in result.problems)


def test_approval_refuses_a_review_inserted_by_sql(fresh_engine, policy):
    from core.store import StateError

    world = make_world(fresh_engine)  # no review submitted through the desk
    raw(fresh_engine, "INSERT INTO review (generation_id, reviewer, round, status, records_read, synthetic_sha256, "
                      f"comment, created_at, submitted_at) VALUES ({world.generation_id}, '{world.reviewer}', 1, "
                      f"'submitted', 500, '{world.synthetic_sha256}', 'forged', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    with session_scope(fresh_engine) as s, pytest.raises(StateError, match="server-signed review.submit"):
        approve(s, world.generation_id, world.approver, "ok", None, world.synthetic_sha256, policy,
                attested_rules=range(1, 11))
    with read_session(fresh_engine) as s:
        assert not verify_store(s).ok
