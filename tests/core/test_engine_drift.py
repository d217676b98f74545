"""Drift on the engine: every statistic, flag and verdict equals the in-memory drift (core/checks/drift.py) to 1e-9."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from core.checks.drift import DriftPolicy
from core.checks.drift import detect_drift as memory_drift
from core.data.metadata import coerce_to_metadata, detect_metadata
from core.engine import make_engine
from core.engine.drift import detect_drift as engine_drift
from tests.core.test_engine import _flights


def _close(a, b, path: str, out: list[str], tol: float = 1e-9) -> None:
    """Every leaf of two to_dict() reports equal (numbers to `tol`; category lists and shares as sets/dicts)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append(f"{path}: keys {sorted(set(a) ^ set(b))}")
        for key in set(a) & set(b):
            _close(a[key], b[key], f"{path}.{key}", out, tol)
    elif isinstance(a, list) and isinstance(b, list):
        if path.endswith(("new_categories", "vanished_categories")):
            if sorted(a) != sorted(b):
                out.append(f"{path}: {a} vs {b}")
        elif path.endswith(".pairs"):  # ordered by change; pairs tied in change may swap
            keyed = lambda pairs: {tuple(p["columns"]): p for p in pairs}
            _close(keyed(a), keyed(b), path, out, tol)
        elif len(a) != len(b):
            out.append(f"{path}: {len(a)} vs {len(b)} items")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                _close(x, y, f"{path}[{i}]", out, tol)
    elif isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not (math.isclose(a, b, rel_tol=tol, abs_tol=tol)):
            out.append(f"{path}: {a} vs {b}")
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")


def _both(reference: pd.DataFrame, current: pd.DataFrame, tmp_path, metadata=None, policy=None, pairs=None):
    metadata = metadata or detect_metadata(reference)
    memory = memory_drift(reference, current, metadata, policy, pairs=pairs)
    engine = make_engine("duckdb")
    for role, frame in (("real", reference), ("current", current)):
        coerce_to_metadata(frame, metadata, role).to_parquet(tmp_path / f"{role}.parquet", index=False)
        engine.register(role, tmp_path / f"{role}.parquet")
    on_engine = engine_drift(engine, {"real": "real", "current": "current"}, metadata, policy, pairs=pairs)
    engine.close()
    return memory, on_engine


def _differences(memory, engine) -> list[str]:
    out: list[str] = []
    _close(json.loads(json.dumps(memory.to_dict())), json.loads(json.dumps(engine.to_dict())), "drift", out)
    return out


def test_census_large_planted_drift_equal(census, tmp_path):
    """Large tables (Wasserstein, Jensen-Shannon): a clean half and a half with a planted shift, both equal."""
    order = np.random.default_rng(3).permutation(len(census))
    reference, current = census.iloc[order[:6000]].reset_index(drop=True), census.iloc[order[6000:]].reset_index(drop=True)
    memory, engine = _both(reference, current, tmp_path)
    assert {c.test for c in memory.columns.values()} == {"wasserstein_normed", "jensenshannon"}
    assert not memory.drifted and _differences(memory, engine) == []
    shifted = current.copy()
    shifted["age"] = shifted["age"] + 12
    shifted.loc[shifted.index[:1500], "education"] = "Doctorate degree(PhD)"  # a category moved
    memory, engine = _both(reference, shifted, tmp_path)
    assert memory.drifted and memory.columns["age"].drifted
    assert _differences(memory, engine) == []


def test_penguins_small_tables_tests_equal(penguins, tmp_path):
    """Small tables (KS and chi-squared p-values, exact), missing values, a numeric column tested as categories."""
    frame = penguins.copy()
    frame["year"] = frame["year"].astype(float)  # three distinct values: tested as categories
    reference, current = frame.iloc[:170].reset_index(drop=True), frame.iloc[170:].reset_index(drop=True)
    memory, engine = _both(reference, current, tmp_path)
    assert {c.test for c in memory.columns.values()} >= {"ks", "chi_squared"}
    assert memory.columns["year"].test == "chi_squared"
    assert _differences(memory, engine) == []


def test_flights_dates_and_asymptotic_ks_equal(tmp_path):
    """Dates compared in seconds; a small reference against a current table past KS's exact size (asymptotic)."""
    frame = _flights(16_000)[["month", "dep_delay", "arr_delay", "carrier", "origin", "distance", "time_hour"]]
    metadata = detect_metadata(frame)
    assert metadata["time_hour"] == "datetime"
    reference, current = frame.iloc[:900].reset_index(drop=True), frame.iloc[900:].reset_index(drop=True)
    memory, engine = _both(reference, current, tmp_path, metadata)
    assert memory.columns["time_hour"].test == "ks" and len(current) > 10_000
    assert _differences(memory, engine) == []
    reference, current = frame.iloc[:8000].reset_index(drop=True), frame.iloc[8000:].reset_index(drop=True)
    pairs = [("month", "dep_delay"), ("carrier", "origin"), ("origin", "distance"), ("dep_delay", "time_hour")]
    memory, engine = _both(reference, current, tmp_path, metadata, DriftPolicy(size_cutoff=100), pairs)
    assert {tuple(p.columns) for p in memory.pairs} == set(pairs)
    assert _differences(memory, engine) == []


def test_cli_drift_on_duckdb_matches_pandas(census, tmp_path):
    """`python -m core drift --engine duckdb` writes the in-memory report (plus its engine section)."""
    from core.cli import main

    reference, current = census.iloc[:5000], census.iloc[5000:].copy()
    current["age"] = current["age"] + 25  # a large effect: the dataset drifts
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    current.to_parquet(tmp_path / "current.parquet", index=False)
    args = ["drift", "--reference", str(tmp_path / "reference.parquet"), "--current", str(tmp_path / "current.parquet")]
    codes = {name: main(args + ["--engine", name, "--json", str(tmp_path / f"{name}.json")]) for name in ("pandas", "duckdb")}
    reports = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in codes}
    assert codes["pandas"] == codes["duckdb"] == 1  # drifted
    assert reports["duckdb"].pop("engine")["rows"] == {"real": 5000, "current": len(current)}
    out: list[str] = []
    _close(reports["pandas"], reports["duckdb"], "report", out)
    assert out == []
