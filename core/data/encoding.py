"""Shared integer and float encodings of real, synthetic and holdout columns, so every metric is vectorized.

The tables of one evaluation are encoded once (`encode_tables`) and the bundle, `EncodedTables`, is handed to
every family: fidelity, validity, privacy, utility, structure and the Records page read the tables through it.
It maps each column to its `EncodedColumn` and carries the record distance's encoding (core.stats.distances),
fitted once and applied once per table when a family first needs it.

A discrete column (categorical, boolean) becomes integer codes over the union of the values seen in any
table, with missing values as one more code. A continuous column (numerical, datetime) keeps its float
values (datetimes as int64 nanoseconds) and also gets bin codes: sdmetrics' discretization, ten
equal-width bins from the real values with the outer edges opened to infinity, missing as an 11th code.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import pandas as pd

from core.stats.binning import safe_edges
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES, Metadata

if TYPE_CHECKING:
    from core.stats.distances import DistanceEncoding

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


class EncodedTables(Mapping):
    """The tables of one evaluation, encoded once: column name -> EncodedColumn, plus the record distance.

    Built by `encode_tables` from role -> frame (real, synthetic, optional holdout) and the metadata. Each part
    is computed on first use and kept (thread-safe: the app's background jobs share one bundle), so a family
    pays only for what it reads: `columns` (`encode_columns`), `distance_encoding()` (ranges from the real table, category levels and missing-value flags from
    every table), `level_codes(role)` (each used discrete column as positions in those levels) and
    `coordinates(role)` (the float64 matrix whose Euclidean distances are the record distances).
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame], metadata: Metadata):
        self.frames = dict(frames)
        self.metadata = dict(metadata)
        self._memo: dict[tuple, object] = {}
        self._lock = threading.RLock()

    @property
    def columns(self) -> dict[str, EncodedColumn]:
        """Every scored column's codes (and values) in every table (`encode_columns`), encoded on first use."""
        return self._once(("columns",), lambda: encode_columns(self.frames, self.metadata))

    def __getitem__(self, name: str) -> EncodedColumn:
        return self.columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    __eq__ = object.__eq__  # one bundle per evaluation: equal only to itself (Mapping's would compare arrays)
    __hash__ = object.__hash__

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_lock")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles encoded, in order (real first)."""
        return tuple(self.frames)

    def covers(self, frames: Mapping[str, pd.DataFrame | None], metadata: Metadata) -> bool:
        """True when this bundle was built from these very frames (by identity) and this metadata."""
        given = {role: frame for role, frame in frames.items() if frame is not None}
        return (dict(metadata) == self.metadata and all(role in self.frames and self.frames[role] is frame
                                                         for role, frame in given.items()))

    def _once(self, key: tuple, compute: Callable[[], object]) -> object:
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def distance_encoding(self) -> "DistanceEncoding":
        """The record distance's encoding (core.stats.distances), fitted once on every table of the bundle."""
        from core.stats.distances import DistanceEncoding

        others = [frame for role, frame in self.frames.items() if role != "real"]
        return self._once(("distance",), lambda: DistanceEncoding.fit(self.frames["real"], self.metadata, others))

    def level_codes(self, role: str) -> dict[str, np.ndarray]:
        """Each used discrete column of one table as int positions in the distance encoding's levels."""
        return self._once(("levels", role), lambda: self.distance_encoding().level_codes(self.frames[role]))

    def coordinates(self, role: str) -> np.ndarray:
        """One table's float64 coordinates: their Euclidean distances are the record distances (read-only)."""
        def compute() -> np.ndarray:
            matrix = self.distance_encoding().transform(self.frames[role], codes=self.level_codes(role))
            matrix.flags.writeable = False  # shared by every family: nobody may change it in place
            return matrix

        return self._once(("coordinates", role), compute)


def encode_tables(frames: Mapping[str, pd.DataFrame], metadata: Metadata) -> EncodedTables:
    """Encode every table of one evaluation once (role -> frame; 'real' first): the bundle every family reads."""
    frames = {role: frames[role] for role in ROLES if role in frames and frames[role] is not None}
    return EncodedTables(frames, metadata)


def encoded_for(frames: Mapping[str, pd.DataFrame | None], metadata: Metadata,
                encoded: EncodedTables | None = None) -> EncodedTables:
    """`encoded` when it was built from these frames, else a bundle built now (a family called on its own)."""
    if encoded is not None and encoded.covers(frames, metadata):
        return encoded
    return encode_tables({role: frame for role, frame in frames.items() if frame is not None}, metadata)
