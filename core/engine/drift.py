"""Drift (core/checks/drift.py) of two tables on an engine: every statistic from counts, never from rows.

Each column's statistics come from its profile (distinct values with counts, core/engine/profile.py): missing
shares, category counts (chi-squared, Jensen-Shannon, new and vanished categories), the Wasserstein distance of
the two weighted empirical distributions normed by the reference's standard deviation, the histogram on shared
edges, and the Kolmogorov-Smirnov test. Pair associations come from one tally scan of each table
(core/engine/tally.py): Pearson moments, contingency tables (Cramer's V) and per-category sums (correlation
ratio). Dates are compared in seconds, as the in-memory drift compares them.

Where the numbers can differ from the in-memory path (tests/core/test_engine_drift.py holds them to 1e-9):
- KS p-value (a reference of at most `size_cutoff` rows): scipy's exact test when both tables have at most
  10,000 rows (the rows are rebuilt from the counts), else scipy's asymptotic formula (kstwo.sf(D, round(en)),
  what ks_2samp's "auto" method runs there) on D from the counts.
- Categories tied in count are listed (and folded into "(other)" for drawing) in another order: SQL has no
  row order to break the tie by.
"""
from __future__ import annotations

import itertools
from collections.abc import Collection

import numpy as np
from scipy import stats

from core.checks import drift as memory
from core.checks.drift import ColumnDrift, DriftPolicy, DriftResult
from core.data.metadata import CONTINUOUS_SDTYPES, Metadata
from core.engine.base import Engine
from core.engine.checks import category_ratio, tally_pairs
from core.engine.profile import ColumnProfile, merge_points, profile_columns
from core.stats.association import cramers_v

KS_EXACT_ROWS = 10_000  # scipy.stats.ks_2samp's MAX_AUTO_N: its "auto" method is exact up to this many rows
SECONDS = 1e9  # drift compares dates in seconds since 1970 (drift.comparable_values); the engine holds nanoseconds


def _scale(profile: ColumnProfile) -> float:
    return SECONDS if profile.sdtype == "datetime" else 1.0


