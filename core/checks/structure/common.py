"""Shared pieces of the structure checks: real-vs-real resampling, per-item judgement and the gate they make.

Every structure statistic is computed twice over: once with the synthetic table against the real training
rows, and `resamples` times with a real resample of the synthetic size (a bootstrap of the holdout) in the synthetic table's place. That second set is the
statistic's null; each item (column, pair, triple, rule) is judged against its own null with
core.gates.judge, Bonferroni-corrected over the items the gate judges.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.encoding import EncodedTables, encoded_for
from core.gates import Gate, Judgement, direction, judge


@dataclass
class Item:
    """One judged item of a structure gate: its statistic, what it compared and its null's verdict."""

    label: str
    value: float
    null_median: float | None
    bound: float
    tail_probability: float | None
    passed: bool
    real: float | None = None  # the real side of the comparison, where one number states it
    synthetic: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready item (non-finite numbers as null)."""
        return {"item": self.label, "value": _num(self.value), "real": _num(self.real),
                "synthetic": _num(self.synthetic), "null_median": _num(self.null_median),
                "bound": _num(self.bound), "tail_probability": _num(self.tail_probability),
                "passed": self.passed}


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def resample_positions(n_source: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of a bootstrap resample of `size` rows of the holdout (with replacement).

    With replacement always: drawn without replacement, a resample as large as the holdout is the holdout
    itself every time and the null would have no spread. The bootstrap's spread also carries the holdout's
    own sampling noise, which makes the null slightly lenient, never strict.
    """
    return rng.integers(0, n_source, size=size)


def judge_items(name: str, values: list[tuple[str, float, np.ndarray | None, float | None, float | None]],
                alpha: float) -> list[Item]:
    """Judge (label, value, null, real, synthetic) items of gate `name`, Bonferroni over all of them."""
    tests = max(len(values), 1)
    out = []
    for label, value, null, real, synthetic in values:
        j: Judgement = judge(name, float(value), null, alpha=alpha, tests=tests)
        out.append(Item(label, float(value), j.null_median, j.bound, j.tail_probability, j.passed, real, synthetic))
    return out


# Refining a null (refined_nulls): enough resamples that REFINE_HITS of them lie beyond the Bonferroni level, at
# most MAX_REFINED_RESAMPLES an item and REFINE_BUDGET a gate (beyond it, an item keeps null_bound's tail).
REFINE_HITS = 5
MAX_REFINED_RESAMPLES = 200_000
REFINE_BUDGET = 2_000_000
REFINE_CHUNK = 50_000


def refined_nulls(name: str, values: list[tuple[str, float, np.ndarray | None, float | None, float | None]],
                  draw, alpha: float, *, budget: int = REFINE_BUDGET) -> list[tuple]:
    """`values` (as judge_items takes them) with more resamples for each item beyond every one of its own.

    When the Bonferroni level alpha/items is finer than the resamples resolve, core.gates.null_bound
    extrapolates a tail (normal or gamma), and for a statistic of few, rare cells (a missingness share of 1%,
    a pattern a handful of rows have) the null is lumpy and that tail is wrong both ways: too narrow for
    planes' `speed` (a clean sample beyond all 200 resamples, inside 1 in 700 of 20,000) and too wide where
    the null is nearly constant. An item beyond every resample is the only one the extrapolation decides (one
    with any resample as extreme passes by the empirical minimum), so only those are refined: more resamples,
    `draw(index, count, step)` of them at a time, until REFINE_HITS are as extreme as the value (it passes)
    or REFINE_HITS / level have been drawn (then judge reads the empirical quantile: a Monte Carlo test at the
    level). Items nearest their first bound are refined first; under the null about 1 item in resamples + 1
    is, so a clean table costs little.
    """
    tests = max(len(values), 1)
    level = min(max(alpha / tests, 1e-12), 0.5)
    target = min(int(np.ceil(REFINE_HITS / level)), MAX_REFINED_RESAMPLES)
    sign = 1.0 if direction(name) == "min" else -1.0
    beyond = lambda null, value: int(np.count_nonzero(sign * (null - value) <= 0))  # resamples as extreme
    out = list(values)
    order = []
    for index, (label, value, null, real, synthetic) in enumerate(values):
        if null is None or not np.isfinite(value):
            continue
        null = np.asarray(null, dtype=float)
        null = null[np.isfinite(null)]
        if null.size < 5 or level * null.size >= 1.0 or beyond(null, value) > 0:
            continue
        bound = judge(name, float(value), null, alpha=alpha, tests=tests).bound
        order.append((abs(float(value) - bound), index, null))
    spent = 0
    for _, index, null in sorted(order, key=lambda t: (t[0], t[1])):
        label, value, _, real, synthetic = values[index]
        parts, step, hits = [null], 0, 0
        total = null.size
        while total < target and hits < REFINE_HITS and spent < budget:
            count = min(total, target - total, budget - spent, REFINE_CHUNK)
            more = np.asarray(draw(index, count, step), dtype=float)
            parts.append(more)
            hits += beyond(more[np.isfinite(more)], value)
            total += count
            spent += count
            step += 1
        out[index] = (label, value, np.concatenate(parts), real, synthetic)
    return out


