"""Nearest records: both engines (the fused C kernel and torch's block products, the fallback) equal float64 brute
force (cdist + sort by distance, then position) on real tables and adversarial cases, as does the kernel's
generic build (no AVX-512, and no fused multiply-add); without a compiler the search falls back to torch; the
approximate index is used only past the time budget, says so, and its recall is the brute-force recall on the
seeded sample."""
from __future__ import annotations

import platform

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

import core.stats.nearest as nearest_module
import core.stats.nearest_kernel as kernel_module
from core.data.metadata import coerce_to_metadata
from core.errors import PolicyError
from core.policy import parse_policy
from core.stats.distances import DistanceEncoding, nearest_encoded
from core.stats.nearest import (EXTRA_CANDIDATES, SearchStats, approximate_nearest, distinct_rows, exact_nearest,
                                nearest_search, recall_against_exact)

SMALL_BLOCKS = {"block_bytes": 64 * 4 * 300, "reference_block_rows": 300}  # many torch blocks on small tables


@pytest.fixture(params=["kernel", "torch"])
def engine(request, monkeypatch) -> str:
    """Each engine, the kernel with one panel a block and 24 query rows a chunk (many of both on small tables)."""
    if request.param == "kernel":
        if kernel_module.load_kernel() is None:
            assert kernel_module.compiler() is None, kernel_module.kernel_status()  # a compiler must build it
            pytest.skip("no C compiler on this machine: " + kernel_module.kernel_status())
        monkeypatch.setattr(nearest_module, "KERNEL_BLOCK_BYTES", 1)
        monkeypatch.setattr(nearest_module, "KERNEL_CHUNK_ROWS", 24)
    return request.param


