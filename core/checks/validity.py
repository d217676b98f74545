"""Validity and coverage: values the real data never had, and real values the synthetic data lost.

Every share is also computed for the holdout when one is given (the baseline, shown for reference). The
gates judge the synthetic shares against their nulls: validity against the invalid share of real resamples
of the synthetic size against real resamples of the training size (core/stats/null.py); coverage judges only
the categories and tails that a real sample of the synthetic size contains except with probability below
the Bonferroni-corrected false-alarm rate, and calls one lost when the synthetic table has fewer of it than
that rate allows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data.encoding import EncodedColumn, encode_columns, row_keys
from core.data.metadata import Metadata
from core.stats import null as nulls
from core.stats.null import NullSettings

# Tails: the values beyond the real 1st and 99th percentiles.
TAIL_QUANTILE = 0.01


@dataclass
class ColumnValidity:
    """Validity and coverage of one column of a sample (synthetic or holdout) against the real column."""

    column: str
    sdtype: str
    out_of_range_share: float  # numbers/dates outside the real [min, max]
    unseen_category_share: float  # categories the real data never had
    category_coverage: float  # share of real categories present (sdmetrics' CategoryCoverage)
    range_coverage: float  # share of the real range covered (sdmetrics' RangeCoverage)
    missing_share_real: float
    missing_share_synthetic: float
    missing_categories: list[str] = field(default_factory=list)  # real categories expected but absent
    expected_categories: int = 0  # real categories that a sample of this size should contain
    lower_tail_share: float | None = None  # sample share below the real 1st percentile
    upper_tail_share: float | None = None  # sample share above the real 99th percentile
    real_lower_tail_share: float | None = None
    real_upper_tail_share: float | None = None
    judged_tails: list[str] = field(default_factory=list)  # tails with enough expected rows to judge
    collapsed_tails: list[str] = field(default_factory=list)  # judged tails the sample lost
    # Share of invalid values a fresh real draw would have by chance: 2/(n+1) out of range for numbers
    # (a new draw falls outside the min and max of n draws with that chance); the share of categories
    # seen once in the real data, plus one, over n + 1 (Good-Turing's unseen mass, never 0) for categories.
    chance_invalid_share: float = 0.0
    sample_rows: int = 0  # non-missing values in the sample
    reference_rows: int = 0  # non-missing values in the real training column
    null: np.ndarray | None = field(default=None, repr=False)  # invalid share of real-vs-real resamples
    tail_floors: dict[str, int] = field(default_factory=dict)  # judged tail -> fewest rows a real sample keeps
    null_median: float | None = None  # set when judged
    floor: float | None = None  # the ceiling the invalid share had to stay under (set when judged)
    tail_probability: float | None = None

    @property
    def invalid_share(self) -> float:
        """Share of values the real data could not have produced (out of range or unseen)."""
        return max(self.out_of_range_share, self.unseen_category_share)

    def to_dict(self) -> dict:
        """The contract's per-column validity record, plus the coverage details."""
        return {
            "out_of_range_share": self.out_of_range_share,
            "unseen_category_share": self.unseen_category_share,
            "category_coverage": self.category_coverage,
            "range_coverage": self.range_coverage,
            "missing_share_real": self.missing_share_real,
            "missing_share_synthetic": self.missing_share_synthetic,
            "missing_categories": self.missing_categories,
            "lower_tail_share": self.lower_tail_share,
            "upper_tail_share": self.upper_tail_share,
            "real_lower_tail_share": self.real_lower_tail_share,
            "real_upper_tail_share": self.real_upper_tail_share,
            "collapsed_tails": self.collapsed_tails,
            "null_median": self.null_median,  # invalid share a real sample of this size has (addition)
            "floor": self.floor,  # the ceiling judged against (addition)
            "tail_probability": self.tail_probability,
        }


@dataclass
class ValidityResult:
    """Per-column validity of the synthetic table (and of the holdout, the baseline) plus duplicates."""

    columns: dict[str, ColumnValidity]
    baseline: dict[str, ColumnValidity] = field(default_factory=dict)  # the holdout's, when given
    duplicate_rows_share_synthetic: float = 0.0  # synthetic rows that repeat an earlier synthetic row
    duplicate_rows_share_real: float = 0.0


def _pool(column: EncodedColumn) -> list[str]:
    return ["real"] + (["holdout"] if "holdout" in column.codes else [])


