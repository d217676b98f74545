"""Privacy checks: exact/near copies, distance to closest record, membership inference, anonymeter-style risks.

Distance between two records (one definition, used by every check here and by the Records page)
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
can then be found with BLAS matrix products: sklearn's brute-force `NearestNeighbors` (its Cython
ArgKmin reduction, 2 threads) took 23 s for 100k x 100k rows x 40 dims here, faster than faiss-cpu
IndexFlatL2 (32 s) and than chunked numpy products with argmin (48 s). The two neighbours it returns
are re-measured in float64 so exact copies have distance 0.0 exactly.

Row references in results are 0-based positions (use .iloc), not index labels.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from core.errors import UsageError
from core.data.metadata import Metadata

Progress = Callable[[float, str], None] | None

# --- Default gate thresholds (a gate fails when its value is ABOVE the threshold) -----------------
# exact_copies: share of synthetic rows identical to a training row, minus the holdout's own share
# (natural duplicates). 1 percentage point above what fresh real data shows is already a generator
# that memorises; planted 5 % copies fail clearly, and with ~1,000 rows sampling noise of the
# difference stays well below 1 point for tables without natural duplicates.
EXACT_COPY_EXCESS_THRESHOLD = 0.01
# distance_to_closest_record: share of synthetic rows whose distance to the training rows is below
# the 5th percentile of the holdout rows' distances (a fresh real sample gives 0.05 by construction).
# 0.08 (baseline + 3 points, judged on the lower confidence bound) fails 10 % memorised-with-noise rows,
# which give 0.10 + 0.9 * 0.05 = 0.145 beside a safe generator and 0.10 beside one that keeps its distance.
DCR_TAIL_QUANTILE = 0.05
DCR_TAIL_SHARE_THRESHOLD = 0.08
# membership_inference: AUC of the distance attack (0.5 = no leak). 0.6 is a weak but real signal
# and is about 3 standard errors above 0.5 with 200 candidates per group (Hanley-McNeil).
MEMBERSHIP_AUC_THRESHOLD = 0.60

NEAR_COPY_DISTANCE = 0.05  # all numeric columns within ~1-5 % of range and every category equal
NUMERIC_INFERENCE_TOLERANCE = 0.05  # a numeric secret is guessed right within 5 % of its real range
CONFIDENCE_LEVEL = 0.95
MAX_NEAR_COPY_PAIRS_IN_REPORT = 100
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95)
_MISSING = "\x00<missing>"


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
                values = _numeric_values(real[column])
                finite = values[~np.isnan(values)]
                lo = float(finite.min()) if finite.size else 0.0
                hi = float(finite.max()) if finite.size else 0.0
                minimum[column], span[column] = lo, hi - lo
                circular[column] = any(bool(pd.isna(t[column]).any()) for t in tables)
                width = 2 if circular[column] else 1
            else:
                keys = pd.unique(np.concatenate([_category_keys(t[column]) for t in tables]))
                levels[column] = tuple(sorted(keys.tolist()))
                width = max(len(levels[column]) - 1, 0)
            columns.append(column)
            sdtypes[column] = sdtype
            blocks[column] = slice(start, start + width)
            start += width
        if not columns:
            raise UsageError("no numerical, datetime, categorical or boolean column to measure distances on")
        return cls(tuple(columns), skipped, sdtypes, minimum, span, circular, levels, blocks, start)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the float32 matrix (rows x n_dims) whose Euclidean distances are the record distances."""
        out = np.zeros((len(frame), self.n_dims), dtype=np.float32)
        for column in self.columns:
            block = self.blocks[column]
            if self.sdtypes[column] in ("numerical", "datetime"):
                out[:, block] = self._numeric_block(column, _numeric_values(frame[column]))
            elif block.stop > block.start:
                keys = _category_keys(frame[column])
                codes = pd.Index(self.levels[column]).get_indexer(keys)
                if (codes < 0).any():
                    unseen = keys[codes < 0][0]
                    raise UsageError(f"column '{column}': value {unseen!r} was not seen when the encoding was fitted")
                out[:, block] = _simplex(len(self.levels[column]))[codes]
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


