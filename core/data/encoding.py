"""Shared integer and float encodings of real, synthetic and holdout columns, so every metric is vectorized.

A discrete column (categorical, boolean) becomes integer codes over the union of the values seen in any
table, with missing values as one more code. A continuous column (numerical, datetime) keeps its float
values (datetimes as int64 nanoseconds) and also gets bin codes: sdmetrics' discretization, ten
equal-width bins from the real values with the outer edges opened to infinity, missing as an 11th code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.stats.binning import safe_edges
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES, Metadata

NUM_BINS = 10
ROLES = ("real", "synthetic", "holdout")


def code_dtype(levels: int) -> type:
    """The smallest unsigned integer dtype that holds codes 0..levels-1 (less memory to stream per pair)."""
    return np.uint8 if levels <= 256 else np.uint16 if levels <= 65_536 else np.uint32


def row_keys(encoded: dict[str, "EncodedColumn"], role: str) -> np.ndarray:
    """A 64-bit key per row of one table: equal rows get equal keys (collisions are negligible)."""
    return combine_row_keys([column.values[role] if column.is_continuous else column.codes[role]
                             for column in encoded.values()])


def combine_row_keys(columns: list[np.ndarray]) -> np.ndarray:
    """row_keys of columns given as float values (NaN missing, -0.0 already 0.0) or integer codes, in order."""
    key = np.zeros(len(columns[0]), dtype=np.uint64)
    prime = np.uint64(1_099_511_628_211)
    for column in columns:
        if column.dtype.kind == "f":
            part = np.nan_to_num(column, nan=np.inf).view(np.uint64)
        else:
            part = column.astype(np.uint64)
        key = key * prime ^ (part + np.uint64(0x9E3779B97F4A7C15))
    return key


@dataclass
class EncodedColumn:
    """One column of every table, encoded on a shared basis."""

    name: str
    sdtype: str
    codes: dict[str, np.ndarray]  # role -> codes in the smallest unsigned dtype; discrete: categories, continuous: bins
    levels: int  # number of distinct codes, the missing code included
    labels: list  # label of each code (category value, or bin interval text); last is missing
    values: dict[str, np.ndarray] | None = None  # continuous only: role -> float64 with NaN
    edges: np.ndarray | None = None  # continuous only: the bin edges, outer ones infinite
    constant: dict[str, bool] = field(default_factory=dict)  # role -> at most one distinct value (memo)

    @property
    def is_continuous(self) -> bool:
        """True for numerical and datetime columns."""
        return self.sdtype in CONTINUOUS_SDTYPES

    @property
    def missing_code(self) -> int:
        """The code that stands for a missing value."""
        return self.levels - 1


def continuous_values(series: pd.Series) -> np.ndarray:
    """Float64 values of a numerical or datetime column, NaN where missing."""
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
        values[series.isna().to_numpy()] = np.nan
        return values
    # + 0.0 turns -0.0 into 0.0: they are one value, and row keys hash the float's bits.
    return series.to_numpy(dtype="float64", na_value=np.nan) + 0.0


def encode_columns(tables: dict[str, pd.DataFrame], metadata: Metadata) -> dict[str, EncodedColumn]:
    """Encode every numerical, datetime, categorical and boolean column of the given tables."""
    encoded = {}
    for name, sdtype in metadata.items():
        if sdtype in CONTINUOUS_SDTYPES:
            encoded[name] = _encode_continuous(name, sdtype, tables)
        elif sdtype in DISCRETE_SDTYPES:
            encoded[name] = _encode_discrete(name, sdtype, tables)
    return encoded


def _encode_discrete(name: str, sdtype: str, tables: dict[str, pd.DataFrame]) -> EncodedColumn:
    roles = list(tables)
    joined = pd.concat([tables[r][name] for r in roles], ignore_index=True)
    codes, uniques = pd.factorize(joined, use_na_sentinel=True)
    missing = len(uniques)
    codes = np.where(codes < 0, missing, codes).astype(code_dtype(missing + 1))
    out, start = {}, 0
    for role in roles:
        n = len(tables[role])
        out[role] = codes[start : start + n]
        start += n
    return EncodedColumn(name, sdtype, out, missing + 1, list(uniques) + [None])


def _encode_continuous(name: str, sdtype: str, tables: dict[str, pd.DataFrame]) -> EncodedColumn:
    values = {role: continuous_values(frame[name]) for role, frame in tables.items()}
    real = values["real"]
    present = real[~np.isnan(real)]
    if present.size:
        edges = safe_edges(present, NUM_BINS)  # constant or huge-valued columns included
    else:
        edges = np.linspace(0.0, 1.0, NUM_BINS + 1)
    shown = edges.copy()
    edges[0], edges[-1] = -np.inf, np.inf
    codes = {}
    for role, vals in values.items():
        # np.digitize puts NaN past the last edge: code NUM_BINS + 1, shifted to NUM_BINS below.
        codes[role] = (np.digitize(vals, edges) - 1).astype(code_dtype(NUM_BINS + 1))
    labels = [f"[{shown[i]:.4g}, {shown[i + 1]:.4g})" for i in range(NUM_BINS)] + [None]
    return EncodedColumn(name, sdtype, codes, NUM_BINS + 1, labels, values=values, edges=edges)
