"""Reading records by hand: seeded samples of synthetic rows, why each looks suspicious, and its nearest real row.

Suspicion signals (all vectorized over every synthetic row, judged against the real training rows):

* ``out_of_range``: a number or date outside the real [min, max];
* ``unseen_category``: a category (or boolean value) the real data never had;
* ``unseen_combination``: a pair of categories that occurs in the synthetic row but in no real row,
  although independence of the two columns predicts at least 20 real rows with it;
* ``outlier``: a number inside the real range but beyond the real 0.1st / 99.9th percentile;
* ``near_copy``: the nearest real record is closer than ``NEAR_COPY_DISTANCE`` (0 = an exact copy),
  measured with core.checks.privacy's mixed-type distance;
* ``breaks_rule`` / ``looks_synthetic`` (only given core.checks.structure.record_scores): the row breaks a rule
  every real training row keeps, or the detection classifier gives it at least ``LOOKS_SYNTHETIC``; within
  equal weights, rows that look more synthetic come first.

Rows are referred to by 0-based position in the synthetic table (use .iloc).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data.encoding import EncodedColumn, EncodedTables, encode_columns
from core.errors import UsageError
from core.data.metadata import Metadata

METHODS = ("random", "stratified", "suspicious")
OUTLIER_QUANTILE = 0.001
NEAR_COPY_DISTANCE = 0.05
# Pairs of categorical columns checked for unseen combinations: only columns with at most this many levels.
MAX_COMBINATION_LEVELS = 60
MIN_EXPECTED_COMBINATION = 20.0
# Suspicious-first ranks rows by the sum of these weights over their reasons.
REASON_WEIGHTS = {
    "exact_copy": 4.0, "out_of_range": 3.0, "unseen_category": 3.0, "near_copy": 2.0,
    "unseen_combination": 2.0, "outlier": 1.0, "breaks_rule": 3.0, "looks_synthetic": 1.0,
}
LOOKS_SYNTHETIC = 0.9  # detection probability from which a row is flagged as looking synthetic
REASON_TEXT = {
    "exact_copy": "identical to a real training record",
    "near_copy": "very close to a real training record",
    "out_of_range": "value outside the real range",
    "unseen_category": "category the real data never had",
    "unseen_combination": "combination of categories no real record has",
    "outlier": "value in the real data's extreme 0.1% tail",
    "breaks_rule": "breaks a rule every real training record keeps",
    "looks_synthetic": "the detection classifier finds it clearly synthetic",
}
# The same reasons in a few words, for table cells (the comparison's check column, the sample overview), which
# would cut REASON_TEXT short at 1,440 px; the record's own "Noticed" line says REASON_TEXT in full.
REASON_SHORT = {
    "exact_copy": "exact copy", "near_copy": "near copy", "out_of_range": "out of range",
    "unseen_category": "unseen category", "unseen_combination": "unseen combination", "outlier": "extreme tail",
    "breaks_rule": "breaks a rule", "looks_synthetic": "looks synthetic",
}


@dataclass
class NearestReal:
    """For each query row: the position of its nearest real row and the distance to it."""

    positions: np.ndarray  # int64, 0-based positions in the real table
    distances: np.ndarray  # float64


def nearest_real_records(real: pd.DataFrame, query: pd.DataFrame, metadata: Metadata,
                         others: tuple[pd.DataFrame, ...] = ()) -> NearestReal:
    """Exact nearest real row of every query row (core.checks.privacy's mixed-type distance); `others` fix the levels.

    For rows of an evaluation's synthetic table use `nearest_real_rows`, which reads the shared encoding."""
    from core.stats.distances import DistanceEncoding, nearest_records

    encoding = DistanceEncoding.fit(real, metadata, others=[real, query, *others])
    found = nearest_records(real, query, metadata, encoding=encoding, n_neighbors=1)
    return NearestReal(found.nearest_position.astype(np.int64), found.distance.astype(np.float64))


def nearest_real_rows(encoded: EncodedTables, positions: np.ndarray | None = None) -> NearestReal:
    """Exact nearest real row of the synthetic rows at `positions` (every row when None), on the evaluation's
    encoded tables: the same record distance, fitted on the same tables, as the privacy checks'."""
    from core.stats.distances import nearest_encoded

    query = encoded.coordinates("synthetic")
    if positions is not None:
        query = query[np.asarray(positions, dtype=np.int64)]
    found, distances = nearest_encoded(encoded.coordinates("real"), query, 1)
    return NearestReal(found[:, 0].astype(np.int64), distances[:, 0].astype(np.float64))


@dataclass
class Suspicion:
    """Per-row suspicion of a synthetic table: the weighted score, and per cell which check it failed."""

    score: np.ndarray  # float64 per synthetic row, 0 = nothing noticed
    cells: pd.DataFrame  # same shape as the synthetic table's scored columns; "" or a reason key
    row_reasons: pd.DataFrame  # boolean, rows x reason keys
    distance: np.ndarray | None = None  # nearest-real distance per row (NaN where not measured)
    distance_rows_measured: int = 0

    def reasons(self, position: int) -> list[str]:
        """Reason keys of one synthetic row, worst first."""
        row = self.row_reasons.iloc[position]
        keys = [k for k in row.index if bool(row[k])]
        return sorted(keys, key=lambda k: -REASON_WEIGHTS[k])


def suspicion_scores(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: Metadata,
                     nearest_distance: np.ndarray | None = None,
                     encoded: EncodedTables | dict[str, EncodedColumn] | None = None,
                     structure_scores: pd.DataFrame | None = None) -> Suspicion:
    """Flag every synthetic row and cell for the checks above; `nearest_distance` (NaN = unknown) adds copies,
    `structure_scores` (core.checks.structure.record_scores) adds rule breaks and detection probability.
    `encoded`: the tables' encoded columns (a holdout among them is ignored), else encoded here."""
    encoded = encoded if encoded is not None else encode_columns({"real": real, "synthetic": synthetic}, metadata)
    n = len(synthetic)
    cells = {}
    flags = {key: np.zeros(n, dtype=bool) for key in REASON_WEIGHTS}
    discrete = []
    combination_count = np.zeros(n, dtype=np.int64)
    for name, column in encoded.items():
        cell = np.full(n, "", dtype=object)
        if column.is_continuous:
            r, s = column.values["real"], column.values["synthetic"]
            present = r[~np.isnan(r)]
            if present.size:
                low, high = present.min(), present.max()
                q_low, q_high = np.quantile(present, [OUTLIER_QUANTILE, 1 - OUTLIER_QUANTILE])
                with np.errstate(invalid="ignore"):
                    out = (s < low) | (s > high)
                    tail = ~out & ((s < q_low) | (s > q_high))
                cell[tail] = "outlier"
                cell[out] = "out_of_range"
                flags["out_of_range"] |= out
                flags["outlier"] |= tail
        else:
            missing = column.missing_code
            real_counts = np.bincount(column.codes["real"], minlength=column.levels)
            codes = column.codes["synthetic"]
            unseen = (codes != missing) & (real_counts[codes] == 0)
            cell[unseen] = "unseen_category"
            flags["unseen_category"] |= unseen
            # Levels seen in the real or synthetic table (the encoding may also hold the holdout's).
            seen_levels = np.count_nonzero((real_counts + np.bincount(codes, minlength=column.levels))[:missing])
            if seen_levels <= MAX_COMBINATION_LEVELS:
                discrete.append(column)
        cells[name] = cell
    for a, b in itertools.combinations(discrete, 2):
        real_index = a.codes["real"].astype(np.int64) * b.levels + b.codes["real"]
        seen = np.bincount(real_index, minlength=a.levels * b.levels) > 0
        # Only a combination that independence predicts in at least MIN_EXPECTED_COMBINATION real rows
        # is telling when absent; rarer ones are missing from the real data by chance.
        share_a = np.bincount(a.codes["real"], minlength=a.levels) / max(len(real), 1)
        share_b = np.bincount(b.codes["real"], minlength=b.levels) / max(len(real), 1)
        share_a[a.missing_code], share_b[b.missing_code] = 0.0, 0.0
        ca, cb = a.codes["synthetic"], b.codes["synthetic"]
        expected = len(real) * share_a[ca] * share_b[cb]
        combo = ~seen[ca.astype(np.int64) * b.levels + cb] & (expected >= MIN_EXPECTED_COMBINATION)
        if combo.any():
            combination_count += combo
            flags["unseen_combination"] |= combo
            for name in (a.name, b.name):
                cells[name][combo & (cells[name] == "")] = "unseen_combination"
    measured = 0
    if nearest_distance is not None:
        distance = np.asarray(nearest_distance, dtype=float)
        known = ~np.isnan(distance)
        measured = int(known.sum())
        flags["exact_copy"] = known & (distance == 0)
        flags["near_copy"] = known & (distance > 0) & (distance < NEAR_COPY_DISTANCE)
    else:
        distance = None
    looks = np.zeros(n)
    if structure_scores is not None and len(structure_scores) == n:
        looks = np.nan_to_num(structure_scores["looks_synthetic"].to_numpy(dtype=float), nan=0.0)
        flags["breaks_rule"] = structure_scores["rules_broken"].to_numpy() > 0
        flags["looks_synthetic"] = looks >= LOOKS_SYNTHETIC
    row_reasons = pd.DataFrame(flags)
    weights = np.array([REASON_WEIGHTS[k] for k in row_reasons.columns])
    # Each further unseen combination in the same row adds half a point: the more inconsistent, the earlier.
    score = row_reasons.to_numpy(dtype=float) @ weights + 0.5 * np.maximum(combination_count - 1, 0)
    score = score + np.where(score > 0, 0.49 * looks, 0.0)  # tie-break: more synthetic-looking first
    return Suspicion(score, pd.DataFrame(cells), row_reasons, distance, measured)


@dataclass
class RecordSample:
    """A reproducible sample of synthetic rows to read, in reading order, with why each was drawn."""

    positions: np.ndarray  # 0-based synthetic row positions
    reasons: list[list[str]]  # reason keys per sampled row (empty = nothing noticed)
    seed: int
    method: str  # random | stratified | suspicious
    stratify: str | None = None
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))