def brute(ref: np.ndarray, qry: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k nearest of the full float64 distance matrix, ties to the lower position; -1/inf past the reference's
    rows. The matrix is cdist's to 1e-12; its entries are summed as the search re-measures (cdist rounds the
    last bit differently, which would reorder rows whose distances tie mathematically, e.g. one category off)."""
    d = np.zeros((len(qry), len(ref)))
    for start in range(0, len(qry), 50):
        d[start:start + 50] = np.sqrt(((qry[start:start + 50, None, :] - ref[None, :, :]) ** 2).sum(axis=2))
    if len(ref) and np.isfinite(d).all() and d.max() > 1e-150:  # (cdist's own rounding differs where squares underflow)
        np.testing.assert_allclose(d, cdist(qry, ref), rtol=1e-12, atol=1e-15)
    order = np.lexsort((np.broadcast_to(np.arange(len(ref)), d.shape), d), axis=1)[:, :k]
    pos = np.full((len(qry), k), -1)
    dist = np.full((len(qry), k), np.inf)
    pos[:, :order.shape[1]] = order
    dist[:, :order.shape[1]] = np.take_along_axis(d, order, axis=1)
    return pos, dist


def assert_same(ref: np.ndarray, qry: np.ndarray, k: int, engine: str | None = None, **kwargs) -> SearchStats:
    stats = SearchStats()
    pos, dist = exact_nearest(ref, qry, k, stats=stats, engine=engine, **kwargs)
    want_pos, want_dist = brute(ref, qry, k)
    np.testing.assert_array_equal(pos, want_pos)
    np.testing.assert_array_equal(dist, want_dist)
    return stats


@pytest.fixture(scope="module")
def census() -> pd.DataFrame:
    """1,200 demo training rows then 600 of its synthetic rows (the demo files, built once and cached)."""
    from core.demo import build_demo

    files = build_demo()
    return pd.concat([pd.read_csv(files.train, nrows=1200), pd.read_csv(files.synthetic, nrows=600)],
                     ignore_index=True)


def _encode(frame: pd.DataFrame) -> np.ndarray:
    metadata = {c: ("numerical" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical") for c in frame}
    frame = coerce_to_metadata(frame, metadata, "table")
    return DistanceEncoding.fit(frame, metadata).transform(frame)


def test_census_rows_equal_brute_force_with_their_repeats(census, engine):
    encoded = _encode(census)
    ref, qry = encoded[:1200], encoded[1200:]
    assert len(np.unique(ref, axis=0)) < len(ref)  # census rows repeat: the distinct-row path is exercised
    stats = assert_same(ref, qry, 3, engine, **SMALL_BLOCKS)
    assert stats.engine == engine
    assert_same(ref, ref[:300], 2, engine, **SMALL_BLOCKS)  # every query is a copy: distance 0, lowest first
    big = np.vstack([encoded] * 2)  # > 1,000 query rows, all repeated: the query de-duplication path
    assert_same(ref, big, 2, engine, **SMALL_BLOCKS)


def test_palmerpenguins_equal_brute_force(engine):
    from palmerpenguins import load_penguins

    encoded = _encode(load_penguins())  # missing values: circular columns
    assert_same(encoded[:200], encoded[200:], 4, engine, **SMALL_BLOCKS)


def test_exact_duplicates_and_ties_go_to_the_lower_position_and_need_the_second_pass(engine):
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 3, size=(600, 3)).astype(float)  # a grid: many rows equally far from a query
    qry = rng.integers(0, 3, size=(300, 3)).astype(float) + 0.5
    stats = assert_same(ref, qry, 5, engine, **SMALL_BLOCKS)
    assert stats.second_pass_queries > 0  # the eight grid corners around a query tie
    grid = np.array([[x, y] for x in range(40) for y in range(40)], dtype=float)
    stats = assert_same(grid, grid[::7] + 0.5, 5, engine, **SMALL_BLOCKS)  # 5th of a ring of 8 equally far rows
    assert stats.second_pass_queries > 0


def test_near_ties_a_billionth_apart_are_ranked_exactly(engine):
    """Rows whose distances to a query differ by 1e-9 (float32 cannot tell them apart: the second pass must)."""
    rng = np.random.default_rng(8)
    qry = rng.normal(size=(40, 5))
    directions = rng.normal(size=(40, 8, 5))
    directions /= np.linalg.norm(directions, axis=2, keepdims=True)
    radius = 1 + np.array([3, 0, 2, -1, 1, 0, -2, 4]) * 1e-9  # two exact ties (0) among near-ties
    rings = (qry[:, None, :] + directions * radius[None, :, None]).reshape(-1, 5)
    ref = np.vstack([rng.normal(size=(500, 5)) * 4 + 9, rings])  # the rings' rows are nearest to their query
    stats = assert_same(ref, qry, 4, engine, **SMALL_BLOCKS)
    assert stats.second_pass_queries > 0


def test_near_zero_distances_stay_apart_from_copies(engine):
    rng = np.random.default_rng(1)
    ref = rng.uniform(0, 1, size=(2000, 6))
    qry = np.vstack([ref[:50], ref[50:100] * (1 + 1e-9), ref[100:150] + 1e-12])
    pos, dist = exact_nearest(ref, qry, 2, engine=engine, **SMALL_BLOCKS)
    assert (dist[:50, 0] == 0.0).all() and (dist[50:, 0] > 0).all() and (dist[50:100, 0] < 1e-8).all()
    np.testing.assert_array_equal(pos[:, 0], np.r_[np.arange(50), np.arange(50, 100), np.arange(100, 150)])
    assert_same(ref, qry, 2, engine, **SMALL_BLOCKS)


@pytest.mark.parametrize("scale, offset", [(1e-25, 0.0), (1e-60, 0.0), (1e-170, 0.0), (1.0, 1e8), (1e12, 0.0),
                                           (1e-9, 1e3)])
def test_tiny_and_huge_magnitudes_stay_exact(engine, scale, offset):
    """1e-25 and 1e-60: float32 squares underflow (wrong answers before the power-of-two scaling); 1e-170: the
    float64 re-measure's own squares underflow, so its rows tie at 0 (to the lower position) as brute force's do;
    a 1e8 offset with unit spread, and a 1e-9 spread far from 0: the centring keeps the bound small."""
    rng = np.random.default_rng(9)
    ref = rng.normal(size=(700, 4)) * scale + offset
    qry = np.vstack([rng.normal(size=(60, 4)) * scale + offset, ref[:5]])
    stats = assert_same(ref, qry, 3, engine, **SMALL_BLOCKS)
    assert stats.engine == engine


def test_constant_columns_one_reference_row_and_k_beyond_the_rows(engine):
    rng = np.random.default_rng(2)
    data = np.column_stack([rng.normal(size=500), np.full(500, 0.25), rng.normal(size=500)])
    assert_same(data[:300], data[300:], 3, engine, **SMALL_BLOCKS)
    assert_same(data[:1], data[300:], 2, engine)  # one reference row: the second neighbour is -1 at inf
    assert_same(data[:300], data[300:301], 2, engine)  # one query row
    assert_same(data[:9], data[300:], 12, engine)  # k beyond the rows (and beyond k + EXTRA_CANDIDATES)
    assert_same(data[:20], data[300:], 20, engine)
    assert 9 < 2 + EXTRA_CANDIDATES + 2
    # k beyond the distinct rows but not the rows: 40 distinct rows three times each, the copies in position order
    assert_same(np.vstack([data[:40]] * 3), data[300:], 10, engine)
    assert_same(np.vstack([data[:4]] * 5), data[300:], 7, engine)
    pos, dist = exact_nearest(np.zeros((5, 0)), np.zeros((3, 0)), 2, engine=engine)  # every column constant
    assert (dist == 0).all() and (pos == [0, 1]).all()
    pos, dist = exact_nearest(np.zeros((0, 2)), np.zeros((3, 2)), 2, engine=engine)
    assert (pos == -1).all() and np.isinf(dist).all()


def test_many_dimensions_and_rows_off_the_tile_sizes(engine):
    rng = np.random.default_rng(10)
    ref = rng.integers(0, 2, size=(1001, 150)) / np.sqrt(2)  # 150 one-hot-like dimensions, 1001 rows
    qry = np.vstack([rng.integers(0, 2, size=(36, 150)) / np.sqrt(2), ref[7:8]])  # 37 query rows
    assert_same(ref, qry, 2, engine, **SMALL_BLOCKS)


@pytest.mark.parametrize("prune", [True, False])
def test_clustered_rows_skip_panels_their_boxes_rule_out_and_stay_exact(prune, monkeypatch):
    """Tight clusters: most reference panels are provably out of reach of a query tile and are never scored."""
    if kernel_module.load_kernel() is None:
        pytest.skip("no C compiler on this machine: " + kernel_module.kernel_status())
    monkeypatch.setattr(nearest_module, "PRUNE", prune)
    rng = np.random.default_rng(13)
    centres = rng.normal(size=(40, 6)) * 10
    ref = centres[rng.integers(0, 40, 4000)] + rng.normal(size=(4000, 6)) * 0.3
    qry = np.vstack([centres[rng.integers(0, 40, 500)] + rng.normal(size=(500, 6)) * 0.3, ref[:20]])
    stats = assert_same(ref, qry, 3, "kernel")
    if prune:
        assert stats.scored_pairs < 0.5 * stats.pairs
    else:
        assert stats.scored_pairs >= stats.pairs


def test_pruning_is_left_out_where_the_principal_axes_hold_little_variance():
    rng = np.random.default_rng(14)
    ref = rng.normal(size=(3000, 20))  # i.i.d.: the first 4 axes hold about 4/20 of the variance
    stats = assert_same(ref, rng.normal(size=(300, 20)), 2, "kernel")
    assert stats.engine != "kernel" or stats.scored_pairs >= stats.pairs


def test_far_outside_values_fall_back_to_float64_and_stay_exact(engine):
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(400, 3))
    qry = np.vstack([rng.normal(size=(50, 3)), np.full((2, 3), 1e17)])
    stats = assert_same(ref, qry, 2, engine, **SMALL_BLOCKS)
    assert stats.engine == "torch"  # coordinates beyond 1e15: float64 products


def test_distinct_rows_groups_equal_rows_and_survives_a_hash_collision(monkeypatch):
    rng = np.random.default_rng(11)
    rows = rng.integers(0, 3, size=(3000, 5)).astype(float)
    rows[1, :] = -0.0  # -0.0 equals 0.0
    rows[2, :] = 0.0
    first, inverse = distinct_rows(rows)
    _, want_first, want_inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    assert sorted(first) == sorted(want_first)
    np.testing.assert_array_equal(rows, rows[first][inverse])
    assert inverse[1] == inverse[2]
    # every hash equal: the check finds distinct rows in one group and falls back to grouping by value
    monkeypatch.setattr(nearest_module.np, "unique", _colliding_unique(np.unique))
    first, inverse = distinct_rows(rows)
    assert sorted(first) == sorted(want_first)
    np.testing.assert_array_equal(rows, rows[first][inverse])


def _colliding_unique(unique):
    """np.unique that puts every 64-bit hash in one group (as if all collided); other calls unchanged."""
    def wrapped(values, *args, **kwargs):
        if values.dtype == np.uint64 and values.ndim == 1:
            return unique(np.zeros_like(values), *args, **kwargs)
        return unique(values, *args, **kwargs)
    return wrapped


GENERIC_BUILDS = [("-O3", "-march=native", "-mno-avx512f"),  # AVX2 / fused multiply-add vectors
                  ("-O3",)]  # the baseline ISA: 4-lane vectors, each product rounded before the add


@pytest.mark.parametrize("flags", GENERIC_BUILDS, ids=["native-without-avx512", "baseline"])
def test_the_generic_build_equals_brute_force(census, flags, tmp_path, monkeypatch):
    """The kernel's portable path (what a CPU without AVX-512 runs), built here with AVX-512 switched off."""
    cc = kernel_module.compiler()
    if cc is None or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("needs a C compiler on x86-64")
    kernel = kernel_module.open_kernel(kernel_module.build(cc, flags, folder=tmp_path), flags)
    assert not kernel.avx512
    monkeypatch.setattr(kernel_module, "load_kernel", lambda: kernel)
    monkeypatch.setattr(nearest_module, "KERNEL_BLOCK_BYTES", 1)
    monkeypatch.setattr(nearest_module, "KERNEL_CHUNK_ROWS", 24)
    encoded = _encode(census)
    assert assert_same(encoded[:1200], encoded[1200:], 3, "kernel").engine == "kernel"
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 3, size=(600, 3)).astype(float)
    assert assert_same(ref, rng.integers(0, 3, size=(300, 3)) + 0.5, 5, "kernel").second_pass_queries > 0
    assert_same(rng.normal(size=(999, 20)), rng.normal(size=(101, 20)), 2, "kernel")


