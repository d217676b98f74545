"""Membership inference: can the distance to the nearest synthetic row tell training rows from holdout rows?

The attack scores a candidate by minus its distance to the nearest synthetic row; its AUC on training
(member) vs holdout (non-member) candidates is 0.5 when the synthetic table leaks nothing. The gate's null is
the same attack with real rows posing as the synthetic table: per resample as many holdout rows as the
synthetic table has (at most a third of the holdout) pose as the 'synthetic' table, other holdout rows supply the
non-members and training rows the members, as many per group as the real attack has (at most a third of the
holdout), so a clean sample of any size, and holdout rows, never trip the gate beyond the false-alarm rate.

Why thirds: with half the holdout posing and the other half the non-members, every resample split one fixed
set of rows in two, and the null came out narrower than a chance classifier's Mann-Whitney spread (weather at
1,000 rows, 30 independent splits of benchmarks/calibration.py: null sd 0.0114 against the attack's own spread
over splits 0.0171; 3 of 30 clean samples above the 1% bound). With non-members drawn from the two thirds not
posing, the null's sd was 0.0150 against a spread of 0.0150 over the same 30 splits, at the cost of a third fewer
candidates. Over 60 independent splits each (census at 4,800 rows, weather at 1,000) the attack's AUC spread
0.0168 and 0.0157, a chance classifier's spread at those candidates (0.0167), while the null drawn from one
finite holdout spread 0.0142-0.0148 (its posing rows and non-members come from the same 1,800 rows, so they vary
less than fresh draws): the gate's bound uses the larger of the two spreads (core.gates.judge's min_sd with
core.stats.null.chance_auc_sd).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from core.stats.distances import nearest_encoded
from core.stats.memo import real_side

CONFIDENCE_LEVEL = 0.95
# Holdout rows used for the null: at most a third of them pose, and at most a third are non-members (so at most
# a third of them are candidates per group in the real attack as well).
NULL_HOLDOUT_ROWS = 4000
NULL_NEIGHBOURS = 24  # nearest holdout rows kept per candidate for the null's resamples
# Training rows the null's members are drawn from, per candidate: the members vary between resamples as
# the real attack's random members would (a pool of 2n left the null too narrow: 3 of 30 clean 300-row
# samples of census failed at the 1% rate).
NULL_MEMBER_POOL = 4
NULL_RESAMPLES = 200


@dataclass
class MembershipInference:
    """Distance attack: score = -distance to the nearest synthetic row; AUC train vs holdout."""

    auc: float
    ci_low: float
    ci_high: float
    candidates_per_group: int
    seed: int
    null: np.ndarray | None = None  # AUC with holdout rows posing as the synthetic table, per resample


def auc_score(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (Mann-Whitney U / n1 n2)."""
    ranks = rankdata(np.concatenate([positive, negative]))
    n1, n2 = len(positive), len(negative)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n2))


