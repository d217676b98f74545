"""Missing-value patterns: per-column missing share, which columns are missing together, and whether a
column's missingness depends on other columns' values, each real vs synthetic against its real-vs-real null.

Items, each a similarity in [0, 1] (1 = the same):
* share  c        1 - |missing share real - synthetic|
* together c1, c2 1 - TV of the four-cell joint of the two missingness indicators
* depends c | d   1 - TV of the joint of c's missingness indicator with d's bins (missing a bin of its own)
Only columns missing somewhere (real, synthetic or holdout) make items; a table with no missing value
anywhere passes with nothing to judge. Each item's null is drawn from cell counts as the fidelity nulls are
(core.stats.null.cell_tv_null): a reference of the training table's size and a sample of the synthetic table's
size, both from the pooled real rows (training + holdout), with the unseen term: a fresh real sample can hold a
pattern the pooled rows never had (penguins: the two birds with no measurement both in the fresh rows made
the plain resampled null a constant 1 and failed clean samples of 69-139 rows on 10 items). The policy's
resamples are drawn; an item beyond every one of them is judged on more (common.refined_nulls), since a null of
a few rare cells is lumpy and a tail fitted to it misjudges such an item either way.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.checks.structure.common import Binned, Item, binned_columns, items_gate, judge_items, refined_nulls
from core.gates import CALIBRATION_DEFAULTS, Gate
from core.stats.null import cell_tv_null

RESAMPLES = int(CALIBRATION_DEFAULTS["resamples"])  # the policy's [calibration] resamples overrides it


@dataclass
class MissingResult:
    """Missing shares per column and table, co-missingness matrices, the judged items and the gate."""

    shares: pd.DataFrame  # column x (real, synthetic, holdout)
    together_real: pd.DataFrame  # column x column: share of rows where both are missing
    together_synthetic: pd.DataFrame
    items: list[Item]
    gate: Gate | None
    resamples: int
    skipped: str | None = None

    def to_dict(self) -> dict:
        """The report's `structure.missing_values` section."""
        return {"shares": {c: {k: float(v) for k, v in row.items()} for c, row in self.shares.iterrows()},
                "resamples": self.resamples, "skipped": self.skipped,
                "items": [i.to_dict() for i in self.items]}


def missing_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Boolean rows x columns: True where the value is missing (empty text counts as missing)."""
    out = np.empty((len(frame), len(columns)), dtype=bool)
    for j, c in enumerate(columns):
        s = frame[c]
        miss = s.isna().to_numpy()
        if s.dtype == object:
            miss |= (s.astype(str).str.strip() == "").to_numpy() & ~miss
        out[:, j] = miss
    return out


def co_missing(m: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Share of rows where both columns are missing (diagonal: the column's missing share)."""
    f = m.astype(np.float64)
    return pd.DataFrame(f.T @ f / max(len(m), 1), index=columns, columns=columns)


def _item_cells(m: np.ndarray, codes: dict[str, np.ndarray], binned: dict[str, Binned], names: list[str],
                active: list[int]) -> dict[str, tuple[np.ndarray, int]]:
    """Every item's cell per row of one table (missingness indicators, jointly with a bin where it depends on
    one), and the number of cells: each item is 1 - TV between two tables' shares of these cells."""
    out = {}
    for j in active:
        out[f"share {names[j]}"] = (m[:, j], 2)
    for j, k in itertools.combinations(active, 2):
        out[f"together {names[j]}, {names[k]}"] = (m[:, j] * 2 + m[:, k], 4)
    for j in active:
        for d, column in binned.items():
            if d != names[j]:
                out[f"depends {names[j]} | {d}"] = (m[:, j] * column.levels + codes[d], 2 * column.levels)
    return out


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 - TV between two count vectors on the same cells (1 when either is empty)."""
    if a.sum() == 0 or b.sum() == 0:
        return 1.0
    return float(1.0 - 0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def evaluate_missing_values(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                            metadata: dict[str, str], *, alpha: float = 0.01, seed: int = 0,
                            resamples: int = RESAMPLES, binned: dict[str, Binned] | None = None) -> MissingResult:
    """Compare missingness real vs synthetic item by item, each against pooled real resamples of the synthetic size."""
    names = [c for c in metadata if c in train.columns]
    m_real, m_syn = missing_matrix(train, names), missing_matrix(synthetic, names)
    shares = {"real": m_real.mean(axis=0) if len(train) else np.zeros(len(names)),
              "synthetic": m_syn.mean(axis=0) if len(synthetic) else np.zeros(len(names))}
    if holdout is not None:
        m_hold = missing_matrix(holdout, names)
        shares["holdout"] = m_hold.mean(axis=0) if len(holdout) else np.zeros(len(names))
    share_frame = pd.DataFrame(shares, index=names)
    together = (co_missing(m_real, names), co_missing(m_syn, names))
    if holdout is None:
        return MissingResult(share_frame, *together, [], None, resamples,
                             "no holdout: the null needs real rows not trained on")
    binned = binned if binned is not None else binned_columns(
        {"real": train, "synthetic": synthetic, "holdout": holdout}, metadata)
    active = [j for j in range(len(names)) if m_real[:, j].any() or m_syn[:, j].any() or m_hold[:, j].any()]
    if not active:
        gate = Gate("missing_values", 1.0, 1.0, True, "no missing values in the real, synthetic or holdout table")
        return MissingResult(share_frame, *together, [], gate, resamples)
    cells = {role: _item_cells(m.astype(np.int64), {d: b.codes[role] for d, b in binned.items()}, binned, names, active)
             for role, m in (("real", m_real), ("synthetic", m_syn), ("holdout", m_hold))}
    value, nulls, pooled = {}, {}, []
    for i, (label, (real_cells, size)) in enumerate(cells["real"].items()):
        counts = {role: np.bincount(cells[role][label][0], minlength=size) for role in cells}
        value[label] = _similarity(counts["real"], counts["synthetic"])
        # Reference and sample drawn from the pooled real rows (training + holdout), as the fidelity nulls are:
        # a holdout that happens to lack a rare missingness pattern no longer makes a degenerate null.
        pooled.append(counts["real"] + counts["holdout"])
        nulls[label] = cell_tv_null(pooled[i], len(train), len(synthetic), resamples, np.random.default_rng([seed, i]))
    # Items beyond every resample get more of them (refined_nulls): a few rare cells make a lumpy null whose
    # fitted tail misjudges them (planes' `speed`, present in 1 row of 150).
    draw = lambda i, count, step: cell_tv_null(pooled[i], len(train), len(synthetic), count,
                                               np.random.default_rng([seed, i, 1 + step]))
    index = {n: j for j, n in enumerate(names)}
    values = []
    for label, v in value.items():
        real = syn = None
        if label.startswith("share "):
            j = index[label[len("share "):]]
            real, syn = float(shares["real"][j]), float(shares["synthetic"][j])
        values.append((label, v, nulls[label], real, syn))
    items = judge_items("missing_values", refined_nulls("missing_values", values, draw, alpha), alpha)
    return MissingResult(share_frame, *together, items, items_gate("missing_values", items, "missingness items", "-"),
                         resamples)
