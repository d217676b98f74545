"""Distance to closest record (DCR): synthetic vs holdout rows, both measured to the training rows.

For display the DCR is measured to every training row (exact copies at 0.0, nothing left out). The
distance_to_closest_record gate measures it to the training rows that are unique (their value combination
occurs once in train and never in the holdout, see copies.py), because being close to a combination fresh
real data also produces is no leak: in tables where real rows repeat (a third of census rows do) the natural
duplicates would otherwise fill the holdout's low tail with zeros and hide every near copy, or make
non-members with a little noise look closer than the holdout. A holdout row identical to a unique training row
(leave-one-out) keeps its distance 0. The gate's statistic is the share of ALL synthetic rows whose gate DCR
lies below the holdout's DCR_TAIL_QUANTILE (mid-rank percentile, so ties at 0 count half), and its null is the
same share for real rows: a bootstrap of the holdout as the reference and an independent draw of holdout rows
at the synthetic size posing as the synthetic table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.stats.distances import NearestRecords, Progress, nearest_encoded
from core.stats.memo import fingerprint, real_side, remember
from core.stats.nearest import DEFAULT_TIME_BUDGET_SECONDS, nearest_search

DCR_TAIL_QUANTILE = 0.05


@dataclass
class DistanceToClosestRecord:
    """DCR of synthetic and holdout rows to the training rows, and the comparisons built on them."""

    synthetic_to_train: np.ndarray
    holdout_to_train: np.ndarray
    synthetic_to_holdout: np.ndarray
    synthetic_nearest_train_position: np.ndarray
    nndr_synthetic: np.ndarray
    nndr_holdout: np.ndarray
    share_closer_to_train: float  # ~0.5 when safe; train/holdout equal-sized for this comparison
    rows_compared_for_share: int
    median_distance_ratio: float  # median synthetic DCR / median holdout DCR; >= 1 is safe
    tail_share: float  # share of synthetic gate DCRs below the holdout's DCR_TAIL_QUANTILE
    synthetic_to_unique: np.ndarray | None = None  # gate DCR: to training rows unique in train, not in holdout
    holdout_to_unique: np.ndarray | None = None  # the holdout's gate DCR (0 where it hits a unique row itself)
    unique_train_rows: int = 0
    null: np.ndarray | None = None  # tail share of real rows at the synthetic size, per resample
    search: dict | None = None  # how the nearest rows were found: exact, or approximate with its recall

    def search_summary(self) -> dict:
        """The DCR searches as one report entry: "exact", or "approximate" with the lowest measured recall."""
        return dict(self.search or {"method": "exact"})

    @property
    def tail_share_lower_bound(self) -> float:
        """One-sided 95% lower bound of the tail share (informative; the gate judges tail_share on its null)."""
        q = DCR_TAIL_QUANTILE
        noise = 1.645 * float(np.sqrt(q * (1 - q) * (1 / max(len(self.synthetic_to_train), 1)
                                                      + 1 / max(len(self.holdout_to_train), 1))))
        return max(0.0, self.tail_share - noise)


def tail_share(synthetic: np.ndarray, baseline: np.ndarray, quantile: float) -> float:
    """Share of synthetic values whose mid-rank percentile within `baseline` is below `quantile` (zeros kept)."""
    if synthetic.size == 0 or baseline.size == 0:
        return 0.0
    ordered = np.sort(baseline)
    below = np.searchsorted(ordered, synthetic, side="left")
    equal = np.searchsorted(ordered, synthetic, side="right") - below
    percentile = (below + 0.5 * equal) / len(ordered)
    return float(np.mean(percentile < quantile))


@real_side
def tail_share_null(holdout_gate: np.ndarray, n_synthetic: int, resamples: int, seed: int,
                    quantile: float = DCR_TAIL_QUANTILE, groups: np.ndarray | None = None) -> np.ndarray:
    """Tail shares of real rows: per resample a bootstrap of the holdout (its size) is the reference and an
    independent draw of n_synthetic holdout rows poses as the synthetic table, so the spread holds both the
    reference quantile's noise at the holdout's size and the binomial noise at the synthetic size. With
    `groups` (one code per holdout row: a join's parent entities) whole groups are drawn, as many as give
    those sizes on average, since rows of one entity are near copies that a fresh sample brings together."""
    rng = np.random.default_rng(seed)
    n = len(holdout_gate)
    if n < 2:
        return np.zeros(0)
    out = np.empty(resamples)
    if groups is None:
        for r in range(resamples):
            reference = holdout_gate[rng.integers(0, n, n)]
            out[r] = tail_share(holdout_gate[rng.integers(0, n, n_synthetic)], reference, quantile)
        return out
    codes = np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)
    members = np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes))[:-1])
    g = len(members)
    m = max(1, int(round(n_synthetic * g / n)))
    pick = lambda size: holdout_gate[np.concatenate([members[i] for i in rng.integers(0, g, size)])]
    for r in range(resamples):
        reference = pick(g)
        out[r] = tail_share(pick(m), reference, quantile)
    return out


@real_side
def _to_unique(train_enc: np.ndarray, query_enc: np.ndarray, unique: np.ndarray, nearest: np.ndarray,
               distance: np.ndarray) -> np.ndarray:
    """Distance of each query row to the nearest unique training row (reusing the full search where it hit one)."""
    out = np.full(len(query_enc), np.inf)
    hit = unique[nearest] if len(nearest) else np.zeros(0, dtype=bool)
    out[hit] = distance[hit]
    rest = np.flatnonzero(~hit)
    if rest.size and unique.any():
        _, found = nearest_encoded(train_enc[unique], query_enc[rest], 1)
        out[rest] = found[:, 0]
    return out


def distance_to_closest_record(
    train_enc: np.ndarray,
    synthetic_enc: np.ndarray,
    holdout_enc: np.ndarray,
    *,
    unique_train: np.ndarray | None = None,
    holdout_hits: np.ndarray | None = None,
    resamples: int = 200,
    seed: int = 0,
    progress: Progress = None,
    time_budget_seconds: float = DEFAULT_TIME_BUDGET_SECONDS,
    holdout_groups: np.ndarray | None = None,
) -> DistanceToClosestRecord:
    """DCR of synthetic and holdout rows to training rows (encoded matrices), with NNDR, comparisons and the
    gate's DCR to the unique training rows and its null (`unique_train`/`holdout_hits` from copies.py). The two
    searches to the training rows are exact unless their estimated time exceeds `time_budget_seconds`; then a
    faiss index finds them and `search` says "approximate" with the recall measured on a seeded sample.
    holdout_groups: the holdout rows' entities for the null (see tail_share_null), None: every row alone."""
    step = _sub_progress(progress, 0.0, 0.45)
    found = [nearest_search(train_enc, synthetic_enc, 2, time_budget_seconds=time_budget_seconds, seed=seed,
                            progress=step),
             remember(("holdout nearest training rows", fingerprint(train_enc), fingerprint(holdout_enc),
                       time_budget_seconds, seed),  # real rows only: once per sweep (core/stats/memo.py)
                      lambda: nearest_search(train_enc, holdout_enc, 2, time_budget_seconds=time_budget_seconds,
                                             seed=seed, progress=_sub_progress(progress, 0.45, 0.6)))]
    (syn_pos, syn_dist), (hold_pos, hold_dist) = ((f.positions, f.distances) for f in found)
    approximate = [f for f in found if f.method == "approximate"]
    search = {"method": "approximate" if approximate else "exact",
              "time_budget_seconds": float(time_budget_seconds),
              "searches": {"synthetic_to_train": found[0].to_dict(), "holdout_to_train": found[1].to_dict()}}
    if approximate:
        search["recall"] = min(f.recall for f in approximate)
    # closer to train than holdout: compare against equal-sized train and holdout (seeded subsample)
    rng = np.random.default_rng(seed)
    n = min(len(train_enc), len(holdout_enc))
    if len(train_enc) > n:
        keep = np.sort(rng.choice(len(train_enc), n, replace=False))
        _, to_train = nearest_encoded(train_enc[keep], synthetic_enc, 1)
    else:
        to_train = syn_dist[:, :1]
    ref_holdout = holdout_enc if len(holdout_enc) == n else holdout_enc[np.sort(rng.choice(len(holdout_enc), n, replace=False))]
    _, to_holdout = nearest_encoded(ref_holdout, synthetic_enc, 1, progress=_sub_progress(progress, 0.6, 0.8))
    to_train, to_holdout = to_train[:, 0], to_holdout[:, 0]
    share = float(np.mean(np.where(to_train < to_holdout, 1.0, np.where(to_train == to_holdout, 0.5, 0.0))))
    syn_dcr, hold_dcr = syn_dist[:, 0], hold_dist[:, 0]
    median_hold = float(np.median(hold_dcr))
    ratio = float(np.median(syn_dcr) / median_hold) if median_hold > 0 else (1.0 if np.median(syn_dcr) == 0 else math.inf)

    if unique_train is None:
        unique_train = np.ones(len(train_enc), dtype=bool)
    if holdout_hits is None:
        holdout_hits = np.zeros(len(holdout_enc), dtype=bool)
    syn_gate = _to_unique(train_enc, synthetic_enc, unique_train, syn_pos[:, 0], syn_dcr)
    hold_gate = np.where(holdout_hits, 0.0, _to_unique(train_enc, holdout_enc, unique_train, hold_pos[:, 0], hold_dcr))
    if progress is not None:
        progress(1.0, "distance to closest record")
    judged = bool(unique_train.any())
    syn_nr = NearestRecords(syn_pos, syn_dist, (), {})
    hold_nr = NearestRecords(hold_pos, hold_dist, (), {})
    return DistanceToClosestRecord(
        synthetic_to_train=syn_dcr,
        holdout_to_train=hold_dcr,
        synthetic_to_holdout=to_holdout,
        synthetic_nearest_train_position=syn_pos[:, 0],
        nndr_synthetic=syn_nr.nearest_neighbor_distance_ratio,
        nndr_holdout=hold_nr.nearest_neighbor_distance_ratio,
        share_closer_to_train=share,
        rows_compared_for_share=n,
        median_distance_ratio=ratio,
        tail_share=tail_share(syn_gate, hold_gate, DCR_TAIL_QUANTILE) if judged else 0.0,
        synthetic_to_unique=syn_gate,
        holdout_to_unique=hold_gate,
        unique_train_rows=int(unique_train.sum()),
        null=tail_share_null(hold_gate, len(synthetic_enc), resamples, seed, groups=holdout_groups) if judged else None,
        search=search,
    )


def _sub_progress(progress: Progress, low: float, high: float, message: str | None = None) -> Progress:
    if progress is None:
        return None
    return lambda fraction, text: progress(low + (high - low) * fraction, message or text)
