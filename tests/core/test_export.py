"""HTML evidence report: escapes every value, opens offline (plotly.js inline), leaves real records out by default."""
from __future__ import annotations

import hashlib
import re

import pytest

from core.review import auth
from core.review.export import evidence_report_html
from core.store import (
    NoteInput,
    add_evaluation,
    export_evidence_bundle,
    init_db,
    make_engine,
    read_session,
    register_dataset,
    register_generation,
    register_holdout,
    session_scope,
    sqlite_url,
    submit_new_review,
)

MALICIOUS = "<script>alert(1)</script>"
REAL_MARKER = "real-person-4711"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def store(tmp_path):
    """A store with one generation whose report, manifest and notes carry a malicious value and a real record."""
    auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    engine = make_engine(sqlite_url(tmp_path / "export.sqlite3"))
    init_db(engine)
    with session_scope(engine) as s:
        auth.create_user(s, "maker", "password123", "reviewer")
        auth.create_user(s, "rita", "password123", "reviewer")
        dataset = register_dataset(s, name=f"census {MALICIOUS}", sha256=_sha("real"), rows=100,
                                   schema={"age": "float64", "job": "object"}, created_by="maker")
        holdout = register_holdout(s, dataset_id=dataset.id, sha256=_sha("holdout"), seed=0, split_fraction=0.2,
                                   created_by="maker", rows=25)
        generation = register_generation(s, {
            "method": MALICIOUS, "parameters": {"note": MALICIOUS}, "seed": 1, "library_versions": {"sdv": "2.0"},
            "source_dataset_id": dataset.id, "holdout_id": holdout.id, "synthetic_sha256": _sha("synthetic"),
            "rows": 100, "training_mix": {"real_rows": 100, "synthetic_rows": 0}}, created_by="maker")
        report = {
            "verdict": "fail",
            "gates": [{"name": "column_shapes", "passed": True, "value": 0.9, "threshold": 0.8, "detail": "ok"},
                      {"name": "exact_copies", "passed": False, "value": 0.05, "threshold": 0.01, "detail": MALICIOUS}],
            "fidelity": {"column_shapes": {"columns": {MALICIOUS: {"score": 0.7, "expected": 0.9},
                                                       "age": {"score": 0.95, "expected": 0.97}}}},
            "privacy": {"closest_real_records": [{"age": 41, "job": REAL_MARKER}]},
        }
        add_evaluation(s, generation.id, report, tool_version="test", created_by="maker")
        submit_new_review(s, generation.id, reviewer="rita", records_read=10, comment=MALICIOUS, notes=[
            NoteInput(row_id="3", flag="implausible", note=MALICIOUS, row={"age": 200, "job": MALICIOUS}),
            NoteInput(row_id="r7", flag="privacy_risk", note="copied", source="real",
                      row={"age": 41, "job": REAL_MARKER}),
        ])
        gid = generation.id
    yield engine, gid
    engine.dispose()


def _html(store, include: bool = False) -> str:
    engine, gid = store
    with read_session(engine) as s:
        bundle = export_evidence_bundle(s, gid, include_real_records=include)
    return evidence_report_html(bundle)


def test_malicious_values_are_escaped(store):
    page = _html(store)
    assert MALICIOUS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the only script elements are our figures' (plotly.js and its figure calls), never from data
    assert "alert(1)</script>" not in page


def test_opens_offline_with_plotly_inline(store):
    page = _html(store)
    assert page.startswith("<!DOCTYPE html>")
    assert re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?https?:", page, re.I) is None
    assert re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", page, re.I) is None
    assert "plotly.js v" in page or "Plotly" in page
    assert len(page) > 1_000_000  # the plotly.js bundle itself is inlined
    assert page.count('class="plotly-graph-div"') == 2  # gates and column shapes


def test_real_records_excluded_by_default_and_said_so(store):
    page = _html(store)
    assert REAL_MARKER not in page
    assert "<strong>excluded</strong>" in page
    assert "[redacted: real records]" in page
    # synthetic notes stay (escaped), with their row hashes
    assert "&quot;age&quot;: 200" in page


def test_real_records_included_when_asked(store):
    page = _html(store, include=True)
    assert REAL_MARKER in page
    assert "<strong>included</strong>" in page