@pytest.mark.parametrize("cc", ["/nonexistent/cc", "false"], ids=["no-compiler", "failing-compiler"])
def test_without_a_working_compiler_the_search_falls_back_to_torch(cc, monkeypatch):
    rng = np.random.default_rng(12)
    ref, qry = rng.normal(size=(800, 6)), rng.normal(size=(200, 6))
    monkeypatch.setenv("CC", cc)
    kernel_module.load_kernel.cache_clear()
    try:
        assert kernel_module.load_kernel() is None
        assert "torch block products are used" in kernel_module.kernel_status()
        stats = assert_same(ref, qry, 2)  # engine chosen by the search: torch
        assert stats.engine == "torch"
        assert assert_same(ref, qry, 2, "kernel").engine == "torch"  # asked for, but not there
    finally:
        monkeypatch.undo()
        kernel_module.load_kernel.cache_clear()
    assert kernel_module.load_kernel() is not None or kernel_module.compiler() is None


def test_nearest_encoded_keeps_the_query_deduplication_and_reports_progress():
    rng = np.random.default_rng(4)
    ref = rng.integers(0, 4, size=(1500, 4)) / 3.0
    qry = rng.integers(0, 4, size=(3000, 4)) / 3.0 + rng.integers(0, 2, size=(3000, 1)) * 0.01
    seen = []
    pos, dist = nearest_encoded(ref, qry, 2, progress=lambda fraction, message: seen.append(fraction))
    want_pos, want_dist = brute(ref, qry, 2)
    np.testing.assert_array_equal(pos, want_pos)
    np.testing.assert_array_equal(dist, want_dist)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_approximate_index_is_used_only_past_the_budget_and_its_recall_is_brute_forces():
    rng = np.random.default_rng(5)
    ref, qry = rng.normal(size=(4000, 8)), rng.normal(size=(1500, 8))
    exact = nearest_search(ref, qry, 2, time_budget_seconds=60.0, pairs_per_second=1e9)
    assert exact.method == "exact" and exact.recall is None
    np.testing.assert_array_equal(exact.positions, brute(ref, qry, 2)[0])
    approx = nearest_search(ref, qry, 2, time_budget_seconds=1e-3, pairs_per_second=1e6, seed=11, recall_sample=300)
    assert approx.method == "approximate" and approx.to_dict()["method"] == "approximate"
    sample = np.sort(np.random.default_rng(11).choice(len(qry), 300, replace=False))
    _, want = brute(ref, qry[sample], 2)
    kth = want[:, -1:]
    assert approx.recall == pytest.approx(float(np.mean(approx.distances[sample] <= kth * (1 + 1e-12))))
    assert approx.recall == recall_against_exact(approx.distances[sample], want)
    assert 0.5 < approx.recall <= 1.0
    # every distance the index returns is the float64 distance of the row it names
    named = np.sqrt(((qry[:, None, :] - ref[approx.positions]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(named, approx.distances)


def test_a_poor_index_reports_a_poor_recall():
    rng = np.random.default_rng(6)
    ref, qry = rng.normal(size=(5000, 16)), rng.normal(size=(400, 16))
    _, dist, _ = approximate_nearest(ref, qry, 2, nprobe=1)
    _, want = brute(ref, qry, 2)
    assert recall_against_exact(dist, want) < 0.9  # one probed list of ~70 misses neighbours
    assert recall_against_exact(want, want) == 1.0


def test_privacy_report_marks_the_approximate_search():
    from core.checks.privacy import evaluate_privacy

    rng = np.random.default_rng(7)
    frame = lambda n: pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n),
                                    "c": rng.choice(list("abc"), n)})
    metadata = {"x": "numerical", "y": "numerical", "c": "categorical"}
    train, synthetic, holdout = (coerce_to_metadata(frame(n), metadata, "t") for n in (600, 400, 300))
    exact = evaluate_privacy(train, synthetic, holdout, metadata, n_attacks=50, resamples=20)
    assert exact.to_dict()["distance"]["nearest_search"]["method"] == "exact"
    approx = evaluate_privacy(train, synthetic, holdout, metadata, n_attacks=50, resamples=20,
                              nearest_time_budget_seconds=1e-12)
    search = approx.to_dict()["distance"]["nearest_search"]
    assert search["method"] == "approximate" and 0 < search["recall"] <= 1
    assert search["searches"]["synthetic_to_train"]["recall_sample"] == 400


def test_policy_time_budget_key():
    assert parse_policy("[privacy]\nnearest_time_budget_seconds = 30\n").nearest_time_budget_seconds == 30.0
    assert parse_policy("").nearest_time_budget_seconds == 600.0
    with pytest.raises(PolicyError, match="nearest_time_budget_seconds"):
        parse_policy("[privacy]\nnearest_time_budget_seconds = 0\n")
    with pytest.raises(PolicyError, match="nearest_time_budget_seconds"):
        parse_policy('[privacy]\nnearest_time_budget_seconds = "fast"\n')
