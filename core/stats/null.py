"""Real-vs-real nulls: the same statistic on resampled real tables of the synthetic table's size.

How a null is drawn (one rule for every fidelity and validity statistic): the real rows available (the
training rows, plus the holdout when one is given) are pooled; each resample draws a reference of n rows
(the training table's size) and a sample of m rows (the synthetic table's size), both with replacement from
the pooled rows, and computes the statistic between them exactly as it is computed between the training
and the synthetic table. Drawing with replacement is a multinomial draw over the pooled table's distinct
cells, so every resample costs O(cells), not O(rows): a column's distinct values (sorted, for KS), a pair's
contingency cells, or a numeric pair's distinct (x, y) points. Each resample is seeded by the caller.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.gates import CALIBRATION_DEFAULTS
from core.stats.binning import safe_edges  # noqa: F401  (re-exported for the fidelity binning)

@dataclass(frozen=True)
class NullSettings:
    """How the real-vs-real nulls are drawn: resamples per statistic, the seed, and the smallest pool."""

    resamples: int = int(CALIBRATION_DEFAULTS["resamples"])
    seed: int = int(CALIBRATION_DEFAULTS["seed"])
    min_real_rows: int = int(CALIBRATION_DEFAULTS["min_real_rows"])
    false_alarm_rate: float = float(CALIBRATION_DEFAULTS["false_alarm_rate"])
    pair_binning: str = "shared"  # "shared" (real bins, open ends) or "sdmetrics" (each table its own bins)

    def rng(self, *item: int) -> np.random.Generator:
        """A generator for one item (column or pair index), independent of the order items are scored in."""
        return np.random.default_rng([self.seed, *item])


# A continuous column with more distinct values than this has its middle grouped into quantile cells (its
# lowest and highest EXACT_ENDS distinct values stay exact, since range statistics live there). KS on the
# grouped cells understates the statistic by at most one cell's mass, far below its sampling noise.
MAX_CELLS = 4000
EXACT_ENDS = 500


def chance_auc_sd(k: int) -> float:
    """Spread of a chance classifier's AUC on k positives and k negatives (Mann-Whitney under no difference):
    sqrt((2k + 1) / (12 k^2)); the floor under the measured spread of the AUC gates (detection, membership)."""
    k = max(int(k), 1)
    return math.sqrt((2 * k + 1) / (12 * k * k))


def value_grid(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct non-missing values and their counts, the middle grouped when there are too many."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    return grid_cells(*np.unique(values, return_counts=True))


def grid_cells(points: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """value_grid from sorted distinct values with their counts (as an engine aggregates them)."""
    if points.size <= MAX_CELLS:
        return points, counts
    middle = slice(EXACT_ENDS, points.size - EXACT_ENDS)
    inner = counts[middle]
    groups = MAX_CELLS - 2 * EXACT_ENDS
    cut = np.searchsorted(np.cumsum(inner), np.linspace(0, inner.sum(), groups + 1)[1:-1], side="right")
    cut = np.unique(np.clip(cut, 1, inner.size - 1))
    starts = np.concatenate([[0], cut])
    grouped_counts = np.add.reduceat(inner, starts)
    grouped_points = points[middle][np.concatenate([cut - 1, [inner.size - 1]])]  # each group's last value
    return (np.concatenate([points[:EXACT_ENDS], grouped_points, points[-EXACT_ENDS:]]),
            np.concatenate([counts[:EXACT_ENDS], grouped_counts, counts[-EXACT_ENDS:]]))


def draw(counts: np.ndarray, n: int, m: int, resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Reference (n) and sample (m) cell counts of `resamples` draws with replacement from pooled `counts`."""
    counts = np.asarray(counts, dtype=float)
    p = counts / counts.sum()
    return (rng.multinomial(max(int(n), 0), p, size=resamples),
            rng.multinomial(max(int(m), 0), p, size=resamples))