def sample_records(suspicion: Suspicion, n: int, seed: int, method: str = "random",
                   strata: pd.Series | None = None) -> RecordSample:
    """Draw `n` synthetic rows: uniformly, stratified (proportional, every stratum at least once) or worst first."""
    if method not in METHODS:
        raise UsageError(f"sampling method must be one of {', '.join(METHODS)}, not {method!r}")
    total = len(suspicion.score)
    n = int(max(0, min(n, total)))
    rng = np.random.default_rng(seed)
    if method == "random":
        positions = np.sort(rng.choice(total, size=n, replace=False))
        positions = rng.permutation(positions)
    elif method == "stratified":
        if strata is None:
            raise UsageError("stratified sampling needs a column to stratify on")
        positions = _stratified(strata, n, rng)
    else:
        # Worst first; ties broken by a seeded shuffle so the order is reproducible but not file order.
        tiebreak = rng.permutation(total)
        order = np.lexsort((tiebreak, -suspicion.score))
        positions = order[:n]
    positions = positions.astype(np.int64)
    reasons = [suspicion.reasons(int(p)) for p in positions]
    return RecordSample(positions, reasons, seed, method, strata.name if method == "stratified" else None,
                        suspicion.score[positions])


def _stratified(strata: pd.Series, n: int, rng: np.random.Generator) -> np.ndarray:
    codes, uniques = pd.factorize(strata.astype(object), use_na_sentinel=False)
    sizes = np.bincount(codes, minlength=len(uniques))
    quota = np.floor(sizes / sizes.sum() * n).astype(int)
    quota = np.maximum(quota, np.minimum(sizes, 1))
    while quota.sum() > n:  # too many strata for n: drop from the largest quotas first
        quota[np.argmax(quota)] -= 1
    spare = n - quota.sum()
    if spare > 0:  # fill up with the largest remainders that still have rows
        room = sizes - quota
        extra = rng.permutation(np.repeat(np.arange(len(sizes)), room))[:spare]
        quota += np.bincount(extra, minlength=len(sizes))
    shuffled = rng.permutation(len(codes))
    sort = np.argsort(codes[shuffled], kind="stable")
    grouped = codes[shuffled][sort]
    starts = np.searchsorted(grouped, np.arange(len(sizes)))
    rank = np.arange(len(codes)) - starts[grouped]
    chosen = shuffled[sort][rank < quota[grouped]]
    return rng.permutation(chosen)


