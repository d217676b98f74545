"""Exact copies: memorised training rows told apart from natural duplicates, and near copies.

A training row's value combination (on every used column) is *natural* when it repeats in the training table
or also occurs in the holdout: fresh real data produces it too. A synthetic row identical to a training row
whose combination is unique in train and absent from the holdout is a *memorised* copy. The holdout is put on
the same footing, leave-one-out: a holdout row counts as hitting a unique training row when its combination
occurs once in train and nowhere else in the holdout. That holdout rate, with its own sampling uncertainty and
the binomial spread at the synthetic table's size, is the exact_copies gate's null.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from core.stats.distances import category_keys, numeric_values


@dataclass
class ExactCopies:
    """Synthetic rows identical to a training row (all used columns), split into memorised and natural."""

    synthetic_rate: float  # every synthetic row identical to some training row
    holdout_rate: float  # every holdout row identical to some training row (natural duplicates included)
    synthetic_positions: np.ndarray  # positions of synthetic rows that copy a training row
    synthetic_rows: int = 0
    holdout_rows: int = 0
    memorised_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    holdout_memorised_count: int = 0  # holdout rows hitting a unique training row (leave-one-out)
    null: np.ndarray | None = None  # memorised rate of real rows at the synthetic size, per resample

    @property
    def memorised_rate(self) -> float:
        """Share of synthetic rows that copy a training row unique in train and absent from the holdout."""
        return len(self.memorised_positions) / max(self.synthetic_rows, 1)

    @property
    def natural_rate(self) -> float:
        """Share of synthetic rows that copy a natural duplicate (repeated in train or present in the holdout)."""
        return self.synthetic_rate - self.memorised_rate

    @property
    def holdout_memorised_rate(self) -> float:
        """The holdout's own rate of hitting a unique training row (the null's centre)."""
        return self.holdout_memorised_count / max(self.holdout_rows, 1)

    @property
    def excess_rate(self) -> float:
        """Memorised rate above the holdout's own rate (0 when not above); informative, the gate uses the null."""
        return max(0.0, self.memorised_rate - self.holdout_memorised_rate)


def row_hashes(frame: pd.DataFrame, columns: Sequence[str], codes: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """One 64-bit hash per row over `columns`: numbers as float64 (signed zeros normalised), the rest as text.

    `codes` (the distance encoding's level codes of `frame`, core.data.encoding.EncodedTables.level_codes) stand
    for the text of the columns they cover: equal text, equal code. Hashes of tables compared with each other
    must all be made with codes of one encoding, or all without."""
    parts = {}
    for column in columns:
        series = frame[column]
        if codes is not None and column in codes:
            parts[column] = pd.Series(codes[column])
        elif pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            parts[column] = pd.Series(numeric_values(series))
        else:  # discrete: compare as text so 1 and "1" agree; missing is its own value
            parts[column] = pd.Series(category_keys(series))
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False).to_numpy()


def exact_copy_positions(train: pd.DataFrame, other: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Positions of rows of `other` identical to some training row on `columns` (hashing, vectorized)."""
    return np.flatnonzero(np.isin(row_hashes(other, columns), row_hashes(train, columns)))


def _counts_of(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """How often each of `values` occurs in `table`."""
    counts = pd.Series(table).value_counts()
    return pd.Series(values).map(counts).fillna(0).to_numpy(dtype=np.int64)


def unique_training_rows(train_hash: np.ndarray, holdout_hash: np.ndarray) -> np.ndarray:
    """Boolean per training row: its combination occurs once in train and never in the holdout."""
    return (_counts_of(train_hash, train_hash) == 1) & (_counts_of(train_hash, holdout_hash) == 0)


def holdout_hits_unique(train_hash: np.ndarray, holdout_hash: np.ndarray) -> np.ndarray:
    """Boolean per holdout row: identical to a training row unique in train, and unique in the holdout itself."""
    return (_counts_of(holdout_hash, train_hash) == 1) & (_counts_of(holdout_hash, holdout_hash) == 1)


def copy_rate_null(hits: int, n_holdout: int, n_synthetic: int, resamples: int, seed: int) -> np.ndarray:
    """Memorised-copy rates a real sample of n_synthetic rows shows: the holdout's rate hits/n_holdout drawn
    from its Jeffreys posterior (its own sampling noise), then binomially at the synthetic size."""
    rng = np.random.default_rng(seed)
    rates = rng.beta(hits + 0.5, n_holdout - hits + 0.5, size=resamples)
    return rng.binomial(n_synthetic, rates) / max(n_synthetic, 1)


def exact_copies(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, columns: Sequence[str], *,
                 resamples: int, seed: int, hashes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                 ) -> ExactCopies:
    """Copies of training rows in the synthetic table and in the holdout, memorised vs natural, with the null;
    `hashes` are the three tables' row_hashes when already made."""
    train_hash, syn_hash, hold_hash = hashes or tuple(row_hashes(f, columns) for f in (train, synthetic, holdout))
    syn_copies = np.flatnonzero(np.isin(syn_hash, train_hash))
    hold_copies = np.flatnonzero(np.isin(hold_hash, train_hash))
    unique = unique_training_rows(train_hash, hold_hash)
    memorised = syn_copies[np.isin(syn_hash[syn_copies], train_hash[unique])]
    hits = int(holdout_hits_unique(train_hash, hold_hash).sum())
    null = copy_rate_null(hits, len(holdout), len(synthetic), resamples, seed)
    return ExactCopies(len(syn_copies) / len(synthetic), len(hold_copies) / len(holdout), syn_copies,
                       len(synthetic), len(holdout), memorised, hits, null)


@dataclass
class NearCopies:
    """Synthetic rows within `distance_threshold` of a training row, closest first."""

    distance_threshold: float
    synthetic_rate: float
    holdout_rate: float
    synthetic_positions: np.ndarray
    train_positions: np.ndarray
    distances: np.ndarray

    def pairs(self, limit: int | None = None) -> list[tuple[int, int, float]]:
        """(synthetic row position, training row position, distance) for the UI, closest first."""
        stop = len(self.distances) if limit is None else limit
        return [
            (int(s), int(t), float(d))
            for s, t, d in zip(self.synthetic_positions[:stop], self.train_positions[:stop], self.distances[:stop])
        ]
