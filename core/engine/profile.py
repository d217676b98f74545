"""Per-column profiles built from engine aggregates: distinct values with counts, shared category codes, bins.

A profile holds, for each table (role), what the in-memory encoding (core/data/encoding.py) derives from the
rows: a continuous column's sorted distinct values with their counts and its missing count, or a discrete
column's counts per category (missing last). Everything the fidelity and validity scores need follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from core.data.encoding import NUM_BINS
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES, Metadata
from core.engine import aggregates as agg
from core.engine.base import Engine
from core.stats.binning import safe_edges

MAX_DISTINCT_VALUES = 5_000_000  # distinct values of one continuous column in one table, held in memory


@dataclass
class ColumnProfile:
    """One column of every table as counts (no rows)."""

    name: str
    sdtype: str
    rows: dict[str, int]  # role -> rows of the table
    points: dict[str, np.ndarray] = field(default_factory=dict)  # continuous: sorted distinct present values
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # continuous: count per point; discrete: per code
    missing: dict[str, int] = field(default_factory=dict)  # role -> missing values
    labels: list = field(default_factory=list)  # discrete: category of each code, missing (None) last
    edges: np.ndarray | None = None  # continuous: the real table's ten-bin edges, outer ones infinite
    raw: dict[str, tuple] = field(default_factory=dict)  # discrete: role -> (its distinct raw values, their codes)

    @property
    def is_continuous(self) -> bool:
        """True for numerical and datetime columns."""
        return self.sdtype in CONTINUOUS_SDTYPES

    @property
    def levels(self) -> int:
        """Codes of the column: categories + missing (discrete) or bins + missing (continuous)."""
        return len(self.labels) if not self.is_continuous else NUM_BINS + 1

    @property
    def missing_code(self) -> int:
        """The code standing for a missing value."""
        return self.levels - 1

    def present(self, role: str) -> int:
        """Non-missing values of the column in one table."""
        return int(self.rows[role] - self.missing[role])

    def category_counts(self, role: str) -> np.ndarray:
        """Discrete: counts per code, missing last."""
        return self.counts[role]

    def pooled(self, roles: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Continuous: sorted distinct values of the pooled tables with their counts."""
        return merge_points([(self.points[r], self.counts[r]) for r in roles])

    def constant(self, role: str) -> bool:
        """At most one distinct non-missing value in the table."""
        if self.is_continuous:
            return self.points[role].size <= 1
        return int((self.counts[role][:-1] > 0).sum()) <= 1


