"""The locked holdout: a seeded split of the real table, hashed so it can be proven never to reach a generator."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import UsageError
from core.data.io import sha256_frame


@dataclass
class HoldoutSplit:
    """The training part and the holdout of a real table, with what makes the split reproducible."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    seed: int
    fraction: float
    stratify: str | None
    source_sha256: str
    train_sha256: str
    holdout_sha256: str
    group: str | None = None  # sequential data: whole sequences (this column's values) go to one side

    def manifest(self) -> dict:
        """What to record about the split (no data)."""
        return {
            "seed": self.seed, "fraction": self.fraction, "stratify": self.stratify,
            "source_sha256": self.source_sha256, "train_sha256": self.train_sha256,
            "holdout_sha256": self.holdout_sha256, "train_rows": len(self.train), "holdout_rows": len(self.holdout),
            **({"group": self.group} if self.group else {}),
        }


def split_holdout(frame: pd.DataFrame, fraction: float = 0.2, seed: int = 0, stratify: str | None = None,
                  group: str | None = None) -> HoldoutSplit:
    """Split a real table into train and holdout rows; stratified on a column when asked; with `group` (a
    sequence key) whole groups are dealt, the fraction counting groups, so no sequence straddles the split."""
    if not 0.0 < fraction < 1.0:
        raise UsageError(f"holdout fraction must be between 0 and 1, not {fraction}")
    if group is not None:
        return _group_split(frame, fraction, seed, group)
    n_holdout = int(round(len(frame) * fraction))
    if n_holdout < 1 or n_holdout >= len(frame):
        raise UsageError(f"a holdout fraction of {fraction} of {len(frame)} rows leaves one side empty")
    rng = np.random.default_rng(seed)
    if stratify is None:
        holdout_index = rng.permutation(len(frame))[:n_holdout]
    else:
        if stratify not in frame.columns:
            raise UsageError(f"column '{stratify}': cannot stratify on a column the table does not have")
        holdout_index = _stratified_positions(frame[stratify], fraction, rng)
        if len(holdout_index) == 0 or len(holdout_index) == len(frame):
            strata = frame[stratify].nunique(dropna=False)
            raise UsageError(f"column '{stratify}': stratifying {len(frame)} rows on {strata} value(s) with a "
                             f"fraction of {fraction} leaves one side empty; stratify on a column with fewer values")
    mask = np.zeros(len(frame), dtype=bool)
    mask[np.sort(holdout_index)] = True
    train, holdout = frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
    return HoldoutSplit(train, holdout, seed, fraction, stratify, sha256_frame(frame),
                        sha256_frame(train), sha256_frame(holdout))


def _stratified_positions(labels: pd.Series, fraction: float, rng: np.random.Generator) -> np.ndarray:
    codes, _ = pd.factorize(labels, use_na_sentinel=False)
    order = rng.permutation(len(codes))
    # Within each stratum take round(fraction * size) rows, drawn from a seeded shuffle.
    shuffled = codes[order]
    sort = np.argsort(shuffled, kind="stable")
    grouped_codes = shuffled[sort]
    starts = np.searchsorted(grouped_codes, np.arange(codes.max() + 1))
    rank = np.arange(len(codes)) - starts[grouped_codes]
    sizes = np.bincount(codes)
    take = rank < np.round(sizes * fraction)[grouped_codes]
    return order[sort][take]


def _group_split(frame: pd.DataFrame, fraction: float, seed: int, group: str) -> HoldoutSplit:
    if group not in frame.columns:
        raise UsageError(f"column '{group}': cannot split by sequences on a column the table does not have")
    codes, keys = pd.factorize(frame[group], use_na_sentinel=False)
    # keys in sorted text order first, so the split does not depend on the order rows arrive in
    rank = np.argsort(np.argsort(keys.astype(str), kind="stable"), kind="stable")
    n_holdout = int(round(len(keys) * fraction))
    if n_holdout < 1 or n_holdout >= len(keys):
        raise UsageError(f"column '{group}': a holdout fraction of {fraction} of {len(keys)} sequences leaves one "
                         "side empty")
    chosen = np.zeros(len(keys), dtype=bool)
    chosen[np.random.default_rng(seed).permutation(len(keys))[:n_holdout]] = True
    mask = chosen[rank][codes]
    train, holdout = frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
    return HoldoutSplit(train, holdout, seed, fraction, None, sha256_frame(frame), sha256_frame(train),
                        sha256_frame(holdout), group=group)