def _continuous_validity(column: EncodedColumn, role: str, settings: NullSettings, level: float,
                         index: int) -> ColumnValidity:
    real, sample = column.values["real"], column.values[role]
    real_present, sample_present = real[~np.isnan(real)], sample[~np.isnan(sample)]
    low, high = (float(real_present.min()), float(real_present.max())) if real_present.size else (np.nan, np.nan)
    n = max(sample_present.size, 1)
    out_of_range = float(((sample_present < low) | (sample_present > high)).sum() / n) if real_present.size else 0.0
    if real_present.size and sample_present.size and high > low:
        lost = max(float(sample_present.min()) - low, 0.0) + max(high - float(sample_present.max()), 0.0)
        range_coverage = float(np.clip(1.0 - lost / (high - low), 0.0, 1.0))
    else:
        range_coverage = 1.0 if real_present.size and sample_present.size else 0.0
    result = ColumnValidity(
        column.name, column.sdtype, out_of_range, 0.0, 1.0, range_coverage,
        float(np.isnan(real).mean()), float(np.isnan(sample).mean()),
        chance_invalid_share=min(2.0 / (real_present.size + 1), 1.0) if real_present.size else 0.0,
        sample_rows=int(sample_present.size), reference_rows=int(real_present.size),
    )
    if role == "synthetic" and real_present.size and sample_present.size:
        points, counts = nulls.value_grid(np.concatenate([column.values[r] for r in _pool(column)]))
        if counts.sum() >= settings.min_real_rows:
            result.null = nulls.out_of_range_null(counts, real_present.size, sample_present.size,
                                                  settings.resamples, settings.rng(2, index))
    if real_present.size and sample_present.size:
        q_low, q_high = np.quantile(real_present, [TAIL_QUANTILE, 1 - TAIL_QUANTILE])
        result.real_lower_tail_share = float((real_present < q_low).mean())
        result.real_upper_tail_share = float((real_present > q_high).mean())
        result.lower_tail_share = float((sample_present < q_low).mean())
        result.upper_tail_share = float((sample_present > q_high).mean())
        for side, real_share, share in (("lower", result.real_lower_tail_share, result.lower_tail_share),
                                        ("upper", result.real_upper_tail_share, result.upper_tail_share)):
            fewest = nulls.tail_count_lower_bound(real_share, real_present.size, sample_present.size, level)
            if fewest >= 1:  # every real sample of this size (but for the false-alarm rate) has this tail
                result.judged_tails.append(side)
                result.tail_floors[side] = fewest
                if round(share * sample_present.size) < fewest:
                    result.collapsed_tails.append(side)
    return result


def _discrete_validity(column: EncodedColumn, role: str, settings: NullSettings, level: float,
                       index: int) -> ColumnValidity:
    missing = column.missing_code
    real_counts = np.bincount(column.codes["real"], minlength=column.levels)
    sample_counts = np.bincount(column.codes[role], minlength=column.levels)
    real_present = real_counts[:missing].sum()
    sample_present = sample_counts[:missing].sum()
    in_real = real_counts[:missing] > 0
    unseen = float(sample_counts[:missing][~in_real].sum() / max(sample_present, 1))
    covered = in_real & (sample_counts[:missing] > 0)
    coverage = float(covered.sum() / in_real.sum()) if in_real.any() else 1.0
    pooled = sum(np.bincount(column.codes[r], minlength=column.levels)[:missing] for r in _pool(column))
    p = pooled / max(pooled.sum(), 1)
    # Expected: a real sample of this size misses the category by luck, (1-p)^m, less often than `level`.
    expected = in_real & ((1.0 - p) ** max(sample_present, 0) < level)
    lost = expected & ~covered
    n_real, n_sample = len(column.codes["real"]), len(column.codes[role])
    result = ColumnValidity(
        column.name, column.sdtype, 0.0, unseen, coverage, 1.0,
        float(real_counts[missing] / max(n_real, 1)), float(sample_counts[missing] / max(n_sample, 1)),
        missing_categories=[str(column.labels[i]) for i in np.flatnonzero(lost)],
        expected_categories=int(expected.sum()),
        chance_invalid_share=float(((real_counts[:missing] == 1).sum() + 1) / (real_present + 1)),
        sample_rows=int(sample_present), reference_rows=int(real_present),
    )
    if role == "synthetic" and real_present and sample_present and pooled.sum() >= settings.min_real_rows:
        result.null = nulls.unseen_null(pooled, real_present, sample_present, settings.resamples,
                                        settings.rng(2, index))
    return result


def column_validity(column: EncodedColumn, role: str = "synthetic", settings: NullSettings | None = None,
                    level: float = 1e-4, index: int = 0) -> ColumnValidity:
    """Validity and coverage of one encoded column of `role` against the real column (`level`: per-item rate)."""
    settings = settings or NullSettings()
    check = _continuous_validity if column.is_continuous else _discrete_validity
    return check(column, role, settings, level, index)


def coverage_items(encoded: dict[str, EncodedColumn]) -> int:
    """How many coverage items could be judged: every real category, and two tails per numeric column."""
    return sum(2 if c.is_continuous else c.levels - 1 for c in encoded.values())


def duplicate_share(keys: np.ndarray) -> float:
    """Share of rows that repeat an earlier row of the same table, from their row keys."""
    if keys.size == 0:
        return 0.0
    return float(pd.Series(keys).duplicated().mean())


def evaluate_validity(
    tables: dict[str, pd.DataFrame], metadata: Metadata, encoded: dict[str, EncodedColumn] | None = None,
    settings: NullSettings | None = None,
) -> ValidityResult:
    """Validity of every scored column of 'synthetic' (and 'holdout', the baseline) against 'real', with nulls."""
    encoded = encoded if encoded is not None else encode_columns(tables, metadata)
    settings = settings or NullSettings()
    # Bonferroni over every coverage item that could be judged, so the coverage gate keeps the nominal rate.
    level = settings.false_alarm_rate / max(coverage_items(encoded), 1)
    result = ValidityResult({name: column_validity(column, "synthetic", settings, level, i)
                             for i, (name, column) in enumerate(encoded.items())})
    if "holdout" in tables:
        result.baseline = {name: column_validity(column, "holdout", settings, level, i)
                           for i, (name, column) in enumerate(encoded.items())}
    if encoded:
        result.duplicate_rows_share_synthetic = duplicate_share(row_keys(encoded, "synthetic"))
        result.duplicate_rows_share_real = duplicate_share(row_keys(encoded, "real"))
    return result
