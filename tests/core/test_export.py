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


# ------------------------------------------------------------------------- the report built from an Evaluation

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.data.io import prepare_inputs, table_from_frame  # noqa: E402
from core.report import evaluate  # noqa: E402
from core.review.html_report import fmt, report_html  # noqa: E402
from core.review.report_figures import gates_figure  # noqa: E402

BAD_COLUMN = '<img src=x onerror="alert(2)">'


def _frame(n: int, seed: int, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "person": [f"{prefix}-{i}" for i in range(n)],
        "age": rng.normal(40, 10, n).round(1),
        "hours": rng.normal(38, 6, n).round(1),
        BAD_COLUMN: rng.choice(["a", "b", MALICIOUS], n),
        "job": rng.choice(["clerk", "nurse", "baker"], n),
    })


@pytest.fixture(scope="module")
def evaluations():
    """One evaluation without a holdout (privacy cannot run) and one with a holdout and privacy."""
    real, synthetic, holdout = _frame(300, 1, REAL_MARKER), _frame(300, 2, "synthetic-row"), _frame(120, 3, "held")
    tables = [table_from_frame(real, "real.csv"), table_from_frame(synthetic, "synthetic.csv")]
    overrides = {"person": "id"}
    bare = evaluate(prepare_inputs(*tables, overrides=overrides), privacy=False)
    full = evaluate(prepare_inputs(*tables, table_from_frame(holdout, "holdout.csv"), overrides=overrides),
                    privacy=True)
    return bare, full


def _section_ids(page: str) -> set[str]:
    return set(re.findall(r'<section id="([a-z-]+)"', page))


def test_report_sections_present_only_when_run(evaluations):
    bare, full = evaluations
    bare_page, full_page = report_html(bare), report_html(full)
    assert {"summary", "gates", "column-shapes", "pair-trends", "validity", "appendix"} <= _section_ids(bare_page)
    assert not {"privacy", "utility", "records", "signoff"} & _section_ids(bare_page)
    assert "Privacy was not run: no holdout given" in bare_page
    assert "privacy" in _section_ids(full_page) and "utility" not in _section_ids(full_page)
    assert "Utility was not run: no target column chosen" in full_page


def test_report_figures_plotly_inlined_once(evaluations):
    page = report_html(evaluations[1])
    assert page.count("<script") == page.count("</script>")
    # plotly.js once, in the head; the figures only call it
    assert page.count("plotly.js v") <= 2 and len(page) < 2 * 4_700_000
    assert re.search(r"<(script|link|img)[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", page, re.I) is None
    # gates, column scores, 4 marginals, heatmaps, joint charts, privacy rates, DCR distribution
    assert page.count('class="plotly-graph-div"') >= 12


def test_report_escapes_data_everywhere(evaluations):
    page = report_html(evaluations[1], include_real=True)
    assert MALICIOUS not in page and BAD_COLUMN not in page
    assert "alert(1)</script>" not in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page  # in tables, escaped
    # figure labels are entity-escaped before plotly (which renders a subset of HTML in labels) sees them
    assert "\\u003cimg" not in page and "\\u003cscript" not in page


def test_real_rows_only_when_asked(evaluations):
    full = evaluations[1]
    without, with_real = report_html(full), report_html(full, include_real=True)
    assert REAL_MARKER not in without and "records" not in _section_ids(without)
    assert "<strong>excluded</strong>" in without
    assert "records" in _section_ids(with_real) and f"{REAL_MARKER}-" in with_real
    assert "<strong>included</strong>" in with_real


def test_numbers_are_rounded(store):
    engine, gid = store
    with read_session(engine) as s:
        bundle = export_evidence_bundle(s, gid)
    bundle["evaluations"][-1]["report"]["gates"][0]["value"] = 0.057812500000000044
    page = evidence_report_html(bundle)
    assert "0.057812500000000044" not in page and "0.0578125" not in page
    assert ">0.058<" in page
    assert fmt(0.057812500000000044) == "0.058" and fmt(12345.678) == "12,346" and fmt(None) == "—"
    assert fmt(0.00001234) == "1.2e-05" and fmt(3) == "3"


def test_gate_chart_separates_directions():
    gates = [{"name": "column_shapes", "value": 0.9, "threshold": 0.8, "passed": True},
             {"name": "exact_copies", "value": 0.05, "threshold": 0.01, "passed": False},
             {"name": "utility", "value": 0.95, "threshold": 0.9, "passed": True}]
    fig = gates_figure(gates)
    panels = {}
    for trace in fig.data:
        for name in trace.y:
            panels.setdefault(name, set()).add(trace.xaxis)
    assert panels == {"column_shapes": {"x"}, "utility": {"x"}, "exact_copies": {"x2"}}


def test_sign_off_trail_in_report(store):
    page = _html(store)
    assert 'id="signoff"' in page and "Audit chain verified at export" in page
    assert "Latest event of this generation" in page


