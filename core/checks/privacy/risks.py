"""Anonymeter-style risks: singling out, linkability and attribute inference, each against a holdout control.

Residual risk = (main success - control success) / (1 - control success), Wilson confidence intervals as in
anonymeter.stats.confidence; main attacks target training rows, control attacks holdout rows.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from core.stats.distances import MISSING, DistanceEncoding, category_keys, nearest_encoded, numeric_values

NUMERIC_GUESS_MARGIN = 0.05  # a numeric secret is guessed right within 5 % of its real range
CONFIDENCE_LEVEL = 0.95


@dataclass
class AttackRisk:
    """Anonymeter-style risk: (main success - control success) / (1 - control success), Wilson CIs."""

    name: str
    n_attacks: int
    main_successes: int
    control_successes: int
    main_rate: float
    control_rate: float
    risk: float
    ci_low: float
    ci_high: float
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON form; risk in [0, 1], lower is better."""
        return {
            "risk": self.risk,
            "risk_ci95": [self.ci_low, self.ci_high],
            "main_attack_success_rate": self.main_rate,
            "control_attack_success_rate_baseline": self.control_rate,
            "n_attacks": self.n_attacks,
            **self.detail,
        }


def wilson_rate(successes: int, total: int, level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Wilson score estimate and half-width of a success rate (as anonymeter.stats.confidence.success_rate)."""
    z = norm.ppf(0.5 + level / 2)
    if total == 0:
        return 0.5, 0.5
    denominator = total + z * z
    rate = (successes + 0.5 * z * z) / denominator
    error = z / denominator * math.sqrt(successes * (total - successes) / total + 0.25 * z * z)
    return rate, error


def attack_risk(name: str, main_successes: int, control_successes: int, n_attacks: int, detail: dict | None = None) -> AttackRisk:
    """Residual risk (main - control) / (1 - control) with propagated Wilson errors, bounded to [0, 1]."""
    main, main_err = wilson_rate(main_successes, n_attacks)
    control, control_err = wilson_rate(control_successes, n_attacks)
    if control >= 1.0:
        residual, err = 0.0, 1.0
    else:
        residual = (main - control) / (1 - control)
        err = math.sqrt((main_err / (1 - control)) ** 2 + (control_err * (main - 1) / (1 - control) ** 2) ** 2)
    clip = lambda x: min(max(x, 0.0), 1.0)  # noqa: E731
    return AttackRisk(
        name, n_attacks, int(main_successes), int(control_successes), float(main), float(control),
        clip(float(residual)), clip(float(residual - err)), clip(float(residual + err)), detail or {},
    )


# --- Anonymeter-style attacks --------------------------------------------------------------------
def attack_matrix(frame: pd.DataFrame, encoding: DistanceEncoding, codes: dict[str, np.ndarray] | None = None
                  ) -> np.ndarray:
    """Numbers for predicate evaluation: numeric values, category level codes; NaN for missing. `codes`: the
    frame's encoding.level_codes when already computed."""
    codes = encoding.level_codes(frame) if codes is None else codes
    out = np.empty((len(frame), len(encoding.columns)))
    for j, column in enumerate(encoding.columns):
        if encoding.sdtypes[column] in ("numerical", "datetime"):
            out[:, j] = numeric_values(frame[column])
        else:
            levels = encoding.levels[column]
            level = codes[column].astype(float)
            if MISSING in levels:
                level[codes[column] == levels.index(MISSING)] = np.nan
            out[:, j] = level
    return out


_EQ, _GE, _LE, _NULL = 0, 1, 2, 3


def _count_matches(table: np.ndarray, cols: np.ndarray, values: np.ndarray, ops: np.ndarray, chunk: int = 20_000) -> np.ndarray:
    """Number of rows of `table` matching each conjunctive predicate (cols/values/ops are (queries, k))."""
    counts = np.zeros(len(cols), dtype=np.int64)
    for start in range(0, len(table), chunk):
        block = table[start : start + chunk]
        match = np.ones((len(block), len(cols)), dtype=bool)
        for j in range(cols.shape[1]):
            x = block[:, cols[:, j]]
            v, op = values[:, j], ops[:, j]
            with np.errstate(invalid="ignore"):
                cond = np.where(op == _EQ, x == v, np.where(op == _GE, x >= v, np.where(op == _LE, x <= v, np.isnan(x))))
            match &= cond
        counts += match.sum(axis=0)
    return counts


def singling_out_risk(
    train: np.ndarray,
    synthetic: np.ndarray,
    holdout: np.ndarray,
    numeric: np.ndarray,
    *,
    n_attacks: int = 500,
    n_cols: int = 3,
    seed: int = 0,
    batch: int = 256,
) -> AttackRisk:
    """Multivariate singling out: predicates that isolate one synthetic row, checked on train vs holdout.

    Each predicate is built as anonymeter's multivariate mode does: a random synthetic row and n_cols
    random columns; categories `==`, numbers `>=` the row's value if above the synthetic median else
    `<=`, missing `is null`. Predicates that match exactly one synthetic row are kept (unique, at most
    n_attacks, at most 20 x n_attacks tried). Success = the predicate matches exactly one row of the
    training table (main) or of the holdout (control); the larger of the two is subsampled (seeded) to
    the smaller's size so that both attacks face the same population size (anonymeter instead fits a
    size correction).
    """
    rng = np.random.default_rng(seed)
    n_cols = max(1, min(n_cols, synthetic.shape[1]))
    medians = np.zeros(synthetic.shape[1])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing column: median NaN, predicates use <=
        medians[numeric] = np.nanmedian(synthetic[:, numeric], axis=0) if len(synthetic) else 0.0
    kept: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    tried = 0
    while len(kept) < n_attacks and tried < 20 * n_attacks and len(synthetic):
        rows = rng.integers(0, len(synthetic), batch)
        cols = np.sort(np.argsort(rng.random((batch, synthetic.shape[1])), axis=1)[:, :n_cols], axis=1)
        values = synthetic[rows[:, None], cols]
        is_numeric = numeric[cols]
        ops = np.where(is_numeric, np.where(values > medians[cols], _GE, _LE), _EQ)
        ops = np.where(np.isnan(values), _NULL, ops)
        counts = _count_matches(synthetic, cols, values, ops)
        for i in np.flatnonzero(counts == 1):
            key = np.concatenate([cols[i], np.nan_to_num(values[i], nan=-1e300), ops[i]]).tobytes()
            if key not in kept and len(kept) < n_attacks:
                kept[key] = (cols[i], values[i], ops[i])
        tried += batch
    if not kept:
        return attack_risk("singling_out", 0, 0, 0, {"n_cols": n_cols, "note": "no singling-out predicate found"})
    cols = np.array([k[0] for k in kept.values()])
    values = np.array([k[1] for k in kept.values()])
    ops = np.array([k[2] for k in kept.values()])
    n = min(len(train), len(holdout))
    main_table = train if len(train) == n else train[rng.choice(len(train), n, replace=False)]
    control_table = holdout if len(holdout) == n else holdout[rng.choice(len(holdout), n, replace=False)]
    main = int((_count_matches(main_table, cols, values, ops) == 1).sum())
    control = int((_count_matches(control_table, cols, values, ops) == 1).sum())
    return attack_risk("singling_out", main, control, len(kept), {"n_cols": n_cols, "population_rows": n})


def linkability_risk(
    train_enc: np.ndarray,
    synthetic_enc: np.ndarray,
    holdout_enc: np.ndarray,
    encoding: DistanceEncoding,
    *,
    n_attacks: int = 500,
    n_neighbors: int = 1,
    seed: int = 0,
) -> AttackRisk | None:
    """Link two halves of a record through the synthetic data: success if the same synthetic row is among
    the n_neighbors nearest on columns A and on columns B (A, B a seeded random split of the columns)."""
    if len(encoding.columns) < 2:
        return None
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(encoding.columns))
    half = len(order) // 2
    cols_a = [encoding.columns[i] for i in sorted(order[:half])]
    cols_b = [encoding.columns[i] for i in sorted(order[half:])]
    dims_a, dims_b = encoding.subset(cols_a), encoding.subset(cols_b)
    n = min(n_attacks, len(train_enc), len(holdout_enc))
    targets = np.vstack([train_enc[rng.choice(len(train_enc), n, replace=False)],
                         holdout_enc[rng.choice(len(holdout_enc), n, replace=False)]])
    pos_a, _ = nearest_encoded(synthetic_enc[:, dims_a], targets[:, dims_a], n_neighbors)
    pos_b, _ = nearest_encoded(synthetic_enc[:, dims_b], targets[:, dims_b], n_neighbors)
    linked = (pos_a[:, :, None] == pos_b[:, None, :]).any(axis=(1, 2)) & (pos_a[:, :1] >= 0)[:, 0]
    return attack_risk(
        "linkability", int(linked[:n].sum()), int(linked[n:].sum()), n,
        {"columns_a": cols_a, "columns_b": cols_b, "n_neighbors": n_neighbors},
    )


