"""The tally (core/engine/tally.py): each count and sum equals a brute-force computation over the same rows."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.checks.validity import duplicate_share
from core.data.encoding import combine_row_keys
from core.engine import tally as tally_module
from core.engine.tally import Discrete, Tally, TallyPlan, joint_groups, tally_batches


def _rows(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=n), 1)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({
        "x": x, "y": np.round(x * 2 + rng.normal(size=n), 2), "z": rng.exponential(size=n) * 1e6,
        "a": rng.choice(["u", "v", "w", None], size=n), "b": rng.choice([1, 2, 3], size=n).astype(np.int64),
        "c": rng.choice(list("abcdefghijklmnopqrst"), size=n),
    })


def _plan(frame: pd.DataFrame, keys: bool = False) -> TallyPlan:
    edges = {c: np.linspace(frame[c].min(), frame[c].max(), 11)[1:-1] for c in ("x", "y", "z")}
    discrete = {}
    for c in ("a", "b", "c"):
        values = sorted(frame[c].dropna().unique().tolist())
        discrete[c] = Discrete(pa.array(values), np.arange(len(values)), len(values))
    cells = [(p, q) for p, q in itertools.combinations(["x", "y", "z", "a", "b", "c"], 2) if not (p in edges and q in edges)]
    return TallyPlan(continuous=edges, discrete=discrete, cells=cells,
                     sums=[(d, c) for d in ("a", "b", "c") for c in ("x", "y", "z")], moments=["x", "y", "z"],
                     shift={"x": 0.1, "y": -3.0, "z": 1e6}, keys=list(frame.columns) if keys else None)


def _codes(frame: pd.DataFrame, plan: TallyPlan, column: str) -> np.ndarray:
    if column in plan.continuous:
        values = frame[column].to_numpy(dtype=float)
        edges = np.concatenate([[-np.inf], plan.continuous[column], [np.inf]])
        return np.where(np.isnan(values), len(edges) - 1, np.digitize(values, edges) - 1)
    index = {v: i for i, v in enumerate(plan.discrete[column].values.to_pylist())}
    return np.array([plan.discrete[column].missing if v is None else index[v] for v in frame[column]])


def _batches(frame: pd.DataFrame, size: int) -> list[pa.RecordBatch]:
    return pa.Table.from_pandas(frame, preserve_index=False).to_batches(max_chunksize=size)


def test_bin_codes_are_numpys_digitize_on_edges_nan_and_uneven_edges():
    """Arithmetic bin codes with their correction equal np.digitize, values exactly on edges included."""
    rng = np.random.default_rng(2)
    for edges in (np.linspace(-3.0, 7.0, 11)[1:-1], np.array([0.0, 0.1, 0.30000000000000004, 5.0]),
                  np.sort(rng.exponential(size=9)), np.linspace(1.6e18, 1.7e18, 11)[1:-1], np.array([2.5])):
        values = np.concatenate([rng.normal(size=2000) * edges.std() * 3 + edges.mean(), edges,
                                 np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), [np.nan, -1e300, 1e300]])
        codes = Tally._bin_codes(values, edges)
        want = np.where(np.isnan(values), edges.size + 1, np.digitize(values, [-np.inf, *edges, np.inf]) - 1)
        np.testing.assert_array_equal(codes, want)


def test_joint_groups_hold_every_pair_within_the_bound():
    levels = {"n1": 11, "n2": 11, "c2": 3, "c3": 4, "c5": 6, "c60": 61, "c40": 41, "big": 5000}
    pairs = [(n, c) for n in ("n1", "n2") for c in levels if c.startswith("c") or c == "big"]
    pairs += list(itertools.combinations(["c2", "c3", "c5", "c60", "c40"], 2))
    groups = joint_groups(pairs, levels)
    for a, b in pairs:
        assert any(a in g and b in g for g in groups), (a, b)
    for group in groups:
        assert len(group) == 2 or np.prod([levels[c] for c in group]) <= tally_module.JOINT_CELLS
    assert len(groups) < len(pairs) / 2  # several pairs per count


def test_tally_counts_sums_and_moments_equal_brute_force():
    """Joint codes, category sums and Pearson's r over complete pairs, for every pair, from batches of 700 rows."""
    frame = _rows(5000)
    plan = _plan(frame)
    tally = tally_batches(_batches(frame, 700), plan)
    assert tally.rows == len(frame)
    for a, b in plan.cells:
        want = np.zeros((plan.levels(a), plan.levels(b)), dtype=np.int64)
        np.add.at(want, (_codes(frame, plan, a), _codes(frame, plan, b)), 1)
        np.testing.assert_array_equal(tally.joint(a, b), want)
        np.testing.assert_array_equal(tally.joint(b, a), want.T)
    for d, c in plan.sums:
        n, sums, squares = tally.category_sums(d, c)
        codes, values = _codes(frame, plan, d), frame[c].to_numpy(dtype=float)
        present = ~np.isnan(values)
        np.testing.assert_array_equal(n, np.bincount(codes[present], minlength=plan.levels(d)))
        np.testing.assert_allclose(sums, np.bincount(codes[present], weights=values[present], minlength=plan.levels(d)),
                                   rtol=1e-12)
        kept = present & (codes != plan.discrete[d].missing)
        assert squares == pytest.approx(float((values[kept] ** 2).sum()), rel=1e-12)
    for a, b in itertools.combinations(plan.moments, 2):
        n, r = tally.pearson(a, b)
        complete = frame[[a, b]].dropna()
        assert n == len(complete)
        assert r == pytest.approx(np.corrcoef(complete[a], complete[b])[0, 1], abs=1e-12)