def _values(profile: ColumnProfile, role: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct present values (dates in seconds) and their counts."""
    return profile.points[role] / _scale(profile), profile.counts[role]


def _category_counts(profile: ColumnProfile) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Categories as text (drift.comparable_values), most frequent first, and the counts of each side."""
    if profile.is_continuous:
        ref, cur = _values(profile, "real"), _values(profile, "current")
        points, _ = merge_points([ref, cur])
        keys = [str(v) for v in points]
        ref_counts = np.zeros(points.size)
        cur_counts = np.zeros(points.size)
        ref_counts[np.searchsorted(points, ref[0])] = ref[1]
        cur_counts[np.searchsorted(points, cur[0])] = cur[1]
    else:
        index: dict[str, int] = {}
        for label in profile.labels[:-1]:
            index.setdefault(str(label), len(index))
        code_to_key = np.array([index[str(label)] for label in profile.labels[:-1]], dtype=np.int64)
        keys = list(index)
        ref_counts = np.bincount(code_to_key, weights=profile.counts["real"][:-1], minlength=len(keys))
        cur_counts = np.bincount(code_to_key, weights=profile.counts["current"][:-1], minlength=len(keys))
        present = (ref_counts + cur_counts) > 0  # a category seen only in a table's missing-free rows elsewhere
        keys = [k for k, keep in zip(keys, present) if keep]
        ref_counts, cur_counts = ref_counts[present], cur_counts[present]
    order = np.lexsort((-ref_counts, -(ref_counts + cur_counts)))
    return [keys[i] for i in order], ref_counts[order], cur_counts[order]


def wasserstein_normed_counts(ref: tuple[np.ndarray, np.ndarray], cur: tuple[np.ndarray, np.ndarray]) -> float:
    """drift.wasserstein_normed_distance of the rows that the (values, counts) of each side stand for."""
    (rv, rc), (cv, cc) = ref, cur
    n = rc.sum()
    mean = float(np.dot(rv, rc) / n)
    std = float(np.sqrt(np.dot(rc, (rv - mean) ** 2) / n))
    return float(stats.wasserstein_distance(rv, cv, rc, cc)) / max(std, 0.001)


def ks_test_counts(ref: tuple[np.ndarray, np.ndarray], cur: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """drift.ks_test (scipy.stats.ks_2samp, two-sided, method "auto") of the rows the counts stand for."""
    (rv, rc), (cv, cc) = ref, cur
    n1, n2 = int(rc.sum()), int(cc.sum())
    if max(n1, n2) <= KS_EXACT_ROWS:
        return memory.ks_test(np.repeat(rv, rc), np.repeat(cv, cc))
    points = np.union1d(rv, cv)
    cdf1 = np.concatenate([[0], np.cumsum(rc)])[np.searchsorted(rv, points, side="right")] / n1
    cdf2 = np.concatenate([[0], np.cumsum(cc)])[np.searchsorted(cv, points, side="right")] / n2
    d = float(max(np.max(cdf1 - cdf2), np.clip(np.max(cdf2 - cdf1), 0, 1)))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return d, float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def _histograms(profile: ColumnProfile, bins: int) -> tuple[dict, dict]:
    """drift._histograms from counts: both sides on equal-width edges over the pooled range."""
    ref, cur = _values(profile, "real"), _values(profile, "current")
    edges = memory.shared_bin_edges(np.concatenate([ref[0], cur[0]]), bins)
    unit = "seconds since 1970-01-01" if profile.sdtype == "datetime" else None

    def side(values: tuple[np.ndarray, np.ndarray]) -> dict:
        counts = np.histogram(values[0], edges, weights=values[1])[0]
        return {"kind": "histogram", "n": int(values[1].sum()), "bin_edges": edges.tolist(),
                "counts": np.rint(counts).astype(np.int64).tolist(), "unit": unit}

    return side(ref), side(cur)


def column_drift(profile: ColumnProfile, policy: DriftPolicy) -> ColumnDrift:
    """drift._column_drift of one column from its profile ('real' is the reference, 'current' the new batch)."""
    rows_ref, rows_cur = profile.rows["real"], profile.rows["current"]
    missing_ref = profile.missing["real"] / rows_ref if rows_ref else float("nan")
    missing_cur = profile.missing["current"] / rows_cur if rows_cur else float("nan")
    missing_cut = max(policy.missing_share_change, 0.5 * memory.noise_floor(rows_ref, rows_cur))
    n_ref, n_cur = profile.present("real"), profile.present("current")
    numeric = profile.is_continuous
    if n_ref and n_cur:
        n_unique = merge_points([_values(profile, "real"), _values(profile, "current")])[0].size if numeric \
            else len(_category_counts(profile)[0])
    else:
        n_unique = 0
    as_categories = not numeric or n_unique <= policy.max_categories_as_numeric
    small = n_ref <= policy.size_cutoff
    new: list[str] = []
    vanished: list[str] = []
    new_share = vanished_share = 0.0
    p_value: float | None = None
    if n_ref == 0 or n_cur == 0:
        test, statistic, threshold, test_drifted = "none", None, float("nan"), False
        distance_name = "jensenshannon" if as_categories else "wasserstein_normed"
        distance = None
        ref_draw = cur_draw = {}
    elif as_categories:
        keys, ref_counts, cur_counts = _category_counts(profile)
        return memory.judge_column(profile.name, profile.sdtype, policy, missing_ref=missing_ref,
                                   missing_cur=missing_cur, missing_cut=missing_cut,
                                   **memory.category_drift(keys, ref_counts, cur_counts, numeric=numeric, small=small,
                                                           policy=policy))
    else:
        ref, cur = _values(profile, "real"), _values(profile, "current")
        distance_name, distance = "wasserstein_normed", wasserstein_normed_counts(ref, cur)
        test, threshold, statistic, p_value, test_drifted = memory.numeric_test(
            small, distance, lambda: ks_test_counts(ref, cur), policy)
        ref_draw, cur_draw = _histograms(profile, policy.histogram_bins)
    return memory.judge_column(
        profile.name, profile.sdtype, policy, test=test, statistic=statistic, threshold=threshold, p_value=p_value,
        test_drifted=bool(test_drifted), distance_name=distance_name, distance=distance,
        missing_ref=missing_ref, missing_cur=missing_cur, missing_cut=missing_cut, new=new, new_share=new_share,
        vanished=vanished, vanished_share=vanished_share, ref_draw=ref_draw, cur_draw=cur_draw)


def detect_drift(engine: Engine, tables: dict[str, str], metadata: Metadata, policy: DriftPolicy | None = None,
                 pairs: Collection[tuple[str, str]] | None = None,
                 profiles: dict[str, ColumnProfile] | None = None) -> DriftResult:
    """drift.detect_drift over registered tables {'real': reference, 'current': new batch} -> table names."""
    policy = policy or DriftPolicy()
    profiles = profiles if profiles is not None else profile_columns(engine, tables, metadata)
    columns: dict[str, ColumnDrift] = {}
    skipped: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for column, sdtype in metadata.items():
        if column not in profiles:
            skipped[column] = f"sdtype '{sdtype}' is not compared"
            continue
        profile = profiles[column]
        columns[column] = column_drift(profile, policy)
        if profile.present("real") == 0 or profile.present("current") == 0:
            side = "reference" if profile.present("real") == 0 else "current"
            skipped[f"pairs with '{column}'"] = f"no values in the {side} data"
        elif sdtype in CONTINUOUS_SDTYPES:
            kinds[column] = "numeric"
        elif int((_category_counts(profile)[1] > 0).sum()) > policy.max_pair_categories:
            skipped[f"pairs with '{column}'"] = f"more than {policy.max_pair_categories} categories"
        else:
            kinds[column] = "categorical"
    before, after = _associations(engine, tables, profiles, kinds, pairs)
    rows = next(iter(profiles.values())).rows if profiles else {"real": engine.row_count(tables["real"]),
                                                                 "current": engine.row_count(tables["current"])}
    judged = memory.judge_pairs(before, after, rows["real"], rows["current"], policy)
    return memory.dataset_drift(columns, judged, skipped, rows["real"], rows["current"], policy)


def _associations(engine: Engine, tables: dict[str, str], profiles: dict[str, ColumnProfile], kinds: dict[str, str],
                  sample: Collection[tuple[str, str]] | None) -> tuple[dict, dict]:
    """drift.association_matrix of each table from one tally scan: Pearson, Cramer's V, correlation ratio."""
    chosen = [(a, b) for a, b in itertools.combinations(list(kinds), 2) if sample is None or (a, b) in sample]
    if not chosen:
        return {}, {}
    numeric = [(a, b) for a, b in chosen if kinds[a] == kinds[b] == "numeric"]
    binned = [(a, b) for a, b in chosen if not kinds[a] == kinds[b] == "numeric"]
    mixed = [(b, a) if kinds[a] == "numeric" else (a, b) for a, b in binned if kinds[a] != kinds[b]]
    moments = list(dict.fromkeys(c for pair in numeric for c in pair))
    scale = {name: _scale(profiles[name]) for name in kinds if profiles[name].sdtype == "datetime"}
    tallies = tally_pairs(engine, tables, profiles, binned, mixed, moments, scale=scale, moment_pairs=numeric)
    out = []
    for role in ("real", "current"):
        tally = tallies[role]
        found = {}
        for a, b in chosen:
            if kinds[a] == kinds[b] == "numeric":
                found[(a, b)] = ("pearson", tally.pearson(tally.names[a], tally.names[b])[1])
            elif kinds[a] == kinds[b]:
                joint = tally.joint(tally.names[a], tally.names[b])
                found[(a, b)] = ("cramers_v", cramers_v(joint[:-1, :-1]))
            else:
                category, value = (a, b) if kinds[a] == "categorical" else (b, a)
                found[(a, b)] = ("correlation_ratio", category_ratio(tally, category, value))
        out.append(found)
    return out[0], out[1]
