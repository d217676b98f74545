"""Distances between records and exact nearest-record search (one definition, used by privacy and Records).

Distance between two records (one definition, used by core.checks.privacy and core.review.records)
------------------------------------------------------------------------------------------------
Records are embedded in a Euclidean space by `DistanceEncoding`; the distance of two records is

    distance(a, b) = sqrt( sum over used columns of d_col(a, b)^2 )

with one term per column, each term at most 1 for values inside the real (training) range:

* numerical and datetime columns (datetimes as nanoseconds): d = |a - b| / (max - min), min and max
  taken from the REAL training table only. Values outside the training range are not clipped (a value
  beyond the real maximum really is farther from every real record). A constant training column
  (max == min) gives d = 0 if both values equal the constant, else 1.
* categorical and boolean columns: d = 0 if equal, 1 if not. Implemented as the vertices of a regular
  simplex with unit edge (a one-hot vector scaled by 1/sqrt(2), rotated into K-1 dimensions for K
  levels, so a boolean costs one dimension). A missing value is a level of its own.
* missing values in a numerical/datetime column: missing vs present d = 1, missing vs missing d = 0.
  A column that has a missing value in any table the encoding was fitted on is encoded on the unit
  circle: a present value s = (v - min)/(max - min) becomes (cos s, sin s) and a missing value (0, 0),
  so missing-vs-present is exactly 1 while present-vs-present is the chord 2*sin(|s_a - s_b|/2)
  (within 4 % of |s_a - s_b| inside the real range; s is clipped to [-1, 2] so the chord stays monotone).
  Columns with no missing value keep the exact linear term.
* id and text columns are skipped (reported in `skipped` with the reason).

Euclidean (not the L1/Gower mean that sdmetrics uses) was chosen because exact nearest neighbours
can then be found from dot products: core.stats.nearest scores float32 candidates (a fused C kernel, or torch
products on a GPU), keeps candidates that provably hold the true neighbours (a float32 error bound, see its
docstring) and re-measures them in float64, so exact copies have distance 0.0 exactly and ties go to the lower
reference position.

Row references in results are 0-based positions (use .iloc), not index labels.

Float64 throughout: every candidate neighbour is re-measured in float64 from float64 coordinates, so a
record that differs from a real one by 1e-9 of a column's range is at distance ~1e-9, never 0; only an
exact copy is at 0.0. Signed zeros are normalised (-0.0 reads as 0.0) before encoding and hashing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from core.errors import UsageError
from core.data.metadata import Metadata

Progress = Callable[[float, str], None] | None
MISSING = "\x00<missing>"
# Extra candidates fetched by the float32 search of large problems, all re-measured in float64, so that
# neighbours whose float32 distances tie or cross (GEMM rounding is ~1e-3 here) are still ranked exactly.
EXTRA_CANDIDATES = 6


# --- Encoding ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DistanceEncoding:
    """How each used column maps to coordinates; fitted on the real table (ranges) and all tables (levels)."""

    columns: tuple[str, ...]
    skipped: dict[str, str]
    sdtypes: dict[str, str]
    minimum: dict[str, float]
    span: dict[str, float]
    circular: dict[str, bool]
    levels: dict[str, tuple[str, ...]]
    blocks: dict[str, slice]
    n_dims: int

    @classmethod
    def fit(cls, real: pd.DataFrame, metadata: Metadata, others: Sequence[pd.DataFrame] = ()) -> "DistanceEncoding":
        """Ranges from `real`; missing-value flags and category levels from `real` and `others`."""
        columns, skipped, sdtypes = [], {}, {}
        minimum, span, circular, levels, blocks = {}, {}, {}, {}, {}
        start = 0
        for column, sdtype in metadata.items():
            if sdtype in ("id", "text"):
                skipped[column] = f"{sdtype} column: not comparable between records"
                continue
            if column not in real.columns:
                continue
            tables = [real, *[o for o in others if column in o.columns]]
            if sdtype in ("numerical", "datetime"):
                values = numeric_values(real[column])
                finite = values[~np.isnan(values)]
                lo = float(finite.min()) if finite.size else 0.0
                hi = float(finite.max()) if finite.size else 0.0
                minimum[column], span[column] = lo, hi - lo
                circular[column] = any(bool(pd.isna(t[column]).any()) for t in tables)
                width = 2 if circular[column] else 1
            else:
                keys = pd.unique(np.concatenate([category_keys(t[column]) for t in tables]))
                levels[column] = tuple(sorted(keys.tolist()))
                width = max(len(levels[column]) - 1, 0)
            columns.append(column)
            sdtypes[column] = sdtype
            blocks[column] = slice(start, start + width)
            start += width
        if not columns:
            raise UsageError("no numerical, datetime, categorical or boolean column to measure distances on")
        return cls(tuple(columns), skipped, sdtypes, minimum, span, circular, levels, blocks, start)

    def level_codes(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each used categorical or boolean column as int positions in its levels (-1: not seen in the fit)."""
        return {column: pd.Index(self.levels[column]).get_indexer(category_keys(frame[column]))
                for column in self.columns if column in self.levels}

    def transform(self, frame: pd.DataFrame, codes: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Return the float64 matrix (rows x n_dims) whose Euclidean distances are the record distances.

        `codes` are the frame's `level_codes` when already computed (core.data.encoding.EncodedTables)."""
        codes = self.level_codes(frame) if codes is None else codes
        out = np.zeros((len(frame), self.n_dims), dtype=np.float64)
        for column in self.columns:
            block = self.blocks[column]
            if self.sdtypes[column] in ("numerical", "datetime"):
                out[:, block] = self._numeric_block(column, numeric_values(frame[column]))
            elif block.stop > block.start:
                if (codes[column] < 0).any():
                    unseen = category_keys(frame[column])[codes[column] < 0][0]
                    raise UsageError(f"column '{column}': value {unseen!r} was not seen when the encoding was fitted")
                out[:, block] = _simplex(len(self.levels[column]))[codes[column]]
        return out

    def _numeric_block(self, column: str, values: np.ndarray) -> np.ndarray:
        lo, span = self.minimum[column], self.span[column]
        missing = np.isnan(values)
        if span > 0:
            scaled = (values - lo) / span
        else:
            scaled = (values != lo).astype(float)
        if not self.circular[column]:
            return np.where(missing, 0.0, scaled)[:, None]
        scaled = np.clip(np.where(missing, 0.0, scaled), -1.0, 2.0)
        present = (~missing).astype(float)
        return np.column_stack([np.cos(scaled) * present, np.sin(scaled) * present])

    def subset(self, columns: Sequence[str]) -> np.ndarray:
        """Return the coordinate positions of the given columns (to measure distances on a column subset)."""
        return np.concatenate([np.arange(self.blocks[c].start, self.blocks[c].stop) for c in columns]).astype(int)


def numeric_values(series: pd.Series) -> np.ndarray:
    """A numerical or datetime column as float64 (datetimes as ns), NaN where missing, -0.0 read as 0.0."""
    if pd.api.types.is_datetime64_any_dtype(series):
        ns = series.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)
        return np.where(series.isna().to_numpy(), np.nan, ns)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan) + 0.0