def items_gate(name: str, items: list[Item], what: str, empty: str) -> Gate:
    """The gate over judged items: its value is the worst item's, failing items named in the detail."""
    if not items:
        return Gate(name, float("nan"), float("nan"), True, empty, judgeable=False)
    dirn = direction(name)
    margin = (lambda i: i.value - i.bound) if dirn == "min" else (lambda i: i.bound - i.value)
    ranked = sorted(items, key=margin)
    worst = ranked[0]
    failing = [i for i in ranked if not i.passed]
    sign = "<" if dirn == "min" else ">"
    if failing:
        shown = "; ".join(f"{i.label} {i.value:.4f} {sign} {i.bound:.4f}" for i in failing[:5])
        detail = f"{len(failing)} of {len(items)} {what} beyond their real-vs-real bound: {shown}"
    else:
        detail = (f"all {len(items)} {what} within their real-vs-real bound; closest: {worst.label} "
                  f"{worst.value:.4f} (bound {worst.bound:.4f}, real-vs-real median "
                  f"{worst.null_median if worst.null_median is not None else float('nan'):.4f})")
    return Gate(name, worst.value, worst.bound, not failing, detail, null_median=worst.null_median,
                floor=worst.bound, tail_probability=worst.tail_probability,
                items=[i.to_dict() for i in items])


def judge_binomial_items(name: str, values: list[tuple[str, float, int, int, int, float | None, float | None]],
                         alpha: float, *, predictive: bool = False) -> list[Item]:
    """Judge (label, share, holdout hits, holdout rows, size, real, synthetic) items of a "max" gate exactly.

    The null of each share is the count a fresh real sample of `size` shows given the holdout's `hits` in
    `rows`, divided by size: Binomial(size, Jeffreys rate (hits + 1/2) / (rows + 1)), or with `predictive` the
    posterior predictive of that Jeffreys prior, Beta-binomial(size, hits + 1/2, rows - hits + 1/2), which
    adds the rate's own uncertainty. pii_replay needs it: its holdout may hold a handful of present values
    (planes' `speed`, known for 23 planes: 3 of 40 clean samples failed with the plug-in rate). constraints
    keeps the plug-in: its rules hold in nearly every holdout row (0 hits), where the half count already errs
    high for a rule real rows keep, and the predictive's tail at the Bonferroni level over ~100 inferred rules
    lets a rule broken in 5% of 143 rows pass (tests/core/test_structure.py). The Bonferroni quantile is read
    from the distribution itself, since a few hundred draws of a near-degenerate count cannot resolve a 1e-4
    tail and a fitted continuous tail overstates it.
    """
    from scipy.stats import betabinom, binom

    tests = max(len(values), 1)
    level = alpha / tests
    out = []
    for label, share, hits, rows, size, real, synthetic in values:
        size = max(int(size), 1)
        hits, rows = int(hits), max(int(rows), int(hits))
        null = betabinom(size, hits + 0.5, rows - hits + 0.5) if predictive else \
            binom(size, (hits + 0.5) / (rows + 1.0))
        bound = float(null.ppf(1 - level)) / size
        observed = int(round(share * size))
        tail = float(null.sf(observed - 1)) if observed > 0 else 1.0
        out.append(Item(label, float(share), float(null.median()) / size, bound, tail, share <= bound, real, synthetic))
    return out


@dataclass
class Binned:
    """One column's bin (or top-category) codes in every table; the last code is 'missing'."""

    name: str
    codes: dict[str, np.ndarray]  # role -> int64 codes
    levels: int
    labels: list[str]


def binned_columns(frames: dict, metadata: dict[str, str], max_categories: int = 10,
                   encoded: EncodedTables | None = None) -> dict[str, Binned]:
    """Numeric columns as the shared ten real-value bins, categories as the `max_categories` most
    frequent real ones plus 'other'; missing is a code of its own. Id and text columns are left out.
    `encoded`: the evaluation's encoded tables (core.data.encoding.encode_tables), else encoded here."""
    encoded = encoded_for(frames, metadata, encoded)
    out = {}
    for name, column in encoded.items():
        if column.is_continuous:
            codes = {r: c.astype(np.int64) for r, c in column.codes.items()}
            out[name] = Binned(name, codes, column.levels, [str(l) for l in column.labels[:-1]] + ["(missing)"])
            continue
        real = column.codes["real"].astype(np.int64)
        counts = np.bincount(real, minlength=column.levels)[: column.levels - 1]
        order = np.argsort(-counts, kind="stable")
        keep = [int(c) for c in order[:max_categories] if counts[c] > 0]
        other = len(keep) < column.levels - 1
        mapping = np.full(column.levels, len(keep), dtype=np.int64)  # unkept -> 'other'
        mapping[keep] = np.arange(len(keep))
        levels = len(keep) + (1 if other else 0) + 1
        mapping[column.missing_code] = levels - 1
        labels = [str(column.labels[c]) for c in keep] + (["(other)"] if other else []) + ["(missing)"]
        out[name] = Binned(name, {r: mapping[c.astype(np.int64)] for r, c in column.codes.items()}, levels, labels)
    return out


def one_minus_tv(real_counts: np.ndarray, other_counts: np.ndarray) -> float:
    """1 - total variation distance between two count vectors on the same cells."""
    p = real_counts / max(real_counts.sum(), 1)
    q = other_counts / max(other_counts.sum(), 1)
    return float(1.0 - 0.5 * np.abs(p - q).sum())
