"""Drift between the real data a generation was modeled on (reference) and newer real data (current).

Per-column test choice follows Evidently's documented default drift algorithm
(https://docs.evidentlyai.com/reference/data-drift-algorithm, checked 2025; same logic in
evidentlyai/evidently src/evidently/legacy/calculations/stattests/registry.py `_get_default_stattest`):

* reference with <= 1000 observations ("small"): numerical columns with more than 5 unique values get
  the two-sample Kolmogorov-Smirnov test; categorical columns (and numerical ones with <= 5 unique
  values) get a chi-squared test; drift when p-value < 0.05 (0.95 confidence).
* reference with > 1000 observations ("large"): numerical -> Wasserstein distance normed by the
  reference's standard deviation (`wasserstein_distance(ref, cur) / max(std(ref), 0.001)`, see
  stattests/wasserstein_distance_norm.py); categorical -> Jensen-Shannon distance of the category
  frequencies (`scipy.spatial.distance.jensenshannon`, natural log, see stattests/jensenshannon.py);
  drift when the distance >= 0.1.
* dataset drift: Evidently's presets declare it when at least half (0.5) of the columns drift.

Where we differ, on purpose:

* Evidently's chi-squared is a goodness-of-fit test of current counts against reference frequencies,
  which breaks (expected count 0) when current holds a category reference never had. We use the
  chi-squared test of homogeneity on the 2 x k table (reference, current) x categories
  (`scipy.stats.chi2_contingency`, no continuity correction). For two categories this is exactly the
  pooled two-proportion Z-test Evidently uses for binary columns (chi2 = z**2, same p-value), so
  one test covers both cases.
* A dataset also drifts when any single column drifts with a large effect (normed Wasserstein >= 0.5,
  i.e. half a reference standard deviation of mass moved; Jensen-Shannon >= 0.2, about a tenth of the
  rows in categories reference never had) or when a pairwise association moves by >= 0.3. One column
  moving that far is enough to make a generator's model wrong; waiting for half the columns would not.
* Large tables use distances with a threshold, not p-values, so two samples of one population are
  not called drifted merely because n is large (any p-value test rejects tiny differences at n=100k).
* Small tables get the opposite guard for the checks that are plain differences (pair association,
  missing share): a change must also exceed three standard errors of a difference of two sample
  estimates, 3 * sqrt(1/n_ref + 1/n_cur) for an association near 0 (half that for a share), so that
  sampling noise of 2 x 300 rows is not reported as drift. At 100k rows the floor is ~0.01 and the
  policy threshold rules.

Missing values are dropped before the tests (as Evidently does); the change in missing share is
reported and flagged on its own. Categories new in current / vanished from reference are listed and
flag the column when they hold more than `new_category_share` of the rows.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from core.stats import association
from core.errors import InputError, PolicyError
from core.data.io import MIN_ROWS
from core.data.metadata import Metadata, check_schemas, coerce_to_metadata

SKIPPED_SDTYPES = ("id", "text")
_OTHER = "(other)"


@dataclass(frozen=True)
class DriftPolicy:
    """Thresholds of the drift checks; the defaults are Evidently's where Evidently has one."""

    size_cutoff: int = 1000  # reference observations at or below which p-value tests are used
    ks_p_value: float = 0.05  # small numerical: drift when KS p-value < this
    chi2_p_value: float = 0.05  # small categorical: drift when chi-squared p-value < this
    wasserstein_threshold: float = 0.1  # large numerical: drift when normed Wasserstein >= this
    jensenshannon_threshold: float = 0.1  # large categorical: drift when JS distance >= this
    max_categories_as_numeric: int = 5  # numerical columns with <= this many values are tested as categories
    drift_share: float = 0.5  # dataset drifts when this share of columns drifts (Evidently's default)
    large_wasserstein: float = 0.5  # a drifted numerical column this far drifts the dataset alone
    large_jensenshannon: float = 0.2  # a drifted categorical column this far drifts the dataset alone
    missing_share_change: float = 0.1  # flag a column whose missing share moves more than this
    new_category_share: float = 0.01  # flag when new (or vanished) categories hold more than this share
    association_change: float = 0.1  # flag a pair whose association moves more than this
    large_association_change: float = 0.3  # a pair moving this far drifts the dataset alone
    max_pair_categories: int = 200  # categorical columns with more categories are left out of pairs
    histogram_bins: int = 20  # bins of the shared histogram kept for drawing
    max_frequencies: int = 30  # categories kept for drawing; the rest are summed into "(other)"

    def __post_init__(self) -> None:
        for name in ("ks_p_value", "chi2_p_value", "drift_share", "missing_share_change", "new_category_share"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise PolicyError(f"drift policy '{name}' must be in (0, 1], got {value}")
        for name in ("wasserstein_threshold", "jensenshannon_threshold", "large_wasserstein",
                     "large_jensenshannon", "association_change", "large_association_change"):
            if getattr(self, name) <= 0:
                raise PolicyError(f"drift policy '{name}' must be > 0, got {getattr(self, name)}")
        for name in ("size_cutoff", "max_categories_as_numeric", "max_pair_categories", "histogram_bins",
                     "max_frequencies"):
            if int(getattr(self, name)) < 1:
                raise PolicyError(f"drift policy '{name}' must be >= 1, got {getattr(self, name)}")


@dataclass
class ColumnDrift:
    """One column's drift test and the real-then / real-now values it compared."""

    column: str
    sdtype: str
    test: str  # "ks" | "wasserstein_normed" | "chi_squared" | "jensenshannon" | "none"
    statistic: float | None  # KS D, normed Wasserstein, chi-squared or JS distance
    threshold: float  # p-value cut for tests, distance cut for distances
    p_value: float | None
    test_drifted: bool
    distance_name: str  # effect size always computed: "wasserstein_normed" or "jensenshannon"
    distance: float | None
    large_effect: bool
    missing_share_reference: float
    missing_share_current: float
    missing_share_change: float
    new_categories: list[str]
    new_category_share: float  # share of current rows in categories reference never had
    vanished_categories: list[str]
    vanished_category_share: float  # share of reference rows in categories current no longer has
    drifted: bool
    reasons: list[str]
    reference: dict[str, Any]  # histogram counts on shared bins, or category frequencies
    current: dict[str, Any]


@dataclass
class PairDrift:
    """Association of two columns in reference and in current, and whether it moved too far."""

    columns: tuple[str, str]
    measure: str  # "pearson" | "cramers_v" | "correlation_ratio"
    reference: float | None
    current: float | None
    change: float | None
    threshold: float  # the flag cut used: the policy's, or the small-sample noise floor if larger
    flagged: bool
    large: bool


@dataclass
class DriftResult:
    """Drift verdict for a table: per column, per pair, and the dataset-level decision with its reasons."""

    drifted: bool
    share_drifted_columns: float
    columns: dict[str, ColumnDrift]
    pairs: list[PairDrift]
    reasons: list[str]
    skipped: dict[str, str]
    rows_reference: int
    rows_current: int
    policy: DriftPolicy = field(default_factory=DriftPolicy)

    @property
    def recommendation(self) -> str:
        """'regenerate' when the real data moved away from what the generator modeled, else 'keep'."""
        return "regenerate" if self.drifted else "keep"

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN -> None) for the CLI and the dashboard."""
        columns = {}
        for name, col in self.columns.items():
            entry = asdict(col)
            entry.pop("column")
            columns[name] = entry
        pairs = [{**asdict(p), "columns": list(p.columns)} for p in self.pairs]
        return _jsonable({
            "drifted": self.drifted,
            "share_drifted_columns": self.share_drifted_columns,
            "recommendation": self.recommendation,
            "reasons": self.reasons,
            "rows": {"reference": self.rows_reference, "current": self.rows_current},
            "columns": columns,
            "pairs": pairs,
            "skipped": self.skipped,
            "policy": asdict(self.policy),
        })


def detect_drift(
    reference: pd.DataFrame, current: pd.DataFrame, metadata: Metadata, policy: DriftPolicy | None = None,
    pairs: Collection[tuple[str, str]] | None = None,
) -> DriftResult:
    """Compare current real data with the reference real data column by column and pair by pair.

    `pairs` (in column order) limits the pair checks to the input budget's seeded sample; None checks all.
    A column empty on one side is compared by its missing share only.
    """
    policy = policy or DriftPolicy()
    check_schemas({"real": ("reference", reference), "current": ("current", current)})
    for role, frame in (("reference", reference), ("current", current)):
        if len(frame) < MIN_ROWS:
            raise InputError(f"{role} table has {len(frame)} row(s); drift needs at least {MIN_ROWS}")
    for column in metadata:
        if column not in reference.columns:
            raise InputError("metadata names a column the tables do not have", column=column)
    ref = coerce_to_metadata(reference, metadata, "reference")
    cur = coerce_to_metadata(current, metadata, "current")

    columns: dict[str, ColumnDrift] = {}
    skipped: dict[str, str] = {}
    ref_values: dict[str, pd.Series] = {}
    cur_values: dict[str, pd.Series] = {}
    for column, sdtype in metadata.items():
        if sdtype in SKIPPED_SDTYPES:
            skipped[column] = f"sdtype '{sdtype}' is not compared"
            continue
        r, c = comparable_values(ref[column], sdtype), comparable_values(cur[column], sdtype)
        columns[column] = _column_drift(column, sdtype, r, c, policy)
        if r.isna().all() or c.isna().all():
            side = "reference" if r.isna().all() else "current"
            skipped[f"pairs with '{column}'"] = f"no values in the {side} data"
            continue
        ref_values[column], cur_values[column] = r, c

    pairs = _pair_drift(ref_values, cur_values, metadata, policy, skipped, pairs)
    return dataset_drift(columns, pairs, skipped, len(reference), len(current), policy)


def dataset_drift(columns: dict[str, ColumnDrift], pairs: list[PairDrift], skipped: dict[str, str],
                  rows_reference: int, rows_current: int, policy: DriftPolicy) -> DriftResult:
    """The dataset's verdict from its columns' and pairs' drift (shared by the in-memory and engine paths)."""
    n_drifted = sum(col.drifted for col in columns.values())
    share = n_drifted / len(columns) if columns else 0.0
    reasons = []
    if columns and share >= policy.drift_share:
        reasons.append(f"{n_drifted} of {len(columns)} columns drifted (share {share:.2f} >= {policy.drift_share})")
    for col in columns.values():
        if col.large_effect:
            reasons.append(f"column '{col.column}' drifted with a large effect ({col.distance_name} {col.distance:.3f})")
    for pair in pairs:
        if pair.large:
            reasons.append(
                f"association of '{pair.columns[0]}' and '{pair.columns[1]}' moved by {pair.change:.3f} "
                f"({pair.measure} {pair.reference:.3f} -> {pair.current:.3f})"
            )
    return DriftResult(
        drifted=bool(reasons),
        share_drifted_columns=share,
        columns=columns,
        pairs=pairs,
        reasons=reasons,
        skipped=skipped,
        rows_reference=rows_reference,
        rows_current=rows_current,
        policy=policy,
    )


