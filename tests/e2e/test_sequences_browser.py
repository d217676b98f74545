"""In headless Chromium: upload a sequential table (training, holdout, synthetic) with its SDV metadata on the Data
page, then open Sequences (declared key and index, length histogram, autocorrelation, gate) and the Summary."""
from __future__ import annotations

import json

import pytest

from tests.e2e.test_browser import assert_no_error, charts_drawn, go, shot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def weather_files(tmp_path_factory):
    """JFK's hourly weather per station-day, whole days dealt to training, holdout and a fresh third, as CSVs,
    with SDV single-table metadata declaring the sequence key and index."""
    from core.demo.sequence import split_by_sequence, weather_per_station_day

    folder = tmp_path_factory.mktemp("weather")
    table = weather_per_station_day()
    one = table.frame[table.frame["origin"] == "JFK"].drop(columns=["origin"])
    parts = split_by_sequence(one, "station_day", (1, 1, 1), seed=2)
    paths = {}
    for name, frame in zip(("train", "holdout", "synthetic"), parts):
        paths[name] = folder / f"weather-{name}.csv"
        frame.to_csv(paths[name], index=False)
    metadata = {"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "sequence_key": "station_day",
                "sequence_index": "time_hour",
                "columns": {"station_day": {"sdtype": "id"}, "time_hour": {"sdtype": "datetime"},
                            **{c: {"sdtype": "numerical"}
                               for c in ("temp", "dewp", "humid", "wind_speed", "pressure", "visib")}}}
    paths["metadata"] = folder / "weather-metadata.json"
    paths["metadata"].write_text(json.dumps(metadata))
    return paths, parts


def test_uploaded_sequential_table_on_the_sequences_page(page, server_url, weather_files):
    paths, (train, _, _) = weather_files
    page.goto(server_url)
    wait_idle(page, 1500)
    page.get_by_role("heading", name="Data").first.wait_for()
    page.get_by_role("tab", name="Upload files").click()
    inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    for position, name in enumerate(("train", "synthetic", "holdout", "metadata")):
        inputs.nth(position).set_input_files(str(paths[name]))
        wait_idle(page)
    page.get_by_text("sequences named by station_day, ordered by time_hour", exact=False).first.wait_for()
    page.get_by_role("button", name="Load these files").click()
    wait_idle(page, 1500)
    page.get_by_text("Under review: uploaded files", exact=False).first.wait_for(timeout=240_000)
    assert_no_error(page, "upload with metadata")
    page.get_by_role("tab", name="Column types").click()
    page.get_by_text("Sequential: sequences named by station_day, ordered by time_hour (from "
                     "weather-metadata.json)").first.wait_for()

    go(page, server_url, "Sequences")
    page.get_by_text("Declared by the metadata file weather-metadata.json", exact=False).first.wait_for()
    page.locator('[data-testid="stMetric"]', has_text="Real sequences").first.wait_for(timeout=240_000)
    real_sequences = page.locator('[data-testid="stMetric"]', has_text="Real sequences").first.inner_text()
    assert f"{train['station_day'].nunique():,}" in real_sequences
    charts_drawn(page)
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2  # length histogram and its null
    assert page.get_by_text("sequence_trends").count() >= 1
    assert_no_error(page, "sequences")
    shot(page, "sequences-uploaded-lengths")
    page.get_by_role("tab", name="Autocorrelation").click()
    wait_idle(page)
    charts_drawn(page)
    page.get_by_text("KSComplement of per-sequence lag-1 autocorrelation", exact=False).first.wait_for()
    shot(page, "sequences-uploaded-autocorrelation")
    page.get_by_role("tab", name="Transitions").click()
    page.get_by_text("No categorical column to draw transitions for").first.wait_for()

    go(page, server_url, "Summary")
    page.get_by_text("sequence_trends").first.wait_for(state="attached", timeout=240_000)  # a grid cell
    assert_no_error(page, "summary")