def hanley_mcneil_interval(auc: float, n_pos: int, n_neg: int, level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Normal-approximation CI of an AUC with the Hanley & McNeil (1982) standard error."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    half = norm.ppf(0.5 + level / 2) * math.sqrt(max(var, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)


def _nearest_lists(rows: np.ndarray, columns: np.ndarray, k: int, chunk: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """For each row: its k nearest `columns` rows (positions, nearest first) and distances; identical encoded
    rows get exactly 0 (the float64 product expansion leaves ~1e-8 on them otherwise)."""
    _, ids = np.unique(np.vstack([rows, columns]), axis=0, return_inverse=True)
    ids = ids.reshape(-1)
    row_ids, column_ids = ids[: len(rows)], ids[len(rows):]
    column_norm = (columns**2).sum(axis=1)
    k = min(k, len(columns))
    positions = np.empty((len(rows), k), dtype=np.int64)
    distances = np.empty((len(rows), k))
    for start in range(0, len(rows), chunk):
        block = rows[start : start + chunk]
        squared = (block**2).sum(axis=1)[:, None] + column_norm[None, :] - 2.0 * (block @ columns.T)
        squared = np.maximum(squared, 0.0)
        squared[row_ids[start : start + chunk, None] == column_ids[None, :]] = 0.0
        found = np.argpartition(squared, k - 1, axis=1)[:, :k] if k < len(columns) else \
            np.broadcast_to(np.arange(k), (len(block), k)).copy()
        picked = np.take_along_axis(squared, found, axis=1)
        order = np.argsort(picked, axis=1, kind="stable")
        positions[start : start + len(block)] = np.take_along_axis(found, order, axis=1)
        distances[start : start + len(block)] = np.sqrt(np.take_along_axis(picked, order, axis=1))
    return positions, distances


@real_side
def membership_null(train_enc: np.ndarray, holdout_enc: np.ndarray, n: int, *, resamples: int, seed: int,
                    posing_rows: int | None = None, groups: np.ndarray | None = None) -> np.ndarray:
    """AUCs of the distance attack when real rows pose as the synthetic table (n candidates a group).

    Each resample draws what the real attack draws: `posing_rows` holdout rows (the synthetic table's size, at
    most a third of the null's holdout rows) pose as the synthetic table, n other holdout rows (at most a third)
    are the non-members and n training rows (from a pool of up to NULL_MEMBER_POOL x n) the members. Each candidate's NULL_NEIGHBOURS
    nearest holdout rows are found once; a resample's nearest posing row is the first of them that poses
    (when none does, it is measured exactly).
    `groups` (one code per holdout row) keeps rows that belong together on one side: a parent-child join's
    rows of one parent entity are near copies of each other, so a row split would put a non-member's
    siblings among the posing rows, which no synthetic table does (the null's AUC would sit far below 0.5).
    Then whole groups pose, as many as first cover `posing_rows` rows (at most a third of the groups).
    """
    rng = np.random.default_rng(seed + 1)
    if groups is None:
        hold = holdout_enc if len(holdout_enc) <= NULL_HOLDOUT_ROWS else \
            holdout_enc[rng.choice(len(holdout_enc), NULL_HOLDOUT_ROWS, replace=False)]
        hold_groups = None
    else:
        codes = np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)
        order = rng.permutation(int(codes.max()) + 1)
        # whole groups in a seeded order, up to NULL_HOLDOUT_ROWS rows
        within = np.cumsum(np.bincount(codes)[order]) <= NULL_HOLDOUT_ROWS
        rows = np.flatnonzero(np.isin(codes, order[: max(int(within.sum()), 4)]))
        hold = holdout_enc[rows]
        hold_groups = np.unique(codes[rows], return_inverse=True)[1].reshape(-1)
    third = len(hold) // 3
    posing_size = third if posing_rows is None else max(1, min(int(posing_rows), third))
    n = min(n, third, len(train_enc))
    if third < 2 or n < 2 or (hold_groups is not None and hold_groups.max() < 3):
        return np.zeros(0)
    pool = train_enc[rng.choice(len(train_enc), min(len(train_enc), NULL_MEMBER_POOL * n), replace=False)]
    candidates = np.vstack([pool, hold])
    positions, distances = _nearest_lists(candidates, hold, NULL_NEIGHBOURS)
    out = np.empty(resamples)
    for r in range(resamples):
        if hold_groups is None:
            order = rng.permutation(len(hold))
            posing = np.zeros(len(hold), dtype=bool)
            posing[order[:posing_size]] = True
            others = order[posing_size:]
        else:
            group_order = rng.permutation(int(hold_groups.max()) + 1)
            covered = np.cumsum(np.bincount(hold_groups)[group_order])
            count = max(min(int(np.searchsorted(covered, posing_size)) + 1, len(group_order) // 3), 1)
            posing = np.isin(hold_groups, group_order[:count])
            others = np.flatnonzero(~posing)
        k = min(n, others.size)
        chosen = np.concatenate([rng.choice(len(pool), k, replace=False),
                                 len(pool) + rng.choice(others, k, replace=False)])
        inside = posing[positions[chosen]]
        first = inside.argmax(axis=1)
        nearest = distances[chosen, first]
        missed = np.flatnonzero(~inside.any(axis=1))
        if missed.size:
            _, exact = nearest_encoded(hold[posing], candidates[chosen[missed]], 1)
            nearest[missed] = exact[:, 0]
        out[r] = auc_score(-nearest[:k], -nearest[k:])
    return out


def membership_inference(
    train_enc: np.ndarray,
    synthetic_enc: np.ndarray,
    holdout_enc: np.ndarray,
    *,
    seed: int = 0,
    max_candidates: int = 10_000,
    resamples: int = NULL_RESAMPLES,
    holdout_groups: np.ndarray | None = None,
) -> MembershipInference:
    """AUC (Hanley-McNeil 95% CI) of telling training from holdout rows by distance to the nearest synthetic
    row, and its null; candidates per group: at most a third of the null's holdout rows, so both use the same.
    holdout_groups: the holdout rows' entities (see membership_null), None when every row stands alone."""
    rng = np.random.default_rng(seed)
    n = min(len(train_enc), min(len(holdout_enc), NULL_HOLDOUT_ROWS) // 3, max_candidates)
    n = max(n, min(len(train_enc), len(holdout_enc), 1))
    members = train_enc[rng.choice(len(train_enc), n, replace=False)]
    others = holdout_enc[rng.choice(len(holdout_enc), n, replace=False)]
    _, dist = nearest_encoded(synthetic_enc, np.vstack([members, others]), 1)
    score = -dist[:, 0]
    auc = auc_score(score[:n], score[n:])
    low, high = hanley_mcneil_interval(auc, n, n)
    null = membership_null(train_enc, holdout_enc, n, resamples=resamples, seed=seed,
                           posing_rows=len(synthetic_enc), groups=holdout_groups)
    return MembershipInference(auc, low, high, n, seed, null)