def _shares(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / totals


def ks_null(counts: np.ndarray, n: int, m: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """KSComplement of reference vs sample resamples over sorted cells."""
    ref, sample = draw(counts, n, m, resamples, rng)
    gap = np.abs(np.cumsum(_shares(ref), axis=1) - np.cumsum(_shares(sample), axis=1))
    return 1.0 - gap.max(axis=1)


def tv_null(counts: np.ndarray, n: int, m: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """TVComplement (or ContingencySimilarity over joint cells) of reference vs sample resamples."""
    counts = np.asarray(counts).ravel()
    counts = counts[counts > 0]  # cells the pooled rows never visit are never drawn
    ref, sample = draw(counts, n, m, resamples, rng)
    return 1.0 - 0.5 * np.abs(_shares(ref) - _shares(sample)).sum(axis=1)


def _weighted_pearson(weights: np.ndarray, x: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Pearson r of points (x, y) under each row of count weights (rows where mask is 0 left out); NaN if constant."""
    mask = np.ones_like(x) if mask is None else mask
    features = np.stack([mask, x, y, x * x, y * y, x * y], axis=1)
    # Callers hold one BLAS thread (see one_blas_thread): a threaded BLAS stalls badly on busy cores.
    total, sx, sy, sxx, syy, sxy = (weights @ features).T
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / total
        vx, vy = sxx - sx * sx / total, syy - sy * sy / total
        r = cov / np.sqrt(vx * vy)
    r[(vx <= 1e-12 * np.maximum(sxx, 1e-300)) | (vy <= 1e-12 * np.maximum(syy, 1e-300)) | (total < 2)] = np.nan
    return np.clip(r, -1.0, 1.0)


def one_blas_thread():
    """A context holding BLAS to one thread (entered once per evaluation: entering it reads the libraries)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def pair_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct pairwise-complete (x, y) points, standardised, and how many rows each holds."""
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size == 0:
        return np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
    # Standardising keeps the sums of squares well conditioned for values such as 1e15 or dates in ns.
    x = (x - x.mean()) / (x.std() or 1.0)
    y = (y - y.mean()) / (y.std() or 1.0)
    ux, cx = np.unique(x, return_inverse=True)
    uy, cy = np.unique(y, return_inverse=True)
    keys, counts = np.unique(cx.astype(np.int64) * uy.size + cy, return_counts=True)
    return ux[keys // uy.size], uy[keys % uy.size], counts


def correlation_null(x: np.ndarray, y: np.ndarray, counts: np.ndarray, n: int, m: int, resamples: int,
                     rng: np.random.Generator) -> np.ndarray:
    """CorrelationSimilarity, 1 - |r_ref - r_sample| / 2, of resamples over distinct (x, y) points."""
    if counts.size == 0:
        return np.full(resamples, np.nan)
    ref, sample = draw(counts, n, m, resamples, rng)
    return 1.0 - np.abs(_weighted_pearson(ref, x, y) - _weighted_pearson(sample, x, y)) / 2.0


def row_weights(rows: int, size: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of `rows` pooled rows is drawn in each of `resamples` draws of `size` with replacement."""
    picks = rng.integers(0, rows, size=(resamples, max(int(size), 0)))
    weights = np.empty((resamples, rows), dtype=np.int64)
    for r in range(resamples):  # one row at a time: its counts stay in cache (twice as fast as one flat bincount)
        weights[r] = np.bincount(picks[r], minlength=rows)
    return weights


def correlation_null_rows(x: np.ndarray, y: np.ndarray, ref: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """CorrelationSimilarity of resamples given as row weights (shared by every numeric pair of a table)."""
    keep = ~(np.isnan(x) | np.isnan(y))
    if keep.sum() < 2:
        return np.full(ref.shape[0], np.nan)
    # Standardising keeps the sums of squares well conditioned for values such as 1e15 or dates in ns.
    xs = np.where(keep, (x - np.nanmean(x[keep])) / (np.std(x[keep]) or 1.0), 0.0)
    ys = np.where(keep, (y - np.nanmean(y[keep])) / (np.std(y[keep]) or 1.0), 0.0)
    mask = keep.astype(float)
    return 1.0 - np.abs(_weighted_pearson(ref, xs, ys, mask) - _weighted_pearson(sample, xs, ys, mask)) / 2.0


def correlation_nulls_rows(columns: list[np.ndarray], pairs: list[tuple[int, int]], ref: np.ndarray,
                           sample: np.ndarray, max_bytes: int = 64 << 20) -> list[np.ndarray]:
    """CorrelationSimilarity nulls of many pairs of `columns` under shared row weights (one product per chunk).

    The same statistic as correlation_null_rows pair by pair: each pair's sums (count, x, y, x^2, y^2, xy
    over its complete rows) are columns of one feature matrix, so the (resamples x rows) weights are
    streamed once per chunk of pairs instead of twice per pair. Columns without missing values share their
    count, x and x^2 features across pairs.
    """
    if not pairs:
        return []
    rows = ref.shape[1]
    keeps = [~np.isnan(c) for c in columns]
    complete = [bool(k.all()) for k in keeps]
    scaled = []
    for values, keep in zip(columns, keeps):
        present = values[keep]
        if present.size == 0:
            scaled.append(np.zeros(rows))
            continue
        # Standardising keeps the sums of squares well conditioned (Pearson's r is unchanged by it).
        scaled.append(np.where(keep, (values - present.mean()) / (present.std() or 1.0), 0.0))
    chunk = max(1, int(max_bytes // (8 * rows * 6)))
    out: list[np.ndarray] = []
    for start in range(0, len(pairs), chunk):
        out.extend(_correlation_chunk(scaled, keeps, complete, pairs[start:start + chunk], ref, sample))
    return out


def _correlation_chunk(scaled, keeps, complete, pairs, ref, sample) -> list[np.ndarray]:
    index: dict[tuple, int] = {}
    features: list[np.ndarray] = []

    def feature(key: tuple, make) -> int:
        if key not in index:
            index[key] = len(features)
            features.append(make())
        return index[key]

    plan = []
    for i, j in pairs:
        partial = tuple(c for c in (i, j) if not complete[c])
        mask = (np.logical_and.reduce([keeps[c] for c in partial]).astype(float) if partial
                else np.ones(scaled[i].size))
        at = lambda key, make: feature((*key, partial), make)
        plan.append((at(("n",), lambda: mask),
                     at(("x", i), lambda: scaled[i] * mask), at(("x", j), lambda: scaled[j] * mask),
                     at(("xx", i), lambda: scaled[i] ** 2 * mask), at(("xx", j), lambda: scaled[j] ** 2 * mask),
                     at(("xy", i, j), lambda: scaled[i] * scaled[j] * mask)))
    matrix = np.column_stack(features)
    sums = [ref @ matrix, sample @ matrix]
    out = []
    for (i, j), cols in zip(pairs, plan):
        if (keeps[i] & keeps[j]).sum() < 2:
            out.append(np.full(ref.shape[0], np.nan))
            continue
        r = [_pearson_from_sums(*(s[:, c] for c in cols)) for s in sums]
        out.append(1.0 - np.abs(r[0] - r[1]) / 2.0)
    return out


def _pearson_from_sums(total, sx, sy, sxx, syy, sxy) -> np.ndarray:
    """Pearson r from weighted sums; NaN where either side is constant or fewer than two rows count."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / total
        vx, vy = sxx - sx * sx / total, syy - sy * sy / total
        r = cov / np.sqrt(vx * vy)
    r[(vx <= 1e-12 * np.maximum(sxx, 1e-300)) | (vy <= 1e-12 * np.maximum(syy, 1e-300)) | (total < 2)] = np.nan
    return np.clip(r, -1.0, 1.0)


def good_turing_unseen_mass(seen_once: float, total: float) -> float:
    """Good-Turing's estimate of the share of a fresh draw that falls outside everything seen so far:
    (what was seen once + 1) / (total + 1); the + 1 keeps it above 0 when nothing was seen once."""
    return float((seen_once + 1.0) / (total + 1.0))


def unseen_cell_share(cell_rows: np.ndarray, cell_units: np.ndarray, units: int, size: int) -> float:
    """Expected share of a fresh real sample's rows in cells that another real sample of `size` units lacks.

    The pool holds `units` units (a row's unit: the entity it was drawn with); cell c holds cell_rows[c] rows
    of cell_units[c] distinct units. Two parts: Good-Turing's mass of cells the pool never had (by leaving
    one unit out: the rows in cells only one unit holds, + 1, over the rows + 1), and, for a sample smaller
    than the pool, the pool cells such a sample misses (rarefaction: a cell of k units is missing from `size`
    of `units` units drawn without replacement with probability C(units - k, size) / C(units, size)).
    """
    from scipy.special import gammaln

    cell_rows = np.asarray(cell_rows, dtype=float)
    cell_units = np.asarray(cell_units, dtype=float)
    total = cell_rows.sum()
    if total <= 0 or units < 1 or size < 1:
        return 0.0
    new = good_turing_unseen_mass(cell_rows[cell_units == 1].sum(), total)
    if size >= units:  # a sample as large as the pool or larger: the missing mass shrinks about as 1 / size
        return min(new * units / size, 1.0)
    rest = units - cell_units
    with np.errstate(invalid="ignore"):
        log_missing = (gammaln(rest + 1) - gammaln(np.maximum(rest - size, 0) + 1)
                       - gammaln(units + 1) + gammaln(units - size + 1))
    missing = np.where(rest >= size, np.exp(log_missing), 0.0)
    return float(min(new + (1.0 - new) * (cell_rows / total * missing).sum(), 1.0))


def unit_tv_null(unit_cells, w_ref: np.ndarray, w_sample: np.ndarray, unseen: tuple[float, float],
                 rng: np.random.Generator) -> np.ndarray:
    """1 - TV between reference and sample resamples of units, each unit bringing its rows' cells, with the
    unseen term: resamples of a pool can only draw cells the pool has, and they share its rare cells (a
    unit drawn on both sides), while two real samples bring cells of their own. So the drawn units are
    marked new at random, their rows then in cells of their own, so that each side's expected share of
    rows in cells the other side lacks reaches `unseen` = (reference's, sample's) target, the
    unseen_cell_share of a real sample of the other side's size (the resamples' own share counts toward it).

    unit_cells: (units x cells) row counts (dense or scipy sparse); w_ref, w_sample: (resamples x units)
    draw counts.
    """
    from scipy import sparse

    per_unit_rows = np.asarray(unit_cells.sum(axis=1)).ravel()
    by_cell = sparse.csr_matrix(unit_cells.T)  # cells x units, so each product streams contiguous weights
    cells_of = lambda w: np.asarray(by_cell @ np.ascontiguousarray(w.T)).T
    ref, sample = (cells_of(w) for w in (w_ref, w_sample))
    sides = []
    for w, cells, marked in zip((w_ref, w_sample), (ref, sample), _marking(ref, sample, unseen)):
        if marked <= 0.0:
            sides.append((cells, np.zeros(w.shape[0])))
            continue
        new = rng.binomial(np.round(w).astype(np.int64), marked).astype(float)
        sides.append((cells - cells_of(new), new @ per_unit_rows))
    return _tv_with_new(*sides[0], *sides[1])


def cell_tv_null(counts: np.ndarray, n: int, m: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """tv_null with the unseen term of unit_tv_null, each row a unit of its own: for tables of many sparse
    cells (a three-way table of binned columns), where two real samples each bring cells the other lacks
    far more often than resamples of one pool do. Reference (n) and sample (m) cell counts are drawn with
    replacement from the pooled `counts`; then each side's drawn rows are marked new at random (a binomial
    thinning of its cell counts) until its expected share of rows in cells the other side lacks reaches the
    unseen_cell_share of a real sample of the other side's size."""
    counts = np.asarray(counts, dtype=float).ravel()
    counts = counts[counts > 0]
    if counts.size == 0:
        return np.ones(resamples)
    rows = int(counts.sum())
    ref, sample = draw(counts, n, m, resamples, rng)
    unseen = (unseen_cell_share(counts, counts, rows, m), unseen_cell_share(counts, counts, rows, n))
    sides = []
    for cells, marked in zip((ref, sample), _marking(ref, sample, unseen)):
        new = rng.binomial(cells, marked) if marked > 0.0 else np.zeros_like(cells)
        sides.append(((cells - new).astype(float), new.sum(axis=1).astype(float)))
    return _tv_with_new(*sides[0], *sides[1])


def _marking(ref: np.ndarray, sample: np.ndarray, unseen: tuple[float, float]) -> tuple[float, float]:
    """Per side, the chance a drawn row is marked new so that its expected share of rows in cells the other
    side lacks reaches its `unseen` target (the resamples' own share counts toward it)."""
    out = []
    for own, other, target in ((ref, sample, unseen[0]), (sample, ref, unseen[1])):
        totals = np.maximum(own.sum(axis=1), 1e-300)
        present = float(np.mean(np.where(other == 0, own, 0).sum(axis=1) / totals))
        out.append(min(max((target - present) / (1.0 - present), 0.0), 1.0) if present < 1.0 else 0.0)
    return out[0], out[1]


def _tv_with_new(ref: np.ndarray, ref_new: np.ndarray, sample: np.ndarray, sample_new: np.ndarray) -> np.ndarray:
    """1 - TV between reference and sample cell counts whose `*_new` rows sit in cells of their own."""
    ref_total = ref.sum(axis=1) + ref_new
    sample_total = sample.sum(axis=1) + sample_new
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = (np.abs(ref / ref_total[:, None] - sample / sample_total[:, None]).sum(axis=1)
               + ref_new / ref_total + sample_new / sample_total)
    return 1.0 - 0.5 * gap


# Fewer units than this carrying a column's spread, and resamples of the pool cannot move a correlation as a
# fresh sample moves it (see carrying_units).
MIN_CARRYING_UNITS = 10


def carrying_units(values: np.ndarray, units: np.ndarray) -> float:
    """How many units carry a column's spread: (sum of a) ^ 2 / sum of a ^ 2 over units, a being a unit's sum
    of squared deviations (missing values left out). All units alike give their count; one unit holding the
    only rare value gives about 1. A correlation resampled from such a pool repeats those few units' values."""
    keep = ~np.isnan(values)
    if keep.sum() < 2:
        return 0.0
    deviation = (values[keep] - values[keep].mean()) ** 2
    per_unit = np.bincount(units[keep], weights=deviation)
    total = per_unit.sum()
    return float(total * total / np.sum(per_unit * per_unit)) if total > 0 else 0.0


def fisher_correlation_null(r: float, n: int, m: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """CorrelationSimilarity, 1 - |r_ref - r_sample| / 2, of two independent samples of n and m rows with
    correlation r, each r drawn by Fisher's z (atanh r ~ normal, variance 1 / (rows - 3))."""
    if not np.isfinite(r) or min(n, m) <= 3:
        return np.full(resamples, np.nan)
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    ref = np.tanh(z + rng.standard_normal(resamples) / np.sqrt(n - 3))
    sample = np.tanh(z + rng.standard_normal(resamples) / np.sqrt(m - 3))
    return 1.0 - np.abs(ref - sample) / 2.0


def lenient_envelope(*nulls_: np.ndarray) -> np.ndarray:
    """At every quantile the lowest of the given nulls (higher-is-better scores): the null of a statistic
    whose spread each resampling scheme underestimates in its own regime. NaNs dropped; sorted."""
    finite = [np.sort(n[np.isfinite(n)]) for n in nulls_ if n is not None]
    finite = [n for n in finite if n.size]
    if not finite:
        return np.full(1, np.nan)
    size = max(n.size for n in finite)
    grid = (np.arange(size) + 0.5) / size
    return np.min([np.quantile(n, grid, method="inverted_cdf") for n in finite], axis=0)


def unseen_null(counts: np.ndarray, n: int, m: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Share of a sample resample in categories its reference resample never had.

    Resamples of the pooled rows can only draw categories the pool has, but a fresh real sample also
    brings categories the pool never saw; so one more cell carries Good-Turing's unseen mass,
    (categories seen once + 1) / (rows + 1), and every draw from it counts as a new category.
    """
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts > 0]
    if counts.size == 0:
        return np.zeros(resamples)
    total = counts.sum()
    new_mass = good_turing_unseen_mass(np.count_nonzero(counts == 1), total)
    counts = np.append(counts, new_mass * total / (1.0 - new_mass))
    ref, sample = draw(counts, n, m, resamples, rng)
    ref[:, -1] = 0  # each draw from the new cell is a category of its own, never in the reference
    return np.where(ref == 0, sample, 0).sum(axis=1) / np.maximum(sample.sum(axis=1), 1)


def out_of_range_null(counts: np.ndarray, n: int, m: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Share of a sample resample outside its reference resample's [min, max], over sorted cells."""
    if counts.size == 0:
        return np.zeros(resamples)
    ref, sample = draw(counts, n, m, resamples, rng)
    seen = ref > 0
    low = np.argmax(seen, axis=1)
    high = counts.size - 1 - np.argmax(seen[:, ::-1], axis=1)
    cells = np.arange(counts.size)
    outside = (cells[None, :] < low[:, None]) | (cells[None, :] > high[:, None])
    return np.where(outside, sample, 0).sum(axis=1) / np.maximum(sample.sum(axis=1), 1)


def tail_count_lower_bound(real_share: float, n: int, m: int, level: float) -> int:
    """The `level` lower quantile of a fresh m-row sample's count beyond a real n-row table's tail quantile.

    Analytic (beta-binomial): the real table's tail share is itself an n-row estimate (beta spread), and
    the sample's count is binomial given it.
    """
    if m <= 0 or real_share <= 0:
        return 0
    a, b = max(n * real_share, 0.5), max(n * (1.0 - real_share), 0.5)
    return betabinom_ppf(level, int(m), a, b)


def betabinom_ppf(q: float, m: int, a: float, b: float, chunk: int = 1 << 16) -> int:
    """scipy.stats.betabinom.ppf(q, m, a, b), the smallest k whose CDF reaches q, in time bounded by the
    mass below k rather than by m: scipy's generic ppf bisects on a CDF it sums from 0 each time (minutes
    at m = 1e8). The pmf is summed from 0 in chunks; with a, b >= 1 it rises up to its mode, so a chunk
    below the mode whose last pmf underflows to 0 holds only zeros and is stepped over."""
    from scipy.stats import betabinom

    if q <= 0:
        return 0
    mode = (m * (a - 1.0) + a - 1.0) / (a + b - 2.0) if a >= 1 and b >= 1 and a + b > 2 else 0.0
    total = 0.0
    for start in range(0, m + 1, chunk):
        stop = min(start + chunk, m + 1)
        if stop - 1 < mode and betabinom.logpmf(stop - 1, m, a, b) < -745.0:  # exp() of it is exactly 0
            continue
        cdf = total + np.cumsum(betabinom.pmf(np.arange(start, stop), m, a, b))
        reached = np.flatnonzero(cdf >= q)
        if reached.size:
            return int(start + reached[0])
        total = float(cdf[-1])
    return m


def analytic_distance(kind: str, n: int, m: int, cells: int, level: float) -> float:
    """A stated upper bound on a real sample's distance (1 - score) at one-sided rate `level`, no resampling.

    ks: the two-sample Kolmogorov bound sqrt(ln(2/level)/2) x sqrt(1/n + 1/m); tv: Cauchy-Schwarz on the
    mean, 0.5 sqrt((cells - 1)(1/n + 1/m)), plus McDiarmid's deviation sqrt(ln(1/level)/2 x (1/n + 1/m));
    correlation: Fisher's z, |r1 - r2| <= z(level/2) sqrt(1/(n-3) + 1/(m-3)), halved as the score halves it.
    """
    from scipy.stats import norm

    if min(n, m) < 1:
        return 1.0
    spread = 1.0 / n + 1.0 / m
    if kind == "ks":
        distance = np.sqrt(np.log(2.0 / level) / 2.0 * spread)
    elif kind == "tv":
        distance = 0.5 * np.sqrt(max(cells - 1, 0) * spread) + np.sqrt(np.log(1.0 / level) / 2.0 * spread)
    else:
        distance = 1.0 if min(n, m) <= 3 else \
            norm.isf(level / 2.0) * np.sqrt(1.0 / (n - 3) + 1.0 / (m - 3)) / 2.0
    return float(min(distance, 1.0))


def analytic_invalid_share(chance: float, m: int, level: float) -> float:
    """The binomial upper `level` quantile of the invalid share of m values each invalid with `chance`."""
    from scipy.stats import binom

    if m <= 0:
        return 0.0
    return float(binom.isf(level, m, min(max(chance, 0.0), 1.0)) / m)


def out_of_range_rank_bound(n: int, m: int, level: float) -> float:
    """Distribution-free ceiling on the share of m fresh values outside the range of n reference values.

    For continuous values every interleaving of the n + m draws is equally likely, so P(at least k of the
    sample below the reference minimum) = prod_{i<k} (m - i) / (n + m - i); both sides together are bounded
    by (k + 1) times that. Ties only lower the count, so the bound stays valid for tied values. Resamples
    of the pool cannot resolve tails this fine (a Bonferroni level of 1e-4 from 200 resamples).
    """
    if m <= 0:
        return 0.0
    tail, k = 1.0, 0
    while k < m and (k + 1) * tail > level:
        tail *= (m - k) / (n + m - k)
        k += 1
    return k / m
