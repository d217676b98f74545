"""The Spark engine in local[2]: the same aggregates, scores and verdicts as the in-memory path (to 1e-9).

One SparkSession serves every test here (a JVM start costs tens of seconds on a loaded machine). Without a
Java runtime the tests are skipped, saying so; with REVIEW_DESK_REQUIRE_SERVICES=1 (CI) they fail instead.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.engine import aggregates as agg
from core.engine.spark import SparkEngine, java_executable
from core.errors import InputError
from tests.conftest import three_way_split
from tests.core import engine_compare as compare


@pytest.fixture(scope="session")
def spark_session():
    """One quiet local[2] session for the whole run (stopped at the end)."""
    if java_executable() is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("no Java runtime (java on PATH or $JAVA_HOME): apt-get install openjdk-17-jre-headless")
    from core.engine.spark import spark_session as start

    session = start("local[2]", driver_memory="1g", quick_start=True)
    yield session
    session.stop()


@pytest.fixture
def spark(spark_session):
    """A SparkEngine on the shared session; its views are dropped after the test, the session kept."""
    engine = SparkEngine(session=spark_session)
    yield engine
    engine.close()


def _both_paths(spark: SparkEngine, tables: dict[str, pd.DataFrame], metadata: dict, folder):
    """engine_compare.both_paths with the shared Spark session rather than a new one per call."""
    from core.checks.fidelity import evaluate_fidelity
    from core.checks.validity import evaluate_validity
    from core.engine import checks as engine_checks
    from core.policy import load_policy
    from core.report import apply_gates, null_settings

    policy = load_policy()
    settings = null_settings(policy)
    memory_f = evaluate_fidelity(tables, metadata, settings=settings)
    memory_v = evaluate_validity(tables, metadata, settings=settings)
    for role, frame in tables.items():
        path = folder / f"{role}.parquet"
        frame.to_parquet(path, index=False)
        spark.register(role, path)
    names = {role: role for role in tables}
    profiles = engine_checks.profile_columns(spark, names, metadata)
    tallies = engine_checks.tally_tables(spark, names, profiles)
    engine_f = engine_checks.evaluate_fidelity(spark, names, metadata, profiles, settings=settings, tallies=tallies)
    engine_v = engine_checks.evaluate_validity(spark, names, metadata, profiles, settings=settings, tallies=tallies)
    memory_gates, _ = apply_gates(memory_f, memory_v, None, policy)
    engine_gates, _ = apply_gates(engine_f, engine_v, None, policy)
    return (memory_f, memory_v, memory_gates), (engine_f, engine_v, engine_gates)


def _real_differences(memory, engine, metadata: dict) -> list[str]:
    """engine_compare.differences, less a tie: two categories with the same largest gap, named apart.

    The engine codes categories in sorted order, the in-memory path by first appearance; when two categories
    share the largest frequency gap, each path reports another one (same score, same gap).
    """
    shapes_m = {c.column: c for c in memory[0].column_shapes}
    shapes_e = {c.column: c for c in engine[0].column_shapes}
    out = []
    for line in compare.differences(memory, engine, metadata):
        name, _, key = line.partition(":")[0].removeprefix("shape ").rpartition(".")
        if line.startswith("shape ") and key in ("real", "synthetic") and name in shapes_m:
            m, e = shapes_m[name], shapes_e[name]
            if m.metric == "TVComplement" and abs(abs(m.real - m.synthetic) - abs(e.real - e.synthetic)) <= 1e-12:
                continue
        out.append(line)
    return out


# --- the engine itself --------------------------------------------------------------------------------
def test_register_frame_parquet_csv_and_folder_give_the_same_aggregates(spark, penguins, tmp_path):
    """Counts and sums over a frame, a Parquet file, a CSV file and a folder of Parquet parts agree with pandas."""
    penguins.to_parquet(tmp_path / "p.parquet", index=False)
    penguins.to_csv(tmp_path / "p.csv", index=False)
    (tmp_path / "parts").mkdir()
    penguins.iloc[:200].to_parquet(tmp_path / "parts" / "a.parquet", index=False)
    penguins.iloc[200:].to_parquet(tmp_path / "parts" / "b.parquet", index=False)
    expected = penguins.groupby("species")["bill_length_mm"].agg(["size", "sum"])
    for table, source in (("f", penguins), ("p", tmp_path / "p.parquet"), ("c", str(tmp_path / "p.csv")),
                          ("d", tmp_path / "parts")):
        spark.register(table, source)
        assert spark.row_count(table) == len(penguins)
        got = spark.sql(f"SELECT species, COUNT(*) AS n, SUM(bill_length_mm) AS s FROM {table} GROUP BY species")
        got = got.set_index("species").sort_index()
        assert got["n"].tolist() == expected["size"].tolist(), table
        np.testing.assert_allclose(got["s"].to_numpy(), expected["sum"].to_numpy(), rtol=0, atol=1e-9)


def test_quote_takes_any_column_name(spark):
    """Backticks, spaces and dots in a column name survive quote() (a backtick is doubled)."""
    frame = pd.DataFrame({"a `b` c": [1, 2, 2], "x.y z": ["u", "v", "v"]})
    spark.register("odd", frame)
    assert spark.quote("a `b` c") == "`a ``b`` c`"
    got = spark.sql(f"SELECT {spark.quote('x.y z')} AS v, SUM({spark.quote('a `b` c')}) AS s "
                    f"FROM odd GROUP BY {spark.quote('x.y z')} ORDER BY v")
    assert got.to_dict("list") == {"v": ["u", "v"], "s": [1, 4]}


def test_sample_is_seeded_sized_and_made_of_the_tables_rows(spark, penguins):
    """The same seed draws the same rows, another seed others; never more rows than asked or than there are."""
    spark.register("p", penguins)
    first, again, other = spark.sample("p", 50, 3), spark.sample("p", 50, 3), spark.sample("p", 50, 4)
    assert len(first) == 50 and list(first.columns) == list(penguins.columns)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    keys = lambda f: set(map(tuple, f.astype(object).where(f.notna(), None).astype(str).to_numpy()))
    assert keys(first) <= keys(penguins)
    assert len(spark.sample("p", 10_000, 3)) == len(penguins)
    # the hash cut (344 rows > 4 x 50) orders fewer rows and keeps the same ones as ordering them all
    values = ", ".join(spark.quote(c) for c in penguins.columns)
    everything = spark.session.sql(f"SELECT {values} FROM p ORDER BY xxhash64(3, {values}), {values} LIMIT 50").toPandas()
    pd.testing.assert_frame_equal(first, everything)


def test_an_unreadable_file_is_one_line_naming_it(spark, tmp_path):
    """A missing file and a file that is no Parquet are InputErrors naming the file, on one line."""
    with pytest.raises(InputError, match="no such file") as missing:
        spark.register("x", tmp_path / "absent.parquet")
    assert "absent.parquet" in str(missing.value)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet\n")
    with pytest.raises(InputError) as broken:
        spark.register("x", bad)
    assert "bad.parquet" in str(broken.value) and "\n" not in str(broken.value)


def test_spark_tally_codes_nan_as_missing_and_bins_as_numpy(spark):
    """The executors' tally: NaN and NULL are one missing code, bins are np.digitize's, categories by value."""
    from core.engine.tally import Discrete, TallyPlan

    values = np.array([np.nan, -1.5, 0.0, 0.1, 0.30000000000000004, 2.0, 7.25, np.inf])
    labels = np.array(["b", "a", None, "a", "b", "a", "c", "a"], dtype=object)
    spark.register("v", pd.DataFrame({"x": values, "c": labels}))
    edges = np.array([0.0, 0.1, 0.30000000000000004, 5.0])
    plan = TallyPlan(continuous={"x": edges}, discrete={"c": Discrete(pa.array(["a", "b", "c"]), np.arange(3), 3)},
                     cells=[("x", "c")])
    query = agg.projection(spark, "v", {"x": agg.value_expr(spark, "x", "numerical"), "c": spark.quote("c")})
    got = spark.tally(query, plan).joint("x", "c")
    finite = np.where(np.isfinite(values), values, np.nan)
    codes = np.where(np.isnan(finite), 5, np.digitize(finite, [-np.inf, *edges, np.inf]) - 1)
    category = np.array([{"a": 0, "b": 1, "c": 2, None: 3}[c] for c in labels])
    want = np.zeros((6, 4), dtype=np.int64)
    np.add.at(want, (codes, category), 1)
    np.testing.assert_array_equal(got, want)


# --- scores and verdicts equal the in-memory path ---------------------------------------------------------
def test_penguins_scores_and_verdicts_equal_the_in_memory_path(spark, penguins, tmp_path):
    """Penguins (mixed types, missing values), a fresh real sample as the synthetic table: every score equal."""
    train, holdout, fresh = three_way_split(penguins)
    tables, metadata = compare.prepared({"real": train, "synthetic": fresh, "holdout": holdout})
    memory, engine = _both_paths(spark, tables, metadata, tmp_path)
    assert memory[0].column_shapes and memory[0].pair_trends
    assert _real_differences(memory, engine, metadata) == []


def test_census_planted_defect_fails_the_same_gates_on_spark(spark, census, tmp_path):
    """The census demo's columns with a planted defect: the same scores and the same failed gates on Spark."""
    columns = ["age", "wage_per_hour", "capital_gains", "education", "sex", "race", "income_gt_50k"]
    train, holdout, fresh = three_way_split(census[columns].iloc[:4_000])
    broken = fresh.copy()
    rng = np.random.default_rng(5)
    broken["age"] = rng.permutation(broken["age"].to_numpy()) + 15  # shifted, and its associations lost
    tables, metadata = compare.prepared({"real": train, "synthetic": broken, "holdout": holdout})
    memory, engine = _both_paths(spark, tables, metadata, tmp_path)
    failed = {g.name for g in memory[2] if not g.passed}
    assert failed, "the planted defect must fail a gate, or equal verdicts prove nothing"
    assert _real_differences(memory, engine, metadata) == []
    assert {g.name for g in engine[2] if not g.passed} == failed