# --- statistics (each equals the scipy function it names on the same non-missing values) ---------------


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value (scipy.stats.ks_2samp, two-sided)."""
    res = stats.ks_2samp(reference, current)
    return float(res.statistic), float(res.pvalue)


def wasserstein_normed_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein-1 distance divided by max(std(reference), 0.001), as Evidently norms it."""
    norm = max(float(np.std(reference)), 0.001)
    return float(stats.wasserstein_distance(reference, current)) / norm


def chi_squared_test(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared homogeneity test of two count vectors over the same categories: (statistic, p-value)."""
    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue)


def jensenshannon_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of two frequency vectors over the same categories."""
    return float(jensenshannon(reference_counts / reference_counts.sum(), current_counts / current_counts.sum()))


# --- per column ------------------------------------------------------------------------------------------


def comparable_values(series: pd.Series, sdtype: str) -> pd.Series:
    """Numbers as float64 (datetimes as seconds since 1970), categories as str; missing stays missing."""
    if sdtype == "datetime":
        seconds = series.to_numpy(dtype="datetime64[ns]").view("int64").astype(float) / 1e9
        return pd.Series(seconds, index=series.index).where(series.notna())
    if sdtype == "numerical":
        return series.astype(float)
    return series.where(series.isna(), series.astype(str))


def _column_drift(column: str, sdtype: str, ref: pd.Series, cur: pd.Series, policy: DriftPolicy) -> ColumnDrift:
    missing_ref, missing_cur = float(ref.isna().mean()), float(cur.isna().mean())
    missing_cut = max(policy.missing_share_change, 0.5 * noise_floor(len(ref), len(cur)))
    r, c = ref.dropna(), cur.dropna()
    numeric = sdtype in ("numerical", "datetime")
    n_unique = len(pd.unique(pd.concat([r, c], ignore_index=True))) if len(r) and len(c) else 0
    as_categories = not numeric or n_unique <= policy.max_categories_as_numeric
    small = len(r) <= policy.size_cutoff
    new: list[str] = []
    vanished: list[str] = []
    new_share = vanished_share = 0.0
    p_value: float | None = None

    if len(r) == 0 or len(c) == 0:
        test, statistic, threshold, test_drifted = "none", None, float("nan"), False
        distance_name = "jensenshannon" if as_categories else "wasserstein_normed"
        distance = None
        ref_draw = cur_draw = {}
    elif as_categories:
        keys, ref_counts, cur_counts = _aligned_counts(r, c)
        return judge_column(column, sdtype, policy, missing_ref=missing_ref, missing_cur=missing_cur,
                            missing_cut=missing_cut,
                            **category_drift(keys, ref_counts, cur_counts, numeric=numeric, small=small, policy=policy))
    else:
        rv, cv = r.to_numpy(), c.to_numpy()
        distance_name, distance = "wasserstein_normed", wasserstein_normed_distance(rv, cv)
        test, threshold, statistic, p_value, test_drifted = numeric_test(small, distance, lambda: ks_test(rv, cv),
                                                                        policy)
        ref_draw, cur_draw = _histograms(rv, cv, policy.histogram_bins, sdtype)

    return judge_column(
        column, sdtype, policy, test=test, statistic=statistic, threshold=threshold, p_value=p_value,
        test_drifted=bool(test_drifted), distance_name=distance_name, distance=distance,
        missing_ref=missing_ref, missing_cur=missing_cur, missing_cut=missing_cut, new=new, new_share=new_share,
        vanished=vanished, vanished_share=vanished_share, ref_draw=ref_draw, cur_draw=cur_draw)


def size_dependent_test(small: bool, p_test: tuple, distance_test: tuple) -> tuple:
    """(test, threshold, statistic, p_value, drifted): on a small reference the p-value test (name, p-value
    threshold, a call giving (statistic, p_value)) decides; on a large one, where a test finds any tiny
    difference significant, the distance (name, threshold, value) must pass its threshold."""
    if small:
        name, threshold, run = p_test
        statistic, p_value = run()
        return name, threshold, statistic, p_value, bool(p_value < threshold)
    name, threshold, distance = distance_test
    return name, threshold, distance, None, bool(distance >= threshold)


def numeric_test(small: bool, distance: float, ks: Callable[[], tuple[float, float]], policy: DriftPolicy) -> tuple:
    """size_dependent_test for numbers: KS on a small reference, the normalised Wasserstein distance otherwise."""
    return size_dependent_test(small, ("ks", policy.ks_p_value, ks),
                               ("wasserstein_normed", policy.wasserstein_threshold, distance))


def category_drift(keys: list, ref_counts: np.ndarray, cur_counts: np.ndarray, *, numeric: bool, small: bool,
                   policy: DriftPolicy) -> dict:
    """judge_column's test, distance, new/vanished categories and drawn frequencies for a column compared as
    categories from its aligned counts (shared by the in-memory and engine paths)."""
    distance = jensenshannon_distance(ref_counts, cur_counts)
    test, threshold, statistic, p_value, test_drifted = size_dependent_test(
        small, ("chi_squared", policy.chi2_p_value, lambda: chi_squared_test(ref_counts, cur_counts)),
        ("jensenshannon", policy.jensenshannon_threshold, distance))
    new: list[str] = []
    vanished: list[str] = []
    new_share = vanished_share = 0.0
    if not numeric:  # a few distinct numbers are drawn as categories but have no "new categories"
        new_mask, vanished_mask = ref_counts == 0, cur_counts == 0
        new, vanished = [keys[i] for i in np.flatnonzero(new_mask)], [keys[i] for i in np.flatnonzero(vanished_mask)]
        new_share = float(cur_counts[new_mask].sum() / cur_counts.sum())
        vanished_share = float(ref_counts[vanished_mask].sum() / ref_counts.sum())
    ref_draw, cur_draw = category_frequencies(keys, ref_counts, cur_counts, policy.max_frequencies)
    return dict(test=test, statistic=statistic, threshold=threshold, p_value=p_value, test_drifted=bool(test_drifted),
                distance_name="jensenshannon", distance=distance, new=new, new_share=new_share, vanished=vanished,
                vanished_share=vanished_share, ref_draw=ref_draw, cur_draw=cur_draw)


def judge_column(column: str, sdtype: str, policy: DriftPolicy, *, test: str, statistic: float | None,
                 threshold: float, p_value: float | None, test_drifted: bool, distance_name: str,
                 distance: float | None, missing_ref: float, missing_cur: float, missing_cut: float, new: list[str],
                 new_share: float, vanished: list[str], vanished_share: float, ref_draw: dict,
                 cur_draw: dict) -> ColumnDrift:
    """A column's ColumnDrift, its reasons and verdict, from its statistics (shared by both paths)."""
    large_cut = policy.large_jensenshannon if distance_name == "jensenshannon" else policy.large_wasserstein
    large_effect = bool(test_drifted and distance is not None and distance >= large_cut)
    reasons = []
    if test_drifted:
        shown = f"p-value {p_value:.3g} < {threshold}" if p_value is not None else f"{statistic:.3f} >= {threshold}"
        reasons.append(f"{test}: {shown}")
    if abs(missing_cur - missing_ref) > missing_cut:
        reasons.append(f"missing share {missing_ref:.3f} -> {missing_cur:.3f}")
    if new_share > policy.new_category_share:
        reasons.append(f"{len(new)} new categor{'y' if len(new) == 1 else 'ies'} hold {new_share:.3f} of current rows")
    if vanished_share > policy.new_category_share:
        reasons.append(f"{len(vanished)} vanished categor{'y' if len(vanished) == 1 else 'ies'} held "
                       f"{vanished_share:.3f} of reference rows")
    return ColumnDrift(
        column=column, sdtype=sdtype, test=test, statistic=statistic, threshold=threshold, p_value=p_value,
        test_drifted=bool(test_drifted), distance_name=distance_name, distance=distance, large_effect=large_effect,
        missing_share_reference=missing_ref, missing_share_current=missing_cur,
        missing_share_change=missing_cur - missing_ref, new_categories=new, new_category_share=new_share,
        vanished_categories=vanished, vanished_category_share=vanished_share, drifted=bool(reasons),
        reasons=reasons, reference=ref_draw, current=cur_draw,
    )


def _aligned_counts(ref: pd.Series, cur: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Category keys (union, most frequent first) and the counts of each side over them."""
    counts = pd.concat(
        [ref.value_counts().rename("reference"), cur.value_counts().rename("current")], axis=1
    ).fillna(0)
    counts = counts.loc[(counts["reference"] + counts["current"]).sort_values(ascending=False, kind="stable").index]
    return [str(k) for k in counts.index], counts["reference"].to_numpy(float), counts["current"].to_numpy(float)


def category_frequencies(keys: list[str], ref_counts: np.ndarray, cur_counts: np.ndarray, keep: int) -> tuple[dict, dict]:
    """Category shares of each side for drawing, the least frequent folded into '(other)'."""
    def side(counts: np.ndarray) -> dict:
        total = counts.sum()
        shares = {k: float(v / total) for k, v in zip(keys[:keep], counts[:keep])}
        if len(keys) > keep:
            shares[_OTHER] = float(counts[keep:].sum() / total)
        return {"kind": "frequencies", "n": int(total), "shares": shares}

    return side(ref_counts), side(cur_counts)


def shared_bin_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width edges over the pooled range; one bin when the range is too narrow or wide for floats."""
    low, high = float(np.min(values)), float(np.max(values))
    if math.isfinite(high - low) and high > low:
        edges = np.linspace(low, high, bins + 1)
        if np.all(np.diff(edges) > 0):
            return edges
    # A constant column, or one of numbers so large (>= 1e16) that a bin would be narrower than the float spacing.
    pad = max(abs(low), abs(high), 1.0) * 1e-9 if high <= low else 0.0
    return np.array([low - pad, high + pad]) if pad else np.array([low, high])


def _histograms(ref: np.ndarray, cur: np.ndarray, bins: int, sdtype: str) -> tuple[dict, dict]:
    """Counts of each side on bins shared by both (edges over the pooled range)."""
    edges = shared_bin_edges(np.concatenate([ref, cur]), bins)
    unit = "seconds since 1970-01-01" if sdtype == "datetime" else None
    def side(values: np.ndarray) -> dict:
        return {"kind": "histogram", "n": int(len(values)), "bin_edges": edges.tolist(),
                "counts": np.histogram(values, edges)[0].tolist(), "unit": unit}

    return side(ref), side(cur)


# --- pairs -----------------------------------------------------------------------------------------------


def association_matrix(frame: dict[str, pd.Series], kinds: dict[str, str],
                       pairs: Collection[tuple[str, str]] | None = None) -> dict[tuple[str, str], tuple[str, float]]:
    """Association of every column pair (or of `pairs`): Pearson, Cramer's V (categorical), correlation ratio (mixed)."""
    numeric = [c for c in frame if kinds[c] == "numeric"]
    categorical = [c for c in frame if kinds[c] == "categorical"]
    codes = {c: pd.factorize(frame[c], use_na_sentinel=True)[0] for c in categorical}
    out: dict[tuple[str, str], tuple[str, float]] = {}
    if len(numeric) >= 2:
        corr = pd.DataFrame({c: frame[c] for c in numeric}).corr(method="pearson")
        for i, a in enumerate(numeric):
            for b in numeric[i + 1:]:
                out[(a, b)] = ("pearson", float(corr.at[a, b]))
    names = list(frame)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if pairs is not None and (a, b) not in pairs:
                out.pop((a, b), None)
            elif kinds[a] == kinds[b] == "categorical":
                out[(a, b)] = ("cramers_v", cramers_v(codes[a], codes[b]))
            elif kinds[a] != kinds[b]:
                cat, num = (a, b) if kinds[a] == "categorical" else (b, a)
                out[(a, b)] = ("correlation_ratio", correlation_ratio(codes[cat], frame[num].to_numpy(float)))
    return out


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramer's V (no bias correction) of two code arrays; -1 codes are missing and dropped."""
    keep = (a >= 0) & (b >= 0)
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return float("nan")
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    return association.cramers_v(np.bincount(a.astype(np.int64) * kb + b, minlength=ka * kb).reshape(ka, kb))


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio eta of numbers given categories; -1 codes and NaN values are dropped."""
    levels = int(codes.max()) + 2 if len(codes) else 1
    return association.correlation_ratio(np.where(codes < 0, levels - 1, codes), values, levels)


def _pair_drift(
    ref: dict[str, pd.Series], cur: dict[str, pd.Series], metadata: Metadata, policy: DriftPolicy,
    skipped: dict[str, str], sample: Collection[tuple[str, str]] | None = None,
) -> list[PairDrift]:
    kinds = {}
    for column in ref:
        if metadata[column] in ("numerical", "datetime"):
            kinds[column] = "numeric"
        elif ref[column].nunique() > policy.max_pair_categories:
            skipped[f"pairs with '{column}'"] = f"more than {policy.max_pair_categories} categories"
        else:
            kinds[column] = "categorical"
    used = [c for c in ref if c in kinds]
    before = association_matrix({c: ref[c] for c in used}, kinds, sample)
    after = association_matrix({c: cur[c] for c in used}, kinds, sample)
    n_ref = len(next(iter(ref.values()))) if ref else 0
    n_cur = len(next(iter(cur.values()))) if cur else 0
    return judge_pairs(before, after, n_ref, n_cur, policy)


def judge_pairs(before: dict[tuple[str, str], tuple[str, float]], after: dict[tuple[str, str], tuple[str, float]],
                n_ref: int, n_cur: int, policy: DriftPolicy) -> list[PairDrift]:
    """Each pair's PairDrift from its association in reference and current, largest change first."""
    floor = noise_floor(n_ref, n_cur)
    flag_cut = max(policy.association_change, floor)
    large_cut = max(policy.large_association_change, floor)
    pairs = []
    for key, (measure, r) in before.items():
        c = after[key][1]
        known = not (math.isnan(r) or math.isnan(c))
        change = abs(c - r) if known else None
        pairs.append(PairDrift(
            columns=key, measure=measure, reference=None if math.isnan(r) else r,
            current=None if math.isnan(c) else c, change=change, threshold=flag_cut,
            flagged=bool(known and change > flag_cut),
            large=bool(known and change >= large_cut),
        ))
    pairs.sort(key=lambda p: -1.0 if p.change is None else p.change, reverse=True)
    return pairs


def noise_floor(n_reference: int, n_current: int) -> float:
    """Three standard errors of the difference of two correlations near 0 estimated on n_reference and n_current rows."""
    return 3.0 * math.sqrt(1.0 / max(n_reference, 1) + 1.0 / max(n_current, 1))


def _jsonable(value: Any) -> Any:
    """Replace NaN/inf with None and numpy scalars with Python ones, recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return value