def _numeric_values(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):
        ns = series.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)
        return np.where(series.isna().to_numpy(), np.nan, ns)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _category_keys(series: pd.Series) -> np.ndarray:
    keys = series.astype(str).to_numpy(dtype=object)
    keys[pd.isna(series).to_numpy()] = _MISSING
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
    positions, distances = _nearest_encoded(ref, qry, n_neighbors, chunk_rows, progress)
    return NearestRecords(positions, distances, encoding.columns, dict(encoding.skipped))


_SMALL_PROBLEM = 25_000_000  # reference x query pairs below which numpy beats sklearn's threaded reduction


def _nearest_encoded(
    ref: np.ndarray, qry: np.ndarray, n_neighbors: int, chunk_rows: int = 20_000, progress: Progress = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of `ref` for each row of `qry` (brute force, chunked); float64 distances."""
    from sklearn.neighbors import NearestNeighbors

    n_query, k_found = len(qry), min(n_neighbors, len(ref))
    positions = np.full((n_query, n_neighbors), -1, dtype=np.int64)
    distances = np.full((n_query, n_neighbors), np.inf)
    if n_query == 0 or k_found == 0:
        return positions, distances
    if ref.shape[1] == 0:  # every used column constant: all records are at distance 0
        positions[:, :k_found] = np.arange(k_found)
        distances[:, :k_found] = 0.0
        return positions, distances
    if n_query > 1000:
        # Identical query rows have identical neighbours: search each distinct row once (a third of census
        # rows repeat), then hand the result back to every copy. Exact, and up to a third less work.
        distinct, inverse = np.unique(qry, axis=0, return_inverse=True)
        if len(distinct) < 0.9 * n_query:
            found_positions, found_distances = _nearest_encoded(ref, distinct, n_neighbors, chunk_rows, progress)
            inverse = inverse.reshape(-1)
            return found_positions[inverse], found_distances[inverse]
    small = len(ref) * n_query <= _SMALL_PROBLEM
    if small:  # numpy float64 products: no thread start-up cost, exact enough to rank
        ref64 = ref.astype(np.float64)
        ref_norm = (ref64**2).sum(axis=1)
        chunk_rows = max(1, min(chunk_rows, _SMALL_PROBLEM // (10 * len(ref))))
    else:
        model = NearestNeighbors(n_neighbors=k_found, algorithm="brute").fit(ref)
    for start in range(0, n_query, chunk_rows):
        chunk = qry[start : start + chunk_rows]
        if small:
            squared = ref_norm - 2.0 * (chunk.astype(np.float64) @ ref64.T)
            found = np.argpartition(squared, k_found - 1, axis=1)[:, :k_found] if k_found < len(ref) else (
                np.broadcast_to(np.arange(k_found), (len(chunk), k_found)))
        else:
            found = model.kneighbors(chunk, return_distance=False)
        # re-measure in float64: the GEMM expansion in float32 leaves ~1e-3 noise on exact copies
        exact = np.sqrt(
            ((chunk[:, None, :].astype(np.float64) - ref[found].astype(np.float64)) ** 2).sum(axis=2)
        )
        order = np.argsort(exact, axis=1, kind="stable")
        positions[start : start + len(chunk), :k_found] = np.take_along_axis(found, order, axis=1)
        distances[start : start + len(chunk), :k_found] = np.take_along_axis(exact, order, axis=1)
        if progress is not None:
            progress(min(start + chunk_rows, n_query) / n_query, "nearest records")
    return positions, distances


# --- Result dataclasses ----------------------------------------------------------------------------
@dataclass
class ExactCopies:
    """Synthetic rows identical to a training row (all used columns), with the holdout's rate as baseline."""

    synthetic_rate: float
    holdout_rate: float
    synthetic_positions: np.ndarray  # positions of synthetic rows that copy a training row
    synthetic_rows: int = 0
    holdout_rows: int = 0

    @property
    def excess_rate(self) -> float:
        """Synthetic copy rate above the holdout's natural rate, beyond sampling noise (0 when not above).

        Tables with many natural duplicates (a third of census rows repeat) give two samples copy rates
        that differ by chance; a one-sided 99.9% two-proportion allowance keeps that from failing a gate.
        """
        p = self.holdout_rate
        noise = 3.09 * float(np.sqrt(p * (1.0 - p) * (1.0 / max(self.synthetic_rows, 1) + 1.0 / max(self.holdout_rows, 1))))
        return max(0.0, self.synthetic_rate - self.holdout_rate - noise)


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
    tail_share: float  # share of synthetic DCRs below the holdout's DCR_TAIL_QUANTILE

    @property
    def tail_share_lower_bound(self) -> float:
        """One-sided 95% lower bound of the tail share (the gate value): both the synthetic share and the
        holdout quantile it is measured against are samples, so small tables get a wide allowance."""
        q = DCR_TAIL_QUANTILE
        noise = 1.645 * float(np.sqrt(q * (1 - q) * (1 / max(len(self.synthetic_to_train), 1)
                                                      + 1 / max(len(self.holdout_to_train), 1))))
        return max(0.0, self.tail_share - noise)


@dataclass
class MembershipInference:
    """Distance attack: score = -distance to the nearest synthetic row; AUC train vs holdout."""

    auc: float
    ci_low: float
    ci_high: float
    candidates_per_group: int
    seed: int


@dataclass
class AttackRisk:
    """Anonymeter-style risk: (main success - control success) / (1 - control success), Wilson CIs."""

    name: str
    n_attacks: int
    main_successes: int
    control_successes: int
    main_rate: float
    control_rate: float
    risk: float
    ci_low: float
    ci_high: float
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON form; risk in [0, 1], lower is better."""
        return {
            "risk": self.risk,
            "risk_ci95": [self.ci_low, self.ci_high],
            "main_attack_success_rate": self.main_rate,
            "control_attack_success_rate_baseline": self.control_rate,
            "n_attacks": self.n_attacks,
            **self.detail,
        }


@dataclass
class PrivacyResult:
    """Everything the privacy checks measured; arrays are kept for the UI, `to_dict` summarises."""

    seed: int
    rows: dict[str, int]
    columns: tuple[str, ...]
    skipped: dict[str, str]
    exact_copies: ExactCopies
    near_copies: NearCopies
    distance_to_closest_record: DistanceToClosestRecord
    membership_inference: MembershipInference
    singling_out: AttackRisk
    linkability: AttackRisk | None
    attribute_inference: dict[str, AttackRisk]

    def to_dict(self) -> dict:
        """The report's "privacy" section. *_score: higher better; *_rate/_share/_risk/_distance/auc: lower better."""
        dcr = self.distance_to_closest_record
        inference = {c: r.to_dict() for c, r in self.attribute_inference.items()}
        worst = max(self.attribute_inference.values(), key=lambda r: r.risk, default=None)
        return {
            "seed": self.seed,
            "rows": dict(self.rows),
            "distance": {
                "definition": "Euclidean over columns; numeric |a-b|/real range, category mismatch 1, "
                "missing vs present 1",
                "columns": list(self.columns),
                "skipped": dict(self.skipped),
            },
            "exact_copies": {
                "synthetic_copy_rate": self.exact_copies.synthetic_rate,
                "holdout_copy_rate_baseline": self.exact_copies.holdout_rate,
                "excess_copy_rate": self.exact_copies.excess_rate,
                "synthetic_copy_count": int(len(self.exact_copies.synthetic_positions)),
            },
            "near_copies": {
                "distance_threshold": self.near_copies.distance_threshold,
                "synthetic_near_copy_rate": self.near_copies.synthetic_rate,
                "holdout_near_copy_rate_baseline": self.near_copies.holdout_rate,
                "pairs": [
                    {"synthetic_row": s, "train_row": t, "distance": d}
                    for s, t, d in self.near_copies.pairs(MAX_NEAR_COPY_PAIRS_IN_REPORT)
                ],
                "pairs_total": int(len(self.near_copies.distances)),
            },
            "distance_to_closest_record": {
                "synthetic_distance_quantiles": _quantiles(dcr.synthetic_to_train),
                "holdout_distance_quantiles_baseline": _quantiles(dcr.holdout_to_train),
                "share_closer_to_train_than_holdout": dcr.share_closer_to_train,
                "share_closer_to_train_than_holdout_baseline": 0.5,
                "overfitting_protection_score": min(1.0, 2.0 * (1.0 - dcr.share_closer_to_train)),
                "rows_compared_for_share": dcr.rows_compared_for_share,
                "median_distance_ratio": _finite(dcr.median_distance_ratio),
                "median_distance_ratio_baseline": 1.0,
                "median_distance_ratio_score": _finite(min(1.0, dcr.median_distance_ratio)),
                "tail_share": dcr.tail_share,
                "tail_share_baseline": DCR_TAIL_QUANTILE,
                "nndr_synthetic_quantiles": _quantiles(dcr.nndr_synthetic),
                "nndr_holdout_quantiles_baseline": _quantiles(dcr.nndr_holdout),
            },
            "membership_inference": {
                "attack": "score = -distance to nearest synthetic row; training vs holdout candidates",
                "auc": self.membership_inference.auc,
                "auc_ci95": [self.membership_inference.ci_low, self.membership_inference.ci_high],
                "auc_baseline": 0.5,
                "candidates_per_group": self.membership_inference.candidates_per_group,
            },
            "singling_out": self.singling_out.to_dict(),
            "linkability": self.linkability.to_dict() if self.linkability else {"skipped": "needs 2+ columns"},
            "attribute_inference": {
                "max_risk": worst.risk if worst else 0.0,
                "max_risk_column": worst.detail.get("secret") if worst else None,
                "columns": inference,
            },
        }


def privacy_gate_values(result: PrivacyResult, thresholds: dict[str, float] | None = None) -> dict[str, dict]:
    """Values, thresholds (the policy's, else these defaults) and pass flags of the three privacy gates."""
    thresholds = thresholds or {}
    copies, dcr, mia = result.exact_copies, result.distance_to_closest_record, result.membership_inference
    gates = {
        "exact_copies": (
            copies.excess_rate,
            thresholds.get("exact_copies", EXACT_COPY_EXCESS_THRESHOLD),
            f"{copies.synthetic_rate:.2%} of synthetic rows copy a training row; holdout baseline "
            f"{copies.holdout_rate:.2%}; excess beyond sampling noise {copies.excess_rate:.2%}",
        ),
        "distance_to_closest_record": (
            dcr.tail_share_lower_bound,
            thresholds.get("distance_to_closest_record", DCR_TAIL_SHARE_THRESHOLD),
            f"{dcr.tail_share:.2%} of synthetic rows are closer to training than {1 - DCR_TAIL_QUANTILE:.0%} of "
            f"holdout rows are (baseline {DCR_TAIL_QUANTILE:.0%}; at least {dcr.tail_share_lower_bound:.2%} "
            f"allowing for sampling noise); {dcr.share_closer_to_train:.2%} closer to "
            "train than to holdout (baseline 50%)",
        ),
        "membership_inference": (
            mia.ci_low,
            thresholds.get("membership_inference", MEMBERSHIP_AUC_THRESHOLD),
            f"distance attack AUC {mia.auc:.3f} (95% CI {mia.ci_low:.3f}-{mia.ci_high:.3f}; the gate judges the "
            "lower bound); 0.5 = no leak",
        ),
    }
    return {
        name: {"name": name, "value": float(v), "threshold": t, "passed": bool(v <= t), "detail": d}
        for name, (v, t, d) in gates.items()
    }


# --- Measures ------------------------------------------------------------------------------------
def exact_copy_positions(train: pd.DataFrame, other: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Positions of rows of `other` identical to some training row on `columns` (hashing, vectorized).

    evaluate_privacy passes every used column, so id/text columns (skipped) do not prevent a match.
    """
    train_hash = _row_hashes(train, columns)
    other_hash = _row_hashes(other, columns)
    return np.flatnonzero(np.isin(other_hash, train_hash))


def _row_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    parts = {}
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            parts[column] = pd.Series(_numeric_values(series))
        else:  # discrete: compare as text so 1 and "1" agree; missing is its own value
            parts[column] = pd.Series(_category_keys(series))
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False).to_numpy()


def distance_to_closest_record(
    train_enc: np.ndarray,
    synthetic_enc: np.ndarray,
    holdout_enc: np.ndarray,
    *,
    seed: int = 0,
    progress: Progress = None,
) -> DistanceToClosestRecord:
    """DCR of synthetic and holdout rows to training rows (encoded matrices), with NNDR and comparisons."""
    step = _sub_progress(progress, 0.0, 0.45)
    syn_pos, syn_dist = _nearest_encoded(train_enc, synthetic_enc, 2, progress=step)
    hold_pos, hold_dist = _nearest_encoded(train_enc, holdout_enc, 2, progress=_sub_progress(progress, 0.45, 0.7))
    # closer to train than holdout: compare against equal-sized train and holdout (seeded subsample)
    rng = np.random.default_rng(seed)
    n = min(len(train_enc), len(holdout_enc))
    if len(train_enc) > n:
        keep = np.sort(rng.choice(len(train_enc), n, replace=False))
        _, to_train = _nearest_encoded(train_enc[keep], synthetic_enc, 1)
    else:
        to_train = syn_dist[:, :1]
    ref_holdout = holdout_enc if len(holdout_enc) == n else holdout_enc[np.sort(rng.choice(len(holdout_enc), n, replace=False))]
    _, to_holdout = _nearest_encoded(ref_holdout, synthetic_enc, 1, progress=_sub_progress(progress, 0.7, 1.0))
    to_train, to_holdout = to_train[:, 0], to_holdout[:, 0]
    share = float(np.mean(np.where(to_train < to_holdout, 1.0, np.where(to_train == to_holdout, 0.5, 0.0))))
    syn_dcr, hold_dcr = syn_dist[:, 0], hold_dist[:, 0]
    median_hold = float(np.median(hold_dcr))
    ratio = float(np.median(syn_dcr) / median_hold) if median_hold > 0 else (1.0 if np.median(syn_dcr) == 0 else math.inf)
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
        tail_share=_tail_share(syn_dcr, hold_dcr, DCR_TAIL_QUANTILE),
    )


def _tail_share(synthetic: np.ndarray, baseline: np.ndarray, quantile: float) -> float:
    """Share of synthetic values whose mid-rank percentile within `baseline` is below `quantile`.

    Distances of exactly 0 (exact copies) are left out on both sides: the exact_copies gate judges them
    against the holdout's own copy rate, and in tables where many real rows repeat (a third of census rows
    do) they would otherwise fill the holdout's low tail and hide every near copy behind them.
    """
    synthetic, baseline = synthetic[synthetic > 0], baseline[baseline > 0]
    if synthetic.size == 0 or baseline.size == 0:
        return 0.0
    ordered = np.sort(baseline)
    below = np.searchsorted(ordered, synthetic, side="left")
    equal = np.searchsorted(ordered, synthetic, side="right") - below
    percentile = (below + 0.5 * equal) / len(ordered)
    return float(np.mean(percentile < quantile))


def membership_inference(
    train_enc: np.ndarray,
    synthetic_enc: np.ndarray,
    holdout_enc: np.ndarray,
    *,
    seed: int = 0,
    max_candidates: int = 10_000,
) -> MembershipInference:
    """AUC (Hanley-McNeil 95% CI) of telling training from holdout rows by distance to the nearest synthetic row."""
    rng = np.random.default_rng(seed)
    n = min(len(train_enc), len(holdout_enc), max_candidates)
    members = train_enc[rng.choice(len(train_enc), n, replace=False)]
    others = holdout_enc[rng.choice(len(holdout_enc), n, replace=False)]
    _, dist = _nearest_encoded(synthetic_enc, np.vstack([members, others]), 1)
    score = -dist[:, 0]
    auc = auc_score(score[:n], score[n:])
    low, high = hanley_mcneil_interval(auc, n, n)
    return MembershipInference(auc, low, high, n, seed)


def auc_score(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (Mann-Whitney U / n1 n2)."""
    ranks = rankdata(np.concatenate([positive, negative]))
    n1, n2 = len(positive), len(negative)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n2))