def attribute_inference_risk(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    encoding: DistanceEncoding,
    encoded: tuple[np.ndarray, np.ndarray, np.ndarray],
    secret: str,
    *,
    n_attacks: int = 500,
    seed: int = 0,
) -> AttackRisk:
    """Guess `secret` of a target as the value of its nearest synthetic row on all other columns.

    A guess is right when equal (categories, missing == missing) or, for numbers, within
    NUMERIC_GUESS_MARGIN x the real range. Main targets are training rows, control targets
    holdout rows (same number, seeded).
    """
    train_enc, synthetic_enc, holdout_enc = encoded
    rng = np.random.default_rng(seed)
    aux = [c for c in encoding.columns if c != secret]
    n = min(n_attacks, len(train), len(holdout))
    main_rows = rng.choice(len(train), n, replace=False)
    control_rows = rng.choice(len(holdout), n, replace=False)
    if aux:
        dims = encoding.subset(aux)
        targets = np.vstack([train_enc[main_rows], holdout_enc[control_rows]])
        pos, _ = nearest_encoded(synthetic_enc[:, dims], targets[:, dims], 1)
        guess_rows = pos[:, 0]
    else:
        guess_rows = np.zeros(2 * n, dtype=int)
    truth = pd.concat([train[secret].iloc[main_rows], holdout[secret].iloc[control_rows]], ignore_index=True)
    guess = synthetic[secret].iloc[guess_rows].reset_index(drop=True)
    if encoding.sdtypes[secret] in ("numerical", "datetime"):
        t, g = numeric_values(truth), numeric_values(guess)
        tolerance = NUMERIC_GUESS_MARGIN * encoding.span[secret]
        right = (np.abs(t - g) <= tolerance) | (np.isnan(t) & np.isnan(g))
    else:
        right = category_keys(truth) == category_keys(guess)
    return attack_risk("attribute_inference", int(right[:n].sum()), int(right[n:].sum()), n, {"secret": secret})