def merge_points(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and summed counts of several (values, counts) lists."""
    values = np.concatenate([p for p, _ in parts]) if parts else np.empty(0)
    counts = np.concatenate([c for _, c in parts]) if parts else np.empty(0, dtype=np.int64)
    if values.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    points, inverse = np.unique(values, return_inverse=True)
    return points, np.bincount(inverse.reshape(-1), weights=counts, minlength=points.size).astype(np.int64)


def _continuous_counts(counts: "pa.Table") -> tuple[np.ndarray, np.ndarray, int]:
    """Distinct present values (as float64, -0.0 as 0.0, NaN missing), their counts, and the missing count."""
    values = np.asarray(counts.column(0).to_numpy(zero_copy_only=False), dtype=np.float64) + 0.0
    n = counts.column(1).to_numpy(zero_copy_only=False).astype(np.int64)
    gone = np.isnan(values)
    points, merged = merge_points([(values[~gone], n[~gone])])
    return points, merged, int(n[gone].sum())


def _category_key(value) -> object:
    """The value a discrete category is known by (1.0 and 1 alike, as the coerced frame's Int64)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _missing_value(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def profile_columns(engine: Engine, tables: dict[str, str], metadata: Metadata,
                    max_distinct: int = MAX_DISTINCT_VALUES) -> dict[str, ColumnProfile]:
    """A profile of every numerical, datetime, categorical and boolean column: at most two queries per table.

    A continuous column keeps each distinct value with its count (16 bytes each, in this process): one with
    more than `max_distinct` distinct values in a table is refused with a message saying so (UsageError).
    """
    compared = [(name, sdtype) for name, sdtype in metadata.items() if sdtype in CONTINUOUS_SDTYPES + DISCRETE_SDTYPES]
    key = {name: f"k{i}" for i, (name, _) in enumerate(compared)}
    exprs = {key[name]: agg.value_expr(engine, name, sdtype) if sdtype in CONTINUOUS_SDTYPES else engine.quote(name)
             for name, sdtype in compared}
    continuous = {key[name] for name, sdtype in compared if sdtype in CONTINUOUS_SDTYPES}
    rows, counted = {}, {}
    for role, table in tables.items():
        rows[role], counted[role] = agg.value_counts(engine, table, exprs, continuous, max_distinct)
        for name, _ in compared:
            if key[name] in continuous and counted[role][key[name]].num_rows > max_distinct:
                from core.errors import UsageError

                raise UsageError(
                    f"column '{name}' of the {role} table holds more than {max_distinct:,} distinct values: the engine "
                    f"keeps each distinct value of a number or date column with its count in memory (KS, tails, "
                    f"range), 16 bytes each; round the values to the precision they carry, or raise [engine] "
                    f"max_distinct_values")
    out: dict[str, ColumnProfile] = {}
    for name, sdtype in compared:
        profile = ColumnProfile(name, sdtype, dict(rows))
        if sdtype in CONTINUOUS_SDTYPES:
            for role in tables:
                points, counts, missing = _continuous_counts(counted[role][key[name]])
                profile.points[role], profile.counts[role], profile.missing[role] = points, counts, missing
            real = profile.points["real"]
            edges = safe_edges(np.array([real[0], real[-1]]), NUM_BINS) if real.size else \
                np.linspace(0.0, 1.0, NUM_BINS + 1)
            edges[0], edges[-1] = -np.inf, np.inf
            profile.edges = edges
        else:
            _discrete_profile(profile, {role: counted[role][key[name]] for role in tables})
        out[name] = profile
    return out


def _discrete_profile(profile: ColumnProfile, counted: dict[str, "pa.Table"]) -> None:
    """Codes (categories in sorted order, missing last) and counts per code of every table, in place."""
    raw = {role: table.column(0).to_pylist() for role, table in counted.items()}
    sizes = {role: table.column(1).to_pylist() for role, table in counted.items()}
    keys = {role: [None if _missing_value(v) else _category_key(v) for v in values] for role, values in raw.items()}
    # SQL has no row order, so categories are coded in sorted order (the in-memory path codes them by
    # first appearance); every score is order-free, the nulls' draws follow the cell order.
    labels = sorted({k for found in keys.values() for k in found if k is not None}, key=lambda k: (str(type(k)), str(k)))
    index = {k: i for i, k in enumerate(labels)}
    profile.labels = labels + [None]
    for role in counted:
        counts = np.zeros(len(labels) + 1, dtype=np.int64)
        codes = np.array([len(labels) if k is None else index[k] for k in keys[role]], dtype=np.int64)
        np.add.at(counts, codes, np.asarray(sizes[role], dtype=np.int64))
        profile.counts[role] = counts
        profile.missing[role] = int(counts[-1])
        present = [i for i, v in enumerate(raw[role]) if v is not None]  # NaN stays: its code is the missing one
        column = counted[role].column(0).take(pa.array(present, type=pa.int64())) if present else \
            pa.array([], type=counted[role].column(0).type)
        profile.raw[role] = (column.combine_chunks() if hasattr(column, "combine_chunks") else column, codes[present])


def sorted_quantile(points: np.ndarray, counts: np.ndarray, q: float) -> float:
    """np.quantile(rows, q) (linear method) of the rows that `points` with `counts` stand for."""
    n = int(counts.sum())
    cumulative = np.cumsum(counts)
    at = lambda k: float(points[int(np.searchsorted(cumulative, k, side="right"))])  # value at sorted row k
    virtual = (n - 1) * np.float64(q)
    previous = np.floor(virtual)
    gamma = virtual - previous
    a, b = at(int(previous)), at(min(int(previous) + 1, n - 1))
    diff = b - a
    return float(b - diff * (1 - gamma)) if gamma >= 0.5 else float(a + diff * gamma)
