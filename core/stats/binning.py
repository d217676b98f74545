"""Equal-width bin edges that never fail: constant, near-constant and huge-valued columns included."""
from __future__ import annotations

import numpy as np


def safe_edges(present: np.ndarray, bins: int = 10) -> np.ndarray:
    """numpy's equal-width edges over the finite values; widened where they would not strictly increase.

    numpy spans a constant column as [x - 0.5, x + 0.5], which float64 cannot split into distinct edges
    once |x| is about 1e15 or more (dates in nanoseconds, large ids): "Too many bins for data range".
    There, and for near-constant columns, the span grows to a relative 1e-9 (at least 0.5) each side.
    """
    present = np.asarray(present, dtype=float)
    present = present[np.isfinite(present)]
    if present.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    low, high = float(present.min()), float(present.max())
    try:
        edges = np.histogram_bin_edges(present, bins=bins)
        if np.all(np.diff(edges) > 0):
            return edges
    except ValueError:
        pass
    half = max(abs(low), abs(high)) * 1e-9
    half = max(half, 0.5, float(np.spacing(max(abs(low), abs(high)))) * bins * 4)
    return np.linspace(low - half, high + half, bins + 1)