def test_evaluation_of_other_tables_lends_no_charts(store, evaluations):
    engine, gid = store
    with read_session(engine) as s:
        bundle = export_evidence_bundle(s, gid)
    page = evidence_report_html(bundle, evaluations[1])  # the stored report has no such inputs
    assert "are not the ones of the stored evaluation" in page
    assert "Real vs synthetic, column by column" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the stored report is shown


def test_matching_evaluation_adds_distribution_charts(tmp_path, evaluations):
    full = evaluations[1]
    auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    engine = make_engine(sqlite_url(tmp_path / "match.sqlite3"))
    init_db(engine)
    with session_scope(engine) as s:
        auth.create_user(s, "maker", "password123", "reviewer")
        dataset = register_dataset(s, name="toy", sha256=_sha("real"), rows=300, schema={}, created_by="maker")
        generation = register_generation(s, {
            "method": "toy", "parameters": {}, "seed": 1, "library_versions": {}, "source_dataset_id": dataset.id,
            "synthetic_sha256": _sha("synthetic"), "rows": 300,
            "training_mix": {"real_rows": 300, "synthetic_rows": 0}}, created_by="maker")
        add_evaluation(s, generation.id, full.to_dict(), tool_version="test", created_by="maker")
        gid = generation.id
    with read_session(engine) as s:
        bundle = export_evidence_bundle(s, gid)
    engine.dispose()
    page = evidence_report_html(bundle, full)
    assert "Real vs synthetic, column by column" in page and "joint distributions" in page
    assert 'id="privacy"' in page and 'id="signoff"' in page
    assert REAL_MARKER not in page  # the bundle excludes real records, so the report does too


def test_page_report_redacted_for_visitors_not_reviewers():
    from core.review.export import REDACTED_CATEGORY, report_for_viewer

    report = {"gates": [{"name": "coverage", "detail": "workclass: real categories 'Never-worked' missing"}],
              "validity": {"columns": {"workclass": {"missing_categories": ["Never-worked"]}}}}
    for role in (None, "viewer"):
        shown, redacted = report_for_viewer(report, role)
        assert redacted == 2
        assert "Never-worked" not in str(shown) and REDACTED_CATEGORY in shown["gates"][0]["detail"]
    for role in ("reviewer", "approver", "admin"):
        assert report_for_viewer(report, role) == (report, 0)


def test_redaction_keeps_quoted_column_names():
    # The exported HTML report without real records read "ROC-AUC predicting [redacted]": the utility detail quotes
    # its target column, a name the report shows everywhere; only real category values are data to redact.
    from core.review.export import REDACTED_CATEGORY, report_for_viewer

    report = {"metadata": {"income": "categorical", "workclass": "categorical"},
              "gates": [{"name": "utility", "detail": "ROC-AUC predicting 'income': 0.8"},
                        {"name": "coverage", "detail": "'workclass': real categories 'Never-worked' missing"}]}
    shown, redacted = report_for_viewer(report, None)
    assert shown["gates"][0]["detail"] == "ROC-AUC predicting 'income': 0.8"
    assert shown["gates"][1]["detail"] == f"'workclass': real categories {REDACTED_CATEGORY} missing"
    assert redacted == 1


def test_decision_waivers_read_as_gate_reason_lines(store):
    # Exported HTML report: the decisions table showed waivers as raw JSON ([{"gate": ..., "reason": ...}]).
    from core.store.decisions import record_decision

    engine, gid = store
    with session_scope(engine) as s:
        record_decision(s, gid, kind="approved", signer="rita", comment="ok\nSigner confirmed the ten rules (1-10).",
                        waivers=[{"gate": "exact_copies", "reason": f"demo {MALICIOUS}"},
                                 {"gate": "column_shapes", "reason": "checked by hand"}],
                        policy_toml="", evaluation_id=None, review_ids=[])
    page = _html(store)
    decisions = page[page.index("<h3>Decisions</h3>"):page.index("<h3>Reviews</h3>")]
    assert "exact_copies: demo &lt;script&gt;alert(1)&lt;/script&gt;\ncolumn_shapes: checked by hand" in decisions
    assert "&quot;gate&quot;" not in decisions and "&quot;reason&quot;" not in decisions
    assert 'class="decisions"' in decisions and ".decisions td{white-space:pre-line}" in page  # one a line


def test_report_times_to_the_second_in_utc(store):
    # Exported HTML report: decisions, reviews and audit events showed raw ISO times with microseconds.
    import re

    from core.store.decisions import record_decision

    engine, gid = store
    with session_scope(engine) as s:
        record_decision(s, gid, kind="approved", signer="rita", comment="ok", waivers=[], policy_toml="",
                        evaluation_id=None, review_ids=[])
    page = _html(store)
    start = page.index('id="signoff"')
    trail = page[start:page.index("</section>", start)]
    assert re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}:\d{2}\.\d", trail) is None
    assert re.search(r"Latest decision: .* at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", trail)
    assert "<th>at (UTC)</th>" in trail and "<th>submitted (UTC)</th>" in trail
    start = page.index('id="generation"')
    summary = page[start:page.index("</table>", start)]
    assert "created_at" in summary and re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", summary) is None