def category_keys(series: pd.Series) -> np.ndarray:
    """A discrete column as text keys (so 1 and "1" agree; -0.0 and 0.0 agree), MISSING where missing."""
    if pd.api.types.is_float_dtype(series):
        series = series + 0.0  # -0.0 + 0.0 == +0.0: signed zeros are one value
    keys = series.astype(str).to_numpy(dtype=object)
    keys[pd.isna(series).to_numpy()] = MISSING
    return keys


_SIMPLEX_CACHE: dict[int, np.ndarray] = {}


def _simplex(k: int) -> np.ndarray:
    """Return k points in k-1 dimensions, every pair exactly 1 apart (rotated one-hot / sqrt(2))."""
    if k not in _SIMPLEX_CACHE:
        centred = (np.eye(k) - 1.0 / k) / math.sqrt(2.0)
        _, vectors = np.linalg.eigh(np.eye(k) - 1.0 / k)
        _SIMPLEX_CACHE[k] = centred @ vectors[:, 1:]  # drop the eigenvector along (1, ..., 1)
    return _SIMPLEX_CACHE[k]


# --- Nearest records -----------------------------------------------------------------------------
@dataclass
class NearestRecords:
    """For every query row: positions of and distances to its nearest reference rows (column 0 nearest)."""

    positions: np.ndarray  # (n_query, k) int, 0-based row positions in the reference; -1 if none
    distances: np.ndarray  # (n_query, k) float64; inf if none
    columns: tuple[str, ...]
    skipped: dict[str, str]

    @property
    def nearest_position(self) -> np.ndarray:
        """Position of the nearest reference row of each query row."""
        return self.positions[:, 0]

    @property
    def distance(self) -> np.ndarray:
        """Distance to the nearest reference row (the DCR when the reference is the training table)."""
        return self.distances[:, 0]

    @property
    def second_distance(self) -> np.ndarray:
        """Distance to the second-nearest reference row (inf if the reference has one row)."""
        return self.distances[:, 1] if self.distances.shape[1] > 1 else np.full(len(self.distances), np.inf)

    @property
    def nearest_neighbor_distance_ratio(self) -> np.ndarray:
        """Nearest / second-nearest distance; 1.0 when both are 0 (a duplicated reference row)."""
        first, second = self.distance, self.second_distance
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(second > 0, first / second, 1.0)
        return np.where(np.isinf(second), 0.0, ratio)


def nearest_records(
    reference: pd.DataFrame,
    query: pd.DataFrame,
    metadata: Metadata,
    *,
    real: pd.DataFrame | None = None,
    encoding: DistanceEncoding | None = None,
    n_neighbors: int = 2,
    chunk_rows: int = 20_000,
    progress: Progress = None,
) -> NearestRecords:
    """Exact nearest reference rows of every query row under the module's mixed-type distance."""
    if encoding is None:
        base = reference if real is None else real
        encoding = DistanceEncoding.fit(base, metadata, others=[reference, query])
    ref = encoding.transform(reference)
    qry = encoding.transform(query)
    positions, distances = nearest_encoded(ref, qry, n_neighbors, chunk_rows, progress)
    return NearestRecords(positions, distances, encoding.columns, dict(encoding.skipped))


def nearest_encoded(
    ref: np.ndarray, qry: np.ndarray, n_neighbors: int, chunk_rows: int = 20_000, progress: Progress = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of `ref` for each row of `qry` (positions, float64 distances); ties to the lower position.

    Float32 candidates (core.stats.nearest's fused kernel or torch products) that provably hold the true neighbours,
    each re-measured in float64 from the float64 coordinates, so ties and near-zero distances are exact
    (core.stats.nearest). `chunk_rows` is kept for callers; the block size is core.stats.nearest's.
    """
    from core.stats.nearest import exact_nearest

    return exact_nearest(ref, qry, n_neighbors, progress=progress)
