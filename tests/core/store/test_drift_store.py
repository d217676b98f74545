"""The drift recommendation is kept on the generation's record as an audit event in its log; the chain verifies."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.checks.drift import detect_drift
from core.review.drift_store import DRIFT_ACTION, drift_recommendations, record_drift_recommendation
from core.store import NotFoundError, PermissionDenied, audit_events, read_session, session_scope, verify_chain


def _drift(shift: float):
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"age": rng.normal(40, 10, 400), "income": rng.choice(["a", "b"], 400)})
    current = pd.DataFrame({"age": rng.normal(40 + shift, 10, 400), "income": rng.choice(["a", "b"], 400)})
    return detect_drift(reference, current, {"age": "numerical", "income": "categorical"})


def test_recommendation_is_an_audit_event_of_the_generation(world):
    drifted, steady = _drift(15.0), _drift(0.0)
    assert drifted.recommendation == "regenerate" and steady.recommendation == "keep"
    with session_scope(world.engine) as s:
        record = record_drift_recommendation(s, world.generation_id, drifted, actor=world.reviewer,
                                             reference_sha256="a" * 64, current_sha256="b" * 64)
        record_drift_recommendation(s, world.generation_id, steady.to_dict(), actor=world.reviewer)
    assert record["recommendation"] == "regenerate" and record["drift"]["columns"]["age"]["drifted"]
    with read_session(world.engine) as s:
        kept = drift_recommendations(s, world.generation_id)
        assert [e["payload"]["recommendation"] for e in kept] == ["regenerate", "keep"]
        assert kept[0]["payload"]["drift"] == drifted.to_dict()
        assert kept[0]["payload"]["current_sha256"] == "b" * 64 and kept[0]["actor"] == world.reviewer
        log = audit_events(s, generation_id=world.generation_id)
        assert [e["action"] for e in log].count(DRIFT_ACTION) == 2
        assert verify_chain(s).ok


def test_viewer_and_unknown_generation_are_refused(world):
    steady = _drift(0.0)
    with pytest.raises(PermissionDenied):
        with session_scope(world.engine) as s:
            record_drift_recommendation(s, world.generation_id, steady, actor=world.viewer)
    with pytest.raises(NotFoundError):
        with session_scope(world.engine) as s:
            record_drift_recommendation(s, 10**9, steady, actor=world.reviewer)
    with read_session(world.engine) as s:
        assert drift_recommendations(s, world.generation_id) == []


def test_recording_the_same_drift_result_twice_appends_one_event(world):
    drifted, steady = _drift(15.0), _drift(0.0)
    with session_scope(world.engine) as s:
        first = record_drift_recommendation(s, world.generation_id, drifted, actor=world.reviewer,
                                            reference_sha256="a" * 64, current_sha256="b" * 64)
    with session_scope(world.engine) as s:  # a second click, a later transaction
        again = record_drift_recommendation(s, world.generation_id, drifted, actor=world.reviewer,
                                            reference_sha256="a" * 64, current_sha256="b" * 64)
        other_batch = record_drift_recommendation(s, world.generation_id, drifted, actor=world.reviewer,
                                                  reference_sha256="a" * 64, current_sha256="c" * 64)
        changed = record_drift_recommendation(s, world.generation_id, steady, actor=world.reviewer,
                                              reference_sha256="a" * 64, current_sha256="b" * 64)
    assert not first["already_recorded"] and again["already_recorded"]
    assert again["event_id"] == first["event_id"] and again["hash"] == first["hash"]
    assert len({first["event_id"], other_batch["event_id"], changed["event_id"]}) == 3
    with read_session(world.engine) as s:
        assert len(drift_recommendations(s, world.generation_id)) == 3
        assert verify_chain(s).ok
