"""Repository: manifest validation, listing, detail, drafts, and the evidence bundle's real-record redaction."""
from __future__ import annotations

import pytest

from core.errors import InputError
from core.review.signoff import approve
from core.store import (
    NotFoundError,
    export_evidence_bundle,
    generation_detail,
    list_generations,
    read_session,
    register_generation,
    session_scope,
    submit_new_review,
)
from core.store.audit import sha256_json
from store_testkit import sha


@pytest.mark.parametrize("change, message", [
    ({"seed": "7"}, "seed must be an integer"),
    ({"synthetic_sha256": "abc"}, "64-character hex sha256"),
    ({"training_mix": {"real_rows": 10}}, "training_mix is missing synthetic_rows"),
    ({"method": ""}, "method must be a non-empty string"),
    ({"parameters": {"x": float("nan")}}, "not plain JSON"),
])
def test_bad_manifest_is_refused_with_its_key(world, change, message):
    with session_scope(world.engine) as s, pytest.raises(InputError, match=message):
        register_generation(s, world.manifest(**change), created_by=world.creator)


def test_manifest_without_keys_and_unknown_refs(world):
    m = world.manifest()
    del m["seed"], m["rows"]
    with session_scope(world.engine) as s, pytest.raises(InputError, match="missing seed, rows"):
        register_generation(s, m, created_by=world.creator)
    with session_scope(world.engine) as s, pytest.raises(NotFoundError, match="parent generation"):
        register_generation(s, world.manifest(parent_generation_id=10**8), created_by=world.creator)
    with session_scope(world.engine) as s, pytest.raises(Exception, match="has role 'viewer'"):
        register_generation(s, world.manifest(), created_by=world.viewer)


def test_list_and_detail_with_lineage(world):
    child_id, _ = world.new_generation(parent_generation_id=world.generation_id,
                                       training_mix={"real_rows": 800, "synthetic_rows": 500})
    with read_session(world.engine) as s:
        listed = list_generations(s, dataset_id=world.dataset_id)
        assert [g.id for g in listed] == [child_id, world.generation_id]
        assert [g.state for g in listed] == ["draft", "draft"]
        detail = generation_detail(s, child_id)
        assert detail.lineage == [world.generation_id]
        assert detail.manifest["training_mix"] == {"real_rows": 800, "synthetic_rows": 500}
        assert detail.manifest_sha256 == sha256_json(detail.manifest)
        assert detail.holdout["stratify_column"] == "income"
        assert list_generations(s, dataset_id=world.dataset_id, state="approved") == []


def test_bundle_excludes_real_records_unless_asked(world, policy):
    with session_scope(world.engine) as s:
        submit_new_review(s, world.generation_id, reviewer=world.reviewer, records_read=200, notes=[
            {"row_id": 4, "flag": "privacy_risk", "note": "matches a real person", "source": "real",
             "row": {"age": 97, "income": ">50K"}},
            {"row_id": 5, "flag": "implausible", "row": {"age": 250, "income": "<=50K"}}])
    world.evaluate([("privacy", True)])
    with session_scope(world.engine) as s:
        approve(s, world.generation_id, world.approver, "fine", [], world.synthetic_sha256, policy, attested_rules=range(1, 11))
    with read_session(world.engine) as s:
        bundle = export_evidence_bundle(s, world.generation_id)
        full = export_evidence_bundle(s, world.generation_id, include_real_records=True)
    notes = bundle["reviews"][0]["notes"]
    assert notes[0]["row"] is None and notes[0]["row_hash"] == sha('{"age":97,"income":">50K"}')
    assert notes[1]["row"] == {"age": 250, "income": "<=50K"}
    assert bundle["real_records"]["included"] is False and bundle["real_records"]["redacted_note_rows"] == 1
    assert full["reviews"][0]["notes"][0]["row"] == {"age": 97, "income": ">50K"}
    assert full["real_records"]["included"] is True
    assert bundle["decisions"][0]["evidence_matches"] and bundle["audit_chain"]["ok"]
    assert bundle["manifest"]["synthetic_sha256"] == world.synthetic_sha256


def _statements(engine):
    """A list that collects every SQL statement the engine runs (while the listener is attached)."""
    from sqlalchemy import event

    seen: list[str] = []

    def _count(conn, cursor, statement, *args):  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    return seen, lambda: event.remove(engine, "before_cursor_execute", _count)


def test_states_are_set_based_and_match_the_rules(fresh_engine, policy):
    """Six states, each computed in one set-based pass; the number of queries does not grow with generations."""
    from core.review.signoff import reject, request_changes, revoke
    from core.store import generation_state, generation_states
    from store_testkit import make_world

    world = make_world(fresh_engine)
    ids = {"draft": world.new_generation(), "in_review": world.new_generation(),
           "approved": world.new_generation(), "rejected": world.new_generation(),
           "changes_requested": world.new_generation(), "revoked": world.new_generation(),
           "in_review_again": world.new_generation()}
    for state, (gid, _) in ids.items():
        if state != "draft":
            world.review(world.reviewer, generation_id=gid, records_read=250, notes=0)
    for state in ("approved", "revoked"):
        gid, sha256 = ids[state]
        world.evaluate([("privacy", True)], generation_id=gid)
        with session_scope(fresh_engine) as s:
            approve(s, gid, world.approver, "ok", None, sha256, policy, attested_rules=range(1, 11))
    with session_scope(fresh_engine) as s:
        reject(s, ids["rejected"][0], world.approver, "no")
        request_changes(s, ids["changes_requested"][0], world.approver, "again")
        request_changes(s, ids["in_review_again"][0], world.approver, "again")
        revoke(s, ids["revoked"][0], world.approver, "leak")
    world.review(world.reviewer2, generation_id=ids["in_review_again"][0], records_read=10, notes=0)
    expected = {gid: state.removesuffix("_again") for state, (gid, _) in ids.items()}
    with read_session(fresh_engine) as s:
        states = generation_states(s)
        assert {gid: states[gid] for gid in expected} == expected
        assert all(generation_state(s, gid) == state for gid, state in expected.items())
        seen, stop = _statements(fresh_engine)
        listed = list_generations(s)
        stop()
        assert len(listed) == len(expected) + 1 and len(seen) <= 3
        assert [g.id for g in list_generations(s, state="revoked")] == [ids["revoked"][0]]
