"""Association measures shared by every family: Cramer's V, the correlation ratio, and their per-column sums."""
from __future__ import annotations

import numpy as np


def cramers_v(counts: np.ndarray) -> float:
    """Cramer's V of a table of counts (rows and columns that are empty are dropped); NaN if undefined."""
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0].astype(float)
    n = counts.sum()
    k = min(counts.shape) - 1
    if n == 0 or k < 1:
        return float("nan")
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / n / k))


def correlation_ratio(codes: np.ndarray, values: np.ndarray, levels: int) -> float:
    """Correlation ratio (eta) of a numeric column explained by a categorical one; NaN if undefined."""
    return ColumnStats().correlation_ratio(codes, values, levels)


class ColumnStats:
    """Per-column sums that every mixed pair of a table reuses, so each pair costs one weighted count."""

    def __init__(self) -> None:
        self._codes: dict[int, tuple[np.ndarray, bool, np.ndarray]] = {}
        self._values: dict[int, tuple[bool, float, float]] = {}

    def correlation_ratio(self, codes: np.ndarray, values: np.ndarray, levels: int) -> float:
        """Eta of `values` by `codes`; rows missing either are left out."""
        missing = levels - 1
        if id(codes) not in self._codes:
            wide = codes.astype(np.intp)
            self._codes[id(codes)] = (wide, bool((wide == missing).any()), np.bincount(wide, minlength=levels))
        wide, has_missing, counts = self._codes[id(codes)]
        if id(values) not in self._values:
            # einsum, not np.dot: a threaded BLAS dot stalls badly when the cores are busy.
            self._values[id(values)] = (bool(np.isnan(values).any()), float(values.sum()),
                                        float(np.einsum("i,i->", values, values)))
        has_nan, total_sum, total_square = self._values[id(values)]
        if has_nan or has_missing:
            keep = ~np.isnan(values) & (wide != missing)
            wide, values = wide[keep], values[keep]
            counts = np.bincount(wide, minlength=levels)
            total_sum, total_square = float(values.sum()), float(np.einsum("i,i->", values, values))
        if values.size < 2:
            return float("nan")
        # Sums per category from one weighted count; SSB = sum(s_c^2 / n_c) - S^2 / N, SST = sum(x^2) - S^2 / N.
        sums = np.bincount(wide, weights=values, minlength=levels)
        correction = total_sum * total_sum / values.size
        total = total_square - correction
        if total <= 1e-12 * max(total_square, 1e-300):
            return float("nan")
        n = counts.astype(float)
        between = float((sums[n > 0] ** 2 / n[n > 0]).sum()) - correction
        return float(np.sqrt(min(max(between / total, 0.0), 1.0)))