def test_parts_merge_to_the_whole():
    """Tallies of two parts of a table, merged (as Spark's partitions are), equal the tally of the whole."""
    frame = _rows(3000, seed=1)
    plan = _plan(frame)
    whole = tally_batches(_batches(frame, 1000), plan)
    merged = tally_batches(_batches(frame.iloc[:1234], 500), plan).merge(tally_batches(_batches(frame.iloc[1234:], 999), plan))
    for a, b in plan.cells:
        np.testing.assert_array_equal(merged.joint(a, b), whole.joint(a, b))
    np.testing.assert_allclose(merged.moments, whole.moments, rtol=1e-12)
    for d, c in plan.sums:
        np.testing.assert_allclose(merged.category_sums(d, c)[1], whole.category_sums(d, c)[1], rtol=1e-12)


def test_integer_categories_match_float_values_and_unknown_values_are_missing():
    """A table whose integers arrive as floats (1.0) is coded by the same values; NULL is the missing code."""
    plan = TallyPlan(continuous={}, discrete={"b": Discrete(pa.array([1.0, 2.0, 3.0]), np.array([0, 1, 2]), 3),
                                              "a": Discrete(pa.array(["u", "v"]), np.array([1, 0]), 2)},
                     cells=[("a", "b")])
    batch = pa.RecordBatch.from_pydict({"a": ["u", "v", None, "u"], "b": pa.array([1, 3, 2, None], pa.int64())})
    joint = tally_batches([batch], plan).joint("a", "b")
    want = np.zeros((3, 4), dtype=np.int64)
    for a, b in ((1, 0), (0, 2), (2, 1), (1, 3)):
        want[a, b] += 1
    np.testing.assert_array_equal(joint, want)


@pytest.mark.parametrize("in_memory", [True, False])
def test_duplicate_rows_counted_exactly_in_memory_and_spilled(monkeypatch, tmp_path, in_memory):
    """Row keys (the in-memory path's own) count repeated rows exactly, also when spilled to bucket files."""
    frame = _rows(4000, seed=3)
    frame = pd.concat([frame, frame.iloc[:700], frame.iloc[:50]], ignore_index=True)  # 750 planted repeats
    if not in_memory:
        monkeypatch.setattr(tally_module, "KEYS_IN_MEMORY", 900)
    plan = _plan(frame, keys=True)
    plan.spill_folder = str(tmp_path)
    tally = tally_batches(_batches(frame, 600), plan)
    keys = combine_row_keys([frame[c].to_numpy(dtype=float) + 0.0 if c in plan.continuous else _codes(frame, plan, c)
                             for c in plan.keys])
    assert tally.duplicate_rows() == round(duplicate_share(keys) * len(frame)) == 750 + int(frame.iloc[:4000].duplicated().sum())
    assert list(tmp_path.iterdir()) == []  # the spill files are gone


def test_sql_tally_equals_the_streamed_tally():
    """tally_sql (the Spark engine's tally, GROUP BYs of codes) gives the streamed tally's counts, sums and
    moments, here through DuckDB in the same shared dialect."""
    from core.engine import aggregates as agg
    from core.engine.base import DuckDBEngine
    from core.engine.tally import tally_sql

    frame = _rows(5000, seed=4)
    plan = _plan(frame)
    engine = DuckDBEngine()
    try:
        engine.register("t", frame)
        query = agg.projection(engine, "t", {c: agg.value_expr(engine, c, "numerical") if c in plan.continuous
                                             else engine.quote(c) for c in frame.columns})
        streamed, grouped = engine.tally(query, plan), tally_sql(engine, query, plan)
    finally:
        engine.close()
    assert grouped.rows == streamed.rows == len(frame)
    for a, b in plan.cells:
        np.testing.assert_array_equal(grouped.joint(a, b), streamed.joint(a, b))
    for d, c in plan.sums:
        for got, want in zip(grouped.category_sums(d, c), streamed.category_sums(d, c)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
    for a, b in itertools.combinations(plan.moments, 2):
        n, r = grouped.pearson(a, b)
        assert (n, r) == (streamed.pearson(a, b)[0], pytest.approx(streamed.pearson(a, b)[1], abs=1e-12))
