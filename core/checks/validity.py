"""Validity and coverage: values the real data never had, and real values the synthetic data lost.

Every share is also computed for the holdout when one is given, because a fresh real sample also lands
slightly outside the training range and misses a few rare categories: that is the baseline.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data.encoding import EncodedColumn, encode_columns, row_keys
from core.data.metadata import Metadata

# A real category is "expected" in a sample of n rows when the chance of missing it by luck, (1-p)^n,
# is below this; losing such a category is a collapse, not noise.
EXPECTED_CATEGORY_MISS_PROBABILITY = 1e-4
# Tails: the real 1st and 99th percentiles. A tail is judged only when n * (real tail share) is at
# least this count, and it has collapsed when the sample keeps under a quarter of the real tail share.
TAIL_QUANTILE = 0.01
MIN_EXPECTED_TAIL_COUNT = 20
TAIL_COLLAPSE_RATIO = 0.25


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
    # seen once in the real data (Good-Turing's estimate of the unseen mass) for categories.
    chance_invalid_share: float = 0.0
    sample_rows: int = 0  # non-missing values in the sample

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
        }


@dataclass
class ValidityResult:
    """Per-column validity of the synthetic table (and of the holdout, the baseline) plus duplicates."""

    columns: dict[str, ColumnValidity]
    baseline: dict[str, ColumnValidity] = field(default_factory=dict)  # the holdout's, when given
    duplicate_rows_share_synthetic: float = 0.0  # synthetic rows that repeat an earlier synthetic row
    duplicate_rows_share_real: float = 0.0


def _continuous_validity(column: EncodedColumn, role: str) -> ColumnValidity:
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
        chance_invalid_share=min(2.0 / (real_present.size + 1), 1.0) if real_present.size else 0.0, sample_rows=int(sample_present.size),
    )
    if real_present.size and sample_present.size:
        q_low, q_high = np.quantile(real_present, [TAIL_QUANTILE, 1 - TAIL_QUANTILE])
        result.real_lower_tail_share = float((real_present < q_low).mean())
        result.real_upper_tail_share = float((real_present > q_high).mean())
        result.lower_tail_share = float((sample_present < q_low).mean())
        result.upper_tail_share = float((sample_present > q_high).mean())
        for side, real_share, share in (("lower", result.real_lower_tail_share, result.lower_tail_share),
                                        ("upper", result.real_upper_tail_share, result.upper_tail_share)):
            if sample_present.size * real_share >= MIN_EXPECTED_TAIL_COUNT:
                result.judged_tails.append(side)
                if share < TAIL_COLLAPSE_RATIO * real_share:
                    result.collapsed_tails.append(side)
    return result


def _discrete_validity(column: EncodedColumn, role: str) -> ColumnValidity:
    missing = column.missing_code
    real_counts = np.bincount(column.codes["real"], minlength=column.levels)
    sample_counts = np.bincount(column.codes[role], minlength=column.levels)
    real_present = real_counts[:missing].sum()
    sample_present = sample_counts[:missing].sum()
    in_real = real_counts[:missing] > 0
    unseen = float(sample_counts[:missing][~in_real].sum() / max(sample_present, 1))
    covered = in_real & (sample_counts[:missing] > 0)
    coverage = float(covered.sum() / in_real.sum()) if in_real.any() else 1.0
    p = real_counts[:missing] / max(real_present, 1)
    expected = in_real & ((1.0 - p) ** max(sample_present, 0) < EXPECTED_CATEGORY_MISS_PROBABILITY)
    lost = expected & ~covered
    n_real, n_sample = len(column.codes["real"]), len(column.codes[role])
    return ColumnValidity(
        column.name, column.sdtype, 0.0, unseen, coverage, 1.0,
        float(real_counts[missing] / max(n_real, 1)), float(sample_counts[missing] / max(n_sample, 1)),
        missing_categories=[str(column.labels[i]) for i in np.flatnonzero(lost)],
        expected_categories=int(expected.sum()),
        chance_invalid_share=float((real_counts[:missing] == 1).sum() / max(real_present, 1)),
        sample_rows=int(sample_present),
    )


def column_validity(column: EncodedColumn, role: str = "synthetic") -> ColumnValidity:
    """Validity and coverage of one encoded column of `role` against the real column."""
    return _continuous_validity(column, role) if column.is_continuous else _discrete_validity(column, role)


def duplicate_share(keys: np.ndarray) -> float:
    """Share of rows that repeat an earlier row of the same table, from their row keys."""
    if keys.size == 0:
        return 0.0
    return float(pd.Series(keys).duplicated().mean())


def evaluate_validity(
    tables: dict[str, pd.DataFrame], metadata: Metadata, encoded: dict[str, EncodedColumn] | None = None
) -> ValidityResult:
    """Validity of every scored column of 'synthetic' (and 'holdout', the baseline) against 'real'."""
    encoded = encoded if encoded is not None else encode_columns(tables, metadata)
    result = ValidityResult({name: column_validity(column) for name, column in encoded.items()})
    if "holdout" in tables:
        result.baseline = {name: column_validity(column, "holdout") for name, column in encoded.items()}
    if encoded:
        result.duplicate_rows_share_synthetic = duplicate_share(row_keys(encoded, "synthetic"))
        result.duplicate_rows_share_real = duplicate_share(row_keys(encoded, "real"))
    return result
