"""Membership inference: can the distance to the nearest synthetic row tell training rows from holdout rows?

The attack scores a candidate by minus its distance to the nearest synthetic row; its AUC on training
(member) vs holdout (non-member) candidates is 0.5 when the synthetic table leaks nothing. The gate's null is
the same attack with real rows posing as the synthetic table: per resample a random half of the holdout is the
'synthetic' table and the other half supplies the non-members, with the same number of candidates per group
as the real attack, so holdout rows never trip the gate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from core.stats.distances import nearest_encoded

CONFIDENCE_LEVEL = 0.95
# Holdout rows used for the null (split into a posing half and a non-member half): the null holds one
# candidates x holdout distance matrix in float32, ~70 MB at 3,000 rows.
NULL_HOLDOUT_ROWS = 3000
NULL_RESAMPLES = 100  # at most: each resample is a min over a column subset of that matrix


@dataclass
class MembershipInference:
    """Distance attack: score = -distance to the nearest synthetic row; AUC train vs holdout."""

    auc: float
    ci_low: float
    ci_high: float
    candidates_per_group: int
    seed: int
    null: np.ndarray | None = None  # AUC with half the holdout posing as the synthetic table, per resample


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


def _distance_matrix(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Float32 Euclidean distances rows x columns; identical encoded rows get exactly 0."""
    squared = (rows**2).sum(axis=1)[:, None] + (columns**2).sum(axis=1)[None, :] - 2.0 * (rows @ columns.T)
    matrix = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
    _, ids = np.unique(np.vstack([rows, columns]), axis=0, return_inverse=True)
    ids = ids.reshape(-1)
    matrix[ids[: len(rows), None] == ids[None, len(rows):]] = 0.0
    return matrix


def membership_null(train_enc: np.ndarray, holdout_enc: np.ndarray, n: int, *, resamples: int, seed: int) -> np.ndarray:
    """AUCs of the distance attack when half the holdout poses as the synthetic table (n candidates a group)."""
    rng = np.random.default_rng(seed + 1)
    hold = holdout_enc if len(holdout_enc) <= NULL_HOLDOUT_ROWS else \
        holdout_enc[rng.choice(len(holdout_enc), NULL_HOLDOUT_ROWS, replace=False)]
    half = len(hold) // 2
    n = min(n, len(hold) - half, len(train_enc))
    if half < 2 or n < 2:
        return np.zeros(0)
    pool = train_enc[rng.choice(len(train_enc), min(len(train_enc), 2 * n), replace=False)]
    to_hold = _distance_matrix(np.vstack([pool, hold]), hold)  # (pool + holdout) x holdout
    out = np.empty(min(resamples, NULL_RESAMPLES))
    for r in range(len(out)):
        order = rng.permutation(len(hold))
        posing, others = order[:half], order[half:]
        members = rng.choice(len(pool), n, replace=False)
        non_members = len(pool) + rng.choice(others, n, replace=False)
        scores = -to_hold[np.concatenate([members, non_members])][:, posing].min(axis=1)
        out[r] = auc_score(scores[:n], scores[n:])
    return out


def membership_inference(
    train_enc: np.ndarray,
    synthetic_enc: np.ndarray,
    holdout_enc: np.ndarray,
    *,
    seed: int = 0,
    max_candidates: int = 10_000,
    resamples: int = NULL_RESAMPLES,
) -> MembershipInference:
    """AUC (Hanley-McNeil 95% CI) of telling training from holdout rows by distance to the nearest synthetic
    row, and its null; candidates per group: at most half the null's holdout rows, so both use the same."""
    rng = np.random.default_rng(seed)
    n = min(len(train_enc), min(len(holdout_enc), NULL_HOLDOUT_ROWS) // 2, max_candidates)
    n = max(n, min(len(train_enc), len(holdout_enc), 1))
    members = train_enc[rng.choice(len(train_enc), n, replace=False)]
    others = holdout_enc[rng.choice(len(holdout_enc), n, replace=False)]
    _, dist = nearest_encoded(synthetic_enc, np.vstack([members, others]), 1)
    score = -dist[:, 0]
    auc = auc_score(score[:n], score[n:])
    low, high = hanley_mcneil_interval(auc, n, n)
    null = membership_null(train_enc, holdout_enc, n, resamples=resamples, seed=seed)
    return MembershipInference(auc, low, high, n, seed, null)