def hanley_mcneil_interval(auc: float, n_pos: int, n_neg: int, level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Normal-approximation CI of an AUC with the Hanley & McNeil (1982) standard error."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    half = norm.ppf(0.5 + level / 2) * math.sqrt(max(var, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)


def wilson_rate(successes: int, total: int, level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Wilson score estimate and half-width of a success rate (as anonymeter.stats.confidence.success_rate)."""
    z = norm.ppf(0.5 + level / 2)
    if total == 0:
        return 0.5, 0.5
    denominator = total + z * z
    rate = (successes + 0.5 * z * z) / denominator
    error = z / denominator * math.sqrt(successes * (total - successes) / total + 0.25 * z * z)
    return rate, error


def attack_risk(name: str, main_successes: int, control_successes: int, n_attacks: int, detail: dict | None = None) -> AttackRisk:
    """Residual risk (main - control) / (1 - control) with propagated Wilson errors, bounded to [0, 1]."""
    main, main_err = wilson_rate(main_successes, n_attacks)
    control, control_err = wilson_rate(control_successes, n_attacks)
    if control >= 1.0:
        residual, err = 0.0, 1.0
    else:
        residual = (main - control) / (1 - control)
        err = math.sqrt((main_err / (1 - control)) ** 2 + (control_err * (main - 1) / (1 - control) ** 2) ** 2)
    clip = lambda x: min(max(x, 0.0), 1.0)  # noqa: E731
    return AttackRisk(
        name, n_attacks, int(main_successes), int(control_successes), float(main), float(control),
        clip(float(residual)), clip(float(residual - err)), clip(float(residual + err)), detail or {},
    )


# --- Anonymeter-style attacks --------------------------------------------------------------------
def _attack_matrix(frame: pd.DataFrame, encoding: DistanceEncoding) -> np.ndarray:
    """Numbers for predicate evaluation: numeric values, category level codes; NaN for missing."""
    out = np.empty((len(frame), len(encoding.columns)))
    for j, column in enumerate(encoding.columns):
        if encoding.sdtypes[column] in ("numerical", "datetime"):
            out[:, j] = _numeric_values(frame[column])
        else:
            keys = _category_keys(frame[column])
            codes = pd.Index(encoding.levels[column]).get_indexer(keys).astype(float)
            codes[keys == _MISSING] = np.nan
            out[:, j] = codes
    return out


_EQ, _GE, _LE, _NULL = 0, 1, 2, 3


def _count_matches(table: np.ndarray, cols: np.ndarray, values: np.ndarray, ops: np.ndarray, chunk: int = 20_000) -> np.ndarray:
    """Number of rows of `table` matching each conjunctive predicate (cols/values/ops are (queries, k))."""
    counts = np.zeros(len(cols), dtype=np.int64)
    for start in range(0, len(table), chunk):
        block = table[start : start + chunk]
        match = np.ones((len(block), len(cols)), dtype=bool)
        for j in range(cols.shape[1]):
            x = block[:, cols[:, j]]
            v, op = values[:, j], ops[:, j]
            with np.errstate(invalid="ignore"):
                cond = np.where(op == _EQ, x == v, np.where(op == _GE, x >= v, np.where(op == _LE, x <= v, np.isnan(x))))
            match &= cond
        counts += match.sum(axis=0)
    return counts


def singling_out_risk(
    train: np.ndarray,
    synthetic: np.ndarray,
    holdout: np.ndarray,
    numeric: np.ndarray,
    *,
    n_attacks: int = 500,
    n_cols: int = 3,
    seed: int = 0,
    batch: int = 256,
) -> AttackRisk:
    """Multivariate singling out: predicates that isolate one synthetic row, checked on train vs holdout.

    Each predicate is built as anonymeter's multivariate mode does: a random synthetic row and n_cols
    random columns; categories `==`, numbers `>=` the row's value if above the synthetic median else
    `<=`, missing `is null`. Predicates that match exactly one synthetic row are kept (unique, at most
    n_attacks, at most 20 x n_attacks tried). Success = the predicate matches exactly one row of the
    training table (main) or of the holdout (control); the larger of the two is subsampled (seeded) to
    the smaller's size so that both attacks face the same population size (anonymeter instead fits a
    size correction).
    """
    rng = np.random.default_rng(seed)
    n_cols = max(1, min(n_cols, synthetic.shape[1]))
    medians = np.zeros(synthetic.shape[1])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing column: median NaN, predicates use <=
        medians[numeric] = np.nanmedian(synthetic[:, numeric], axis=0) if len(synthetic) else 0.0
    kept: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    tried = 0
    while len(kept) < n_attacks and tried < 20 * n_attacks and len(synthetic):
        rows = rng.integers(0, len(synthetic), batch)
        cols = np.sort(np.argsort(rng.random((batch, synthetic.shape[1])), axis=1)[:, :n_cols], axis=1)
        values = synthetic[rows[:, None], cols]
        is_numeric = numeric[cols]
        ops = np.where(is_numeric, np.where(values > medians[cols], _GE, _LE), _EQ)
        ops = np.where(np.isnan(values), _NULL, ops)
        counts = _count_matches(synthetic, cols, values, ops)
        for i in np.flatnonzero(counts == 1):
            key = np.concatenate([cols[i], np.nan_to_num(values[i], nan=-1e300), ops[i]]).tobytes()
            if key not in kept and len(kept) < n_attacks:
                kept[key] = (cols[i], values[i], ops[i])
        tried += batch
    if not kept:
        return attack_risk("singling_out", 0, 0, 0, {"n_cols": n_cols, "note": "no singling-out predicate found"})
    cols = np.array([k[0] for k in kept.values()])
    values = np.array([k[1] for k in kept.values()])
    ops = np.array([k[2] for k in kept.values()])
    n = min(len(train), len(holdout))
    main_table = train if len(train) == n else train[rng.choice(len(train), n, replace=False)]
    control_table = holdout if len(holdout) == n else holdout[rng.choice(len(holdout), n, replace=False)]
    main = int((_count_matches(main_table, cols, values, ops) == 1).sum())
    control = int((_count_matches(control_table, cols, values, ops) == 1).sum())
    return attack_risk("singling_out", main, control, len(kept), {"n_cols": n_cols, "population_rows": n})


def linkability_risk(
    train_enc: np.ndarray,
    synthetic_enc: np.ndarray,
    holdout_enc: np.ndarray,
    encoding: DistanceEncoding,
    *,
    n_attacks: int = 500,
    n_neighbors: int = 1,
    seed: int = 0,
) -> AttackRisk | None:
    """Link two halves of a record through the synthetic data: success if the same synthetic row is among
    the n_neighbors nearest on columns A and on columns B (A, B a seeded random split of the columns)."""
    if len(encoding.columns) < 2:
        return None
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(encoding.columns))
    half = len(order) // 2
    cols_a = [encoding.columns[i] for i in sorted(order[:half])]
    cols_b = [encoding.columns[i] for i in sorted(order[half:])]
    dims_a, dims_b = encoding.subset(cols_a), encoding.subset(cols_b)
    n = min(n_attacks, len(train_enc), len(holdout_enc))
    targets = np.vstack([train_enc[rng.choice(len(train_enc), n, replace=False)],
                         holdout_enc[rng.choice(len(holdout_enc), n, replace=False)]])
    pos_a, _ = _nearest_encoded(synthetic_enc[:, dims_a], targets[:, dims_a], n_neighbors)
    pos_b, _ = _nearest_encoded(synthetic_enc[:, dims_b], targets[:, dims_b], n_neighbors)
    linked = (pos_a[:, :, None] == pos_b[:, None, :]).any(axis=(1, 2)) & (pos_a[:, :1] >= 0)[:, 0]
    return attack_risk(
        "linkability", int(linked[:n].sum()), int(linked[n:].sum()), n,
        {"columns_a": cols_a, "columns_b": cols_b, "n_neighbors": n_neighbors},
    )


def attribute_inference_risk(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    encoding: DistanceEncoding,
    encoded: tuple[np.ndarray, np.ndarray, np.ndarray],
    secret: str,
    *,
    n_attacks: int = 500,
    seed: int = 0,
) -> AttackRisk:
    """Guess `secret` of a target as the value of its nearest synthetic row on all other columns.

    A guess is right when equal (categories, missing == missing) or, for numbers, within
    NUMERIC_INFERENCE_TOLERANCE x the real range. Main targets are training rows, control targets
    holdout rows (same number, seeded).
    """
    train_enc, synthetic_enc, holdout_enc = encoded
    rng = np.random.default_rng(seed)
    aux = [c for c in encoding.columns if c != secret]
    n = min(n_attacks, len(train), len(holdout))
    main_rows = rng.choice(len(train), n, replace=False)
    control_rows = rng.choice(len(holdout), n, replace=False)
    if aux:
        dims = encoding.subset(aux)
        targets = np.vstack([train_enc[main_rows], holdout_enc[control_rows]])
        pos, _ = _nearest_encoded(synthetic_enc[:, dims], targets[:, dims], 1)
        guess_rows = pos[:, 0]
    else:
        guess_rows = np.zeros(2 * n, dtype=int)
    truth = pd.concat([train[secret].iloc[main_rows], holdout[secret].iloc[control_rows]], ignore_index=True)
    guess = synthetic[secret].iloc[guess_rows].reset_index(drop=True)
    if encoding.sdtypes[secret] in ("numerical", "datetime"):
        t, g = _numeric_values(truth), _numeric_values(guess)
        tolerance = NUMERIC_INFERENCE_TOLERANCE * encoding.span[secret]
        right = (np.abs(t - g) <= tolerance) | (np.isnan(t) & np.isnan(g))
    else:
        right = _category_keys(truth) == _category_keys(guess)
    return attack_risk("attribute_inference", int(right[:n].sum()), int(right[n:].sum()), n, {"secret": secret})


# --- Entry point ---------------------------------------------------------------------------------
def evaluate_privacy(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    metadata: Metadata,
    *,
    seed: int = 0,
    near_copy_distance: float = NEAR_COPY_DISTANCE,
    n_attacks: int = 500,
    max_membership_candidates: int = 10_000,
    inference_secrets: Sequence[str] | None = None,
    progress: Progress = None,
) -> PrivacyResult:
    """Run every privacy check on coerced tables (training, synthetic, holdout) and return the result."""
    if holdout is None:
        raise UsageError("privacy checks need a holdout table (real rows not used for training) as baseline")
    for role, frame in (("training", train), ("synthetic", synthetic), ("holdout", holdout)):
        if len(frame) < 2:
            raise UsageError(f"privacy checks need at least 2 rows in the {role} table, got {len(frame)}")
    report = progress or (lambda fraction, message: None)
    encoding = DistanceEncoding.fit(train, metadata, others=[synthetic, holdout])
    train_enc, syn_enc, hold_enc = (encoding.transform(f) for f in (train, synthetic, holdout))

    report(0.0, "exact copies")
    columns = list(encoding.columns)
    syn_copies = exact_copy_positions(train, synthetic, columns)
    hold_copies = exact_copy_positions(train, holdout, columns)
    copies = ExactCopies(len(syn_copies) / len(synthetic), len(hold_copies) / len(holdout), syn_copies,
                         len(synthetic), len(holdout))

    dcr = distance_to_closest_record(
        train_enc, syn_enc, hold_enc, seed=seed, progress=_sub_progress(report, 0.05, 0.55, "distance to closest record")
    )
    near = np.flatnonzero(dcr.synthetic_to_train <= near_copy_distance)
    near = near[np.argsort(dcr.synthetic_to_train[near], kind="stable")]
    near_copies = NearCopies(
        near_copy_distance,
        len(near) / len(synthetic),
        float(np.mean(dcr.holdout_to_train <= near_copy_distance)),
        near,
        dcr.synthetic_nearest_train_position[near],
        dcr.synthetic_to_train[near],
    )

    report(0.55, "membership inference")
    mia = membership_inference(train_enc, syn_enc, hold_enc, seed=seed, max_candidates=max_membership_candidates)

    report(0.65, "singling out")
    numeric = np.array([encoding.sdtypes[c] in ("numerical", "datetime") for c in columns])
    matrices = [_attack_matrix(f, encoding) for f in (train, synthetic, holdout)]
    singling = singling_out_risk(*matrices, numeric, n_attacks=n_attacks, seed=seed)

    report(0.75, "linkability")
    linkability = linkability_risk(train_enc, syn_enc, hold_enc, encoding, n_attacks=n_attacks, seed=seed)

    secrets = list(inference_secrets) if inference_secrets is not None else columns
    inference = {}
    for i, secret in enumerate(secrets):
        report(0.8 + 0.2 * i / max(len(secrets), 1), f"attribute inference: {secret}")
        inference[secret] = attribute_inference_risk(
            train, synthetic, holdout, encoding, (train_enc, syn_enc, hold_enc), secret, n_attacks=n_attacks, seed=seed
        )
    report(1.0, "privacy checks done")
    return PrivacyResult(
        seed=seed,
        rows={"train": len(train), "synthetic": len(synthetic), "holdout": len(holdout)},
        columns=encoding.columns,
        skipped=dict(encoding.skipped),
        exact_copies=copies,
        near_copies=near_copies,
        distance_to_closest_record=dcr,
        membership_inference=mia,
        singling_out=singling,
        linkability=linkability,
        attribute_inference=inference,
    )


def _sub_progress(progress: Progress, low: float, high: float, message: str | None = None) -> Progress:
    if progress is None:
        return None
    return lambda fraction, text: progress(low + (high - low) * fraction, message or text)


def _quantiles(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {str(q): None for q in QUANTILES}
    return {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES))}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