def differing_cells(synthetic_rows: pd.DataFrame, real_rows: pd.DataFrame, metadata: Metadata,
                    relative_tolerance: float = 1e-9) -> pd.DataFrame:
    """Boolean frame: True where a synthetic cell differs from the matched real cell (missing == missing)."""
    out = {}
    for column in synthetic_rows.columns:
        s = synthetic_rows[column].reset_index(drop=True)
        r = real_rows[column].reset_index(drop=True)
        both_missing = s.isna().to_numpy() & r.isna().to_numpy()
        if metadata.get(column) in ("numerical",):
            sv, rv = s.to_numpy(dtype=float, na_value=np.nan), r.to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                equal = np.isclose(sv, rv, rtol=relative_tolerance, atol=0.0)
        else:
            equal = (s.astype(str).to_numpy() == r.astype(str).to_numpy()) & s.notna().to_numpy() & r.notna().to_numpy()
        out[column] = ~(equal | both_missing)
    return pd.DataFrame(out)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 16-hex-digit content hash per row (values only, not the index), to pin a flag to the row it was made on."""
    hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()
    return np.array([f"{h:016x}" for h in hashed], dtype=object)


# ----------------------------------------------------------------------------------------------- what was noticed


def noticed_reasons(suspicion: Suspicion, position: int, distance: float | None = None) -> list[str]:
    """Reason keys of one synthetic row, worst first, with copy reasons from its nearest-real `distance` when
    given (one home for "Noticed": the sample, a row opened from Privacy and the overview all call this)."""
    keys = [k for k in suspicion.reasons(position) if k not in ("exact_copy", "near_copy")]
    known = None
    if distance is not None and not np.isnan(distance):
        known = float(distance)
    elif suspicion.distance is not None and position < len(suspicion.distance) \
            and not np.isnan(suspicion.distance[position]):
        known = float(suspicion.distance[position])
    if known is not None:
        if known == 0:
            keys.append("exact_copy")
        elif known < NEAR_COPY_DISTANCE:
            keys.append("near_copy")
    return sorted(keys, key=lambda k: -REASON_WEIGHTS[k])


def combination_columns(suspicion: Suspicion, position: int) -> list[str]:
    """The columns whose categories form an unseen combination in this row."""
    row = suspicion.cells.iloc[position]
    return [str(c) for c in row.index if row[c] == "unseen_combination"]


def reason_label(suspicion: Suspicion, position: int, key: str, short: bool = False) -> str:
    """The reason as text (REASON_SHORT's few words if short); an unseen combination names its columns."""
    text = (REASON_SHORT if short else REASON_TEXT)[key]
    if key == "unseen_combination":
        columns = combination_columns(suspicion, position)
        if columns:
            text += f" ({' × '.join(columns)})"
    return text


# ----------------------------------------------------------------------------------------------- review work

# Flag vocabulary: the stored key (core.store NOTE_FLAGS) and the label a reviewer picks.
FLAG_REASONS = {"implausible": "implausible", "privacy_risk": "privacy risk", "format_error": "format error",
                "other": "other"}


def flag_key(reason: str) -> str:
    """The stored flag key of a reason given as key or label; UsageError for anything else."""
    text = str(reason or "").strip()
    if text in FLAG_REASONS:
        return text
    for key, label in FLAG_REASONS.items():
        if text == label:
            return key
    raise UsageError(f"flag {reason!r} is not one of {', '.join(FLAG_REASONS.values())}")


def review_notes(flags: dict[int, dict], rows: dict[int, dict]) -> list:
    """Notes of a review: one per flagged synthetic row {position: {reason, note, row_hash}}, with the row shown."""
    from core.store import NoteInput

    notes = []
    for position, flag in sorted(flags.items()):
        notes.append(NoteInput(row_id=str(int(position)), flag=flag_key(flag.get("reason", "")),
                               note=str(flag.get("note") or ""), row=rows.get(int(position))))
    return notes


def save_review_work(session, generation_id: int, reviewer: str, *, read_positions, flags: dict[int, dict],
                     rows: dict[int, dict], comment: str = "", submit: bool = False):
    """Store one reviewer's work as their draft (or submitted) review: records read are the distinct synthetic
    rows this reviewer opened (a flagged row counts as read), notes are their flags. Page and CLI call this."""
    from core.store import save_draft, start_review, submit_review

    read = {int(p) for p in read_positions} | {int(p) for p in flags}
    notes = review_notes(flags, rows)
    draft = start_review(session, generation_id, reviewer)
    write = submit_review if submit else save_draft
    return write(session, draft.id, reviewer=reviewer, records_read=len(read), notes=notes, comment=comment or "")