def test_listing_of_a_url_through_hadoop(spark, penguins, tmp_path):
    """A folder URL lists its part files (not _SUCCESS) with their sizes and times, as the file system has them."""
    import os
    from datetime import datetime, timezone

    (tmp_path / "parts").mkdir()
    penguins.iloc[:200].to_parquet(tmp_path / "parts" / "a.parquet", index=False)
    penguins.iloc[200:].to_parquet(tmp_path / "parts" / "b.parquet", index=False)
    (tmp_path / "parts" / "_SUCCESS").write_text("")
    url = (tmp_path / "parts").as_uri()
    listing = spark.listing(url)
    assert [f["path"].rsplit("/", 1)[-1] for f in listing] == ["a.parquet", "b.parquet"]
    for record in listing:
        stat = os.stat(tmp_path / "parts" / record["path"].rsplit("/", 1)[-1])
        assert record["size"] == stat.st_size
        assert record["modified"] == datetime.fromtimestamp(int(stat.st_mtime * 1000) / 1000, tz=timezone.utc).isoformat()
    spark.register("parts", url)
    assert spark.row_count("parts") == len(penguins)


def test_drift_on_spark_equals_the_in_memory_drift(spark, census, tmp_path):
    """Drift's statistics, flags and verdict from Spark's profiles and tally equal core/checks/drift.py's."""
    import json

    from core.checks.drift import detect_drift as memory_drift
    from core.data.metadata import coerce_to_metadata, detect_metadata
    from core.engine.drift import detect_drift as engine_drift
    from tests.core.test_engine_drift import _close

    reference, current = census.iloc[:3000].reset_index(drop=True), census.iloc[3000:6000].reset_index(drop=True)
    current["age"] = current["age"] + 12  # planted drift
    metadata = detect_metadata(reference)
    for role, frame in (("real", reference), ("current", current)):
        coerce_to_metadata(frame, metadata, role).to_parquet(tmp_path / f"{role}.parquet", index=False)
        spark.register(role, tmp_path / f"{role}.parquet")
    memory = memory_drift(reference, current, metadata)
    on_spark = engine_drift(spark, {"real": "real", "current": "current"}, metadata)
    assert memory.columns["age"].drifted and memory.pairs
    out: list[str] = []
    _close(json.loads(json.dumps(memory.to_dict())), json.loads(json.dumps(on_spark.to_dict())), "drift", out)
    assert out == []


def test_distinct_values_past_the_cap_are_refused_naming_the_column(spark):
    """The numeric value counts are capped per column after the GROUP BY (a row number per column): a column
    past [engine] max_distinct_values is refused by name, the others come back whole."""
    from core.engine.profile import profile_columns
    from core.errors import UsageError

    frame = pd.DataFrame({"x": np.arange(800) / 7.0, "y": np.arange(800) % 5 * 1.0})
    spark.register("real", frame)
    rows, counted = agg.value_counts(spark, "real", {"kx": agg.value_expr(spark, "x", "numerical"),
                                                     "ky": agg.value_expr(spark, "y", "numerical")},
                                     {"kx", "ky"}, limit=500)
    assert rows == 800 and counted["kx"].num_rows == 501 and sorted(counted["ky"].column("n").to_pylist()) == [160] * 5
    with pytest.raises(UsageError, match=r"column 'x' of the real table holds more than 500 distinct values"):
        profile_columns(spark, {"real": "real"}, {"x": "numerical", "y": "numerical"}, max_distinct=500)
