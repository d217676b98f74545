"""Fidelity and validity scored from engine aggregates, equal to core/checks/fidelity.py and validity.py.

Column shapes, validity and coverage come from distinct values with counts (core/engine/profile.py); pair
trends and duplicate rows from one tally scan per table (core/engine/tally.py: joint codes of binned pairs,
per-category sums for the correlation ratio, pairwise-complete Pearson moments, row keys). Their nulls come
from the same counts (core/stats/null.py resamples counts, never rows). The numeric pairs' nulls (and the
Spearman rescue) need rows: they use every row when the tables hold at most `row_sample` rows together,
else a seeded sample of rows, recorded in `EngineNotes`.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.checks.fidelity import (KS_DECIMALS, ColumnShape, FidelityResult, PairTrend, format_point,
                                  select_pair_columns, tv_complement_counts,
                                  Skipped, contingency_similarity)
from core.checks.validity import TAIL_QUANTILE, ColumnValidity, ValidityResult
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES, Metadata
from core.engine import aggregates as agg
from core.engine.base import Engine
from core.engine.profile import ColumnProfile, merge_points, profile_columns, sorted_quantile
from core.engine.tally import Discrete, Tally, TallyPlan
from core.stats import null as nulls
from core.stats.association import cramers_v
from core.stats.null import NullSettings

ROW_SAMPLE = 200_000  # rows (all tables together) up to which the numeric pairs' nulls use every row
SAMPLED_ROWS = 50_000  # rows (all tables together) sampled above it: the row weights are resamples x rows


@dataclass
class EngineNotes:
    """How the engine path differs from the in-memory one, for the report."""

    engine: str
    rows: dict[str, int]
    row_sample: dict[str, int] = field(default_factory=dict)  # role -> rows sampled for the numeric-pair nulls
    seed: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The report's `engine` section (an addition to the contract)."""
        return {"name": self.engine, "rows": self.rows, "row_sample": self.row_sample or None,
                "sample_seed": self.seed, "notes": self.notes}


def _roles(tables: dict[str, str]) -> list[str]:
    return [r for r in ("synthetic", "holdout") if r in tables]


def _pool(tables: dict[str, str]) -> list[str]:
    return ["real"] + (["holdout"] if "holdout" in tables else [])


# --- column shapes -----------------------------------------------------------------------------------
def _rounded(profile: ColumnProfile, role: str) -> tuple[np.ndarray, np.ndarray]:
    """The column's distinct values rounded as sdmetrics rounds before KS, with their counts."""
    return merge_points([(np.round(profile.points[role], KS_DECIMALS), profile.counts[role])])


def ks_from_counts(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]):
    """fidelity.ks_complement from sorted distinct values with counts: score, both CDFs and the worst point."""
    (pa, ca), (pb, cb) = a, b
    if ca.sum() == 0 or cb.sum() == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    points = np.union1d(pa, pb)
    cum_a, cum_b = np.concatenate([[0], np.cumsum(ca)]), np.concatenate([[0], np.cumsum(cb)])
    cdf_a = cum_a[np.searchsorted(pa, points, side="right")] / int(ca.sum())
    cdf_b = cum_b[np.searchsorted(pb, points, side="right")] / int(cb.sum())
    gap = np.abs(cdf_a - cdf_b)
    worst = int(np.argmax(gap))
    return 1.0 - float(gap[worst]), float(cdf_a[worst]), float(cdf_b[worst]), float(points[worst])


def tv_from_counts(p: np.ndarray, q: np.ndarray) -> tuple[float, int, float, float]:
    """fidelity.tv_complement from counts per code (missing last)."""
    return tv_complement_counts(p[:-1], q[:-1])


def column_shape(profile: ColumnProfile, other: str = "synthetic") -> ColumnShape:
    """One column's KS or TV complement of `other` against real, from counts."""
    if profile.is_continuous:
        score, real, synthetic, at = ks_from_counts(_rounded(profile, "real"), _rounded(profile, other))
        return ColumnShape(profile.name, profile.sdtype, "KSComplement", score, real, synthetic,
                           format_point(at, profile.sdtype))
    score, worst, real, synthetic = tv_from_counts(profile.counts["real"], profile.counts[other])
    label = str(profile.labels[worst]) if worst >= 0 else None
    return ColumnShape(profile.name, profile.sdtype, "TVComplement", score, real, synthetic, label)


def _shape_null(profile: ColumnProfile, index: int, pool: list[str], settings: NullSettings):
    if profile.is_continuous:
        n, m = profile.present("real"), profile.present("synthetic")
        points, counts = merge_points([_rounded(profile, r) for r in pool])
        grid_points, grid_counts = _grid(points, counts)
        sizes = (n, m, int(grid_points.size))
        if grid_counts.sum() < settings.min_real_rows or n == 0 or m == 0:
            return None, sizes
        return nulls.ks_null(grid_counts, n, m, settings.resamples, settings.rng(0, index)), sizes
    counts = sum(profile.counts[r][:-1] for r in pool)
    n, m = profile.present("real"), profile.present("synthetic")
    sizes = (n, m, int((counts > 0).sum()))
    if counts.sum() < settings.min_real_rows or n == 0 or m == 0:
        return None, sizes
    return nulls.cell_tv_null(counts, n, m, settings.resamples, settings.rng(0, index)), sizes  # as fidelity's


def _grid(points: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """null.value_grid of the rows that sorted distinct `points` with `counts` stand for."""
    return nulls.grid_cells(points, counts)


# --- pair trends -------------------------------------------------------------------------------------
def _ratio(n: np.ndarray, sums: np.ndarray, total_square: float) -> float:
    """association.correlation_ratio from per-category counts and sums (missing code last, left out) and the
    total of squares over the rows where both columns are present."""
    n, sums = n[:-1].astype(float), sums[:-1]
    size = n.sum()
    if size < 2:
        return float("nan")
    total_sum = float(sums.sum())
    correction = total_sum * total_sum / size
    total = total_square - correction
    if total <= 1e-12 * max(total_square, 1e-300):
        return float("nan")
    between = float((sums[n > 0] ** 2 / n[n > 0]).sum()) - correction
    return float(np.sqrt(min(max(between / total, 0.0), 1.0)))


@dataclass
class _PairPlan:
    """Which pairs fidelity scores and what each needs from the tally."""

    columns: list[ColumnProfile]  # the pair columns, in order
    numeric: list[tuple[ColumnProfile, ColumnProfile]]  # Pearson moments
    binned: list[tuple[ColumnProfile, ColumnProfile]]  # contingency cells (a discrete side or two)
    mixed: list[tuple[ColumnProfile, ColumnProfile]]  # (discrete, continuous): correlation ratio sums


def _pair_plan(profiles: dict[str, ColumnProfile], pairs: Collection[tuple[str, str]] | None,
               skipped: list[Skipped]) -> _PairPlan:
    """fidelity's pair selection over profiles (skipped columns appended to `skipped`)."""
    columns = select_pair_columns(list(profiles.values()), lambda profile: profile.constant("real"), skipped)
    chosen = [(a, b) for a, b in itertools.combinations(columns, 2) if pairs is None or (a.name, b.name) in pairs]
    numeric = [(a, b) for a, b in chosen if a.is_continuous and b.is_continuous]
    binned = [(a, b) for a, b in chosen if not (a.is_continuous and b.is_continuous)]
    mixed = [(b, a) if a.is_continuous else (a, b) for a, b in binned if a.is_continuous != b.is_continuous]
    return _PairPlan(columns, numeric, binned, mixed)


def tally_tables(engine: Engine, tables: dict[str, str], profiles: dict[str, ColumnProfile],
                 pairs: Collection[tuple[str, str]] | None = None, duplicates: bool = True,
                 spill_folder: str | None = None) -> dict[str, Tally]:
    """ONE scan of each table: fidelity's pair cells, correlation-ratio sums and Pearson moments, and (on an
    engine whose rows stream to this process: DuckDB, pandas) the row keys validity counts duplicates from."""
    plan = _pair_plan(profiles, pairs, [])
    moments = list(dict.fromkeys(p.name for pair in plan.numeric for p in pair))
    return tally_pairs(engine, tables, profiles, [(a.name, b.name) for a, b in plan.binned],
                       [(d.name, c.name) for d, c in plan.mixed], moments, duplicates, spill_folder,
                       moment_pairs=[(a.name, b.name) for a, b in plan.numeric])


def tally_pairs(engine: Engine, tables: dict[str, str], profiles: dict[str, ColumnProfile],
                binned: list[tuple[str, str]], mixed: list[tuple[str, str]], moments: list[str],
                duplicates: bool = False, spill_folder: str | None = None,
                scale: dict[str, float] | None = None,
                moment_pairs: list[tuple[str, str]] | None = None) -> dict[str, Tally]:
    """ONE scan of each table (core/engine/tally.py): the joint codes of the `binned` pairs, the category sums of
    the `mixed` (discrete, continuous) pairs, the pairwise-complete moments of the `moments` columns, and the
    row keys of every profiled column when `duplicates` (on DuckDB and pandas: Spark counts them in SQL).

    `scale` divides a continuous column's values (drift compares dates in seconds, not nanoseconds);
    `moment_pairs` names the pairs whose moments are read (None: every pair of `moments`)."""
    scale = scale or {}
    keys = duplicates and engine.name in ("duckdb", "pandas") and bool(profiles)
    wanted = set(profiles) if keys else {c for pair in binned + mixed for c in pair} | set(moments)
    names = [n for n in profiles if n in wanted]
    alias = {name: f"c{i}" for i, name in enumerate(names)}
    exprs = {}
    for n in names:
        p = profiles[n]
        exprs[alias[n]] = engine.quote(n) if not p.is_continuous else agg.value_expr(engine, n, p.sdtype) if \
            n not in scale else f"({agg.value_expr(engine, n, p.sdtype)} / {agg.double_literal(scale[n])})"
    out = {}
    for role, table in tables.items():
        shift = {}  # each column's mean in this table: the one-pass moments are centred near it
        for n in moments:
            counts = profiles[n].counts[role]
            shift[alias[n]] = float(np.dot(profiles[n].points[role] / scale.get(n, 1.0), counts) / counts.sum()) \
                if counts.sum() else 0.0
        plan = TallyPlan(
            continuous={alias[n]: profiles[n].edges[1:-1] / scale.get(n, 1.0) for n in names
                        if profiles[n].is_continuous},
            discrete={alias[n]: Discrete(profiles[n].raw[role][0], profiles[n].raw[role][1], profiles[n].missing_code)
                      for n in names if not profiles[n].is_continuous},
            cells=[(alias[a], alias[b]) for a, b in binned],
            sums=[(alias[d], alias[c]) for d, c in mixed],
            moments=[alias[n] for n in moments], shift=shift,
            moment_pairs=None if moment_pairs is None else [(alias[a], alias[b]) for a, b in moment_pairs],
            keys=[alias[n] for n in names] if keys else None, spill_folder=spill_folder)
        tally = engine.tally(agg.projection(engine, table, exprs), plan)
        tally.names = alias
        out[role] = tally
    return out


def category_ratio(tally: Tally, category: str, value: str) -> float:
    """The correlation ratio of column `value` by column `category` (names as in the table) from a tally."""
    return _ratio(*tally.category_sums(tally.names[category], tally.names[value]))


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


@dataclass
class _Rows:
    """Rows of the numeric pair columns (all, or a seeded sample) for the nulls that need rows."""

    frames: dict[str, pd.DataFrame]
    full: bool  # every row, in table order: the nulls equal the in-memory path's
    sizes: dict[str, int]  # role -> rows of the whole table (n and m of the resamples)


def _fetch_rows(engine: Engine, tables: dict[str, str], columns: list[ColumnProfile], rows: dict[str, int],
                settings: NullSettings, cap: int, notes: EngineNotes,
                samples: dict[str, pd.DataFrame] | None = None) -> _Rows:
    """Every row of the numeric pair columns (tables of at most `cap` rows together), else a seeded sample:
    drawn from `samples` (seeded samples already drawn, e.g. the plots') when they are large enough, so the
    files are not scanned once more, else by the engine."""
    select = ", ".join(f"{agg.value_expr(engine, c.name, c.sdtype)} AS {engine.quote(c.name)}" for c in columns)
    full = sum(rows.values()) <= cap
    frames = {}
    for role, table in tables.items():
        if full:
            frame = engine.sql(f"SELECT {select} FROM {engine.quote(table)}")
        else:
            share = max(1, int(min(cap, SAMPLED_ROWS) * rows[role] / sum(rows.values())))
            drawn = (samples or {}).get(role)
            if drawn is not None and len(drawn) >= share:
                frame = drawn.sample(n=share, random_state=settings.seed)
            else:
                frame = engine.sample(table, share, settings.seed)
            frame = pd.DataFrame({c.name: _as_float(frame[c.name], c.sdtype) for c in columns})
            notes.row_sample[role] = len(frame)
        frames[role] = frame.astype(float)
    if not full:
        notes.seed = settings.seed
        notes.notes.append(f"numeric pairs' nulls and Spearman rank correlations from a seeded sample of rows "
                           f"(seed {settings.seed}, {sum(notes.row_sample.values())} rows); every score from all rows")
    return _Rows(frames, full, dict(rows))


def _as_float(series: pd.Series, sdtype: str) -> np.ndarray:
    if sdtype == "datetime":
        values = pd.to_datetime(series)
        out = values.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        out[values.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan) + 0.0


def _weights(rows: _Rows, pool: list[str], settings: NullSettings, memo: dict):
    """Reference and sample row weights over the pooled rows (as fidelity._row_weights), drawn once."""
    if "rows" not in memo:
        pooled = sum(len(rows.frames[r]) for r in pool)
        n, m = rows.sizes["real"], rows.sizes["synthetic"]
        rng = settings.rng(3)
        if rows.full:
            memo["rows"] = (nulls.row_weights(pooled, n, settings.resamples, rng).astype(float),
                            nulls.row_weights(pooled, m, settings.resamples, rng).astype(float))
        else:  # the sample stands for the pooled rows: n and m draws over it, with replacement
            uniform = np.full(pooled, 1.0 / pooled)
            memo["rows"] = (rng.multinomial(n, uniform, size=settings.resamples).astype(float),
                            rng.multinomial(m, uniform, size=settings.resamples).astype(float))
    return memo["rows"]


def _numeric_nulls(rows: _Rows, pool: list[str], settings: NullSettings, memo: dict) -> dict:
    """Pearson and Spearman similarity nulls of every numeric pair of `rows` (memo["pairs"]), drawn at once.

    As fidelity._numeric_pair_nulls: the shared row weights (seed item 3), one weighted product per chunk of
    pairs (nulls.correlation_nulls_rows), ranks of each column's pooled rows."""
    if "nulls" not in memo:
        names = list(rows.frames["real"].columns)
        chosen = [(names.index(a), names.index(b)) for a, b in memo["pairs"]]
        values = [np.concatenate([rows.frames[r][c].to_numpy() for r in pool]) for c in names]
        ranks = [pd.Series(v).rank().to_numpy() for v in values]
        ref, sample = _weights(rows, pool, settings, memo)
        k = len(values)
        both = nulls.correlation_nulls_rows(values + ranks, chosen + [(i + k, j + k) for i, j in chosen], ref, sample)
        memo["nulls"] = {pair: (both[t], both[t + len(chosen)]) for t, pair in enumerate(memo["pairs"])}
    return memo["nulls"]


def evaluate_fidelity(engine: Engine, tables: dict[str, str], metadata: Metadata,
                      profiles: dict[str, ColumnProfile] | None = None,
                      pairs: Collection[tuple[str, str]] | None = None, settings: NullSettings | None = None,
                      row_sample: int = ROW_SAMPLE, notes: EngineNotes | None = None,
                      tallies: dict[str, Tally] | None = None,
                      samples: dict[str, pd.DataFrame] | None = None) -> FidelityResult:
    """fidelity.evaluate_fidelity over registered tables ('real', 'synthetic', optional 'holdout' -> table name)."""
    settings = settings or NullSettings()
    if settings.pair_binning != "shared":
        from core.errors import UsageError

        raise UsageError(f"[fidelity] pair_binning = {settings.pair_binning!r} is not computed by the "
                         f"{engine.name} engine; use \"shared\" or --engine pandas")
    profiles = profiles if profiles is not None else profile_columns(engine, tables, metadata)
    notes = notes or EngineNotes(engine.name, {r: engine.row_count(t) for r, t in tables.items()})
    roles, pool = _roles(tables), _pool(tables)
    skipped = [Skipped(name, f"sdtype '{sdtype}' is not compared") for name, sdtype in metadata.items()
               if sdtype not in CONTINUOUS_SDTYPES + DISCRETE_SDTYPES]
    shapes = []
    for index, profile in enumerate(profiles.values()):
        shape = column_shape(profile)
        if not np.isfinite(shape.score):
            side = "real" if profile.present("real") == 0 else "synthetic"
            skipped.append(Skipped(profile.name, f"no non-missing values in the {side} data"))
            continue
        if "holdout" in roles:
            shape.expected = column_shape(profile, "holdout").score
        shape.null, shape.sizes = _shape_null(profile, index, pool, settings)
        shapes.append(shape)

    plan = _pair_plan(profiles, pairs, skipped)
    tallies = tallies if tallies is not None else tally_tables(engine, tables, profiles, pairs, duplicates=False)
    continuous = [c for c in plan.columns if c.is_continuous]
    pearson: dict = {}
    for role in ["real"] + roles:
        tally = tallies[role]
        found = {(a.name, b.name): tally.pearson(tally.names[a.name], tally.names[b.name]) for a, b in plan.numeric}
        pearson[role] = {pair: r for pair, (_, r) in found.items()}
        pearson[f"{role}:n"] = {pair: n for pair, (n, _) in found.items()}
    rows = _fetch_rows(engine, tables, continuous, notes.rows, settings, row_sample, notes, samples) \
        if plan.numeric else None
    spearman = {}
    if rows is not None:
        for role in ("real", "synthetic"):
            spearman[role] = rows.frames[role][[c.name for c in continuous]].corr(method="spearman", min_periods=2)

    memo: dict = {"pairs": [(a.name, b.name) for a, b in plan.numeric]}
    trends = []
    with nulls.one_blas_thread():
        for index, (a, b) in enumerate(itertools.combinations(plan.columns, 2)):
            if pairs is not None and (a.name, b.name) not in pairs:
                continue
            trend = _pair_trend(roles, pool, a, b, index, pearson, spearman, rows, settings, memo, skipped, tallies)
            if trend is not None:
                trends.append(trend)
    return FidelityResult(shapes, trends, skipped)


def _pair_trend(roles, pool, a, b, index, pearson, spearman, rows, settings, memo, skipped, tallies):
    """One pair's trend with its null (None when skipped, with the reason appended to `skipped`)."""
    if a.is_continuous and b.is_continuous:
        if a.constant("synthetic") or b.constant("synthetic"):
            skipped.append(Skipped(f"{a.name} / {b.name}", "a column is constant in the synthetic data, "
                                                            "so its correlation is undefined"))
            return None
        real_assoc, synthetic_assoc = pearson["real"][(a.name, b.name)], pearson["synthetic"][(a.name, b.name)]
        score = 1.0 - abs(real_assoc - synthetic_assoc) / 2.0
        expected = 1.0 - abs(real_assoc - pearson["holdout"][(a.name, b.name)]) / 2.0 if "holdout" in roles else None
        trend = PairTrend((a.name, b.name), "CorrelationSimilarity", score, _finite(real_assoc),
                          _finite(synthetic_assoc), _finite(expected) if expected is not None else None)
        complete = lambda role: pearson[f"{role}:n"][(a.name, b.name)]  # all rows, not the sample's
        pooled_complete = sum(complete(r) for r in pool)
        trend.sizes = (complete("real"), complete("synthetic"), pooled_complete)
        if pooled_complete < settings.min_real_rows or min(trend.sizes[:2]) < 2:
            return trend
        trend.null, trend.rank_null = _numeric_nulls(rows, pool, settings, memo)[(a.name, b.name)]
        rank_real = float(spearman["real"].loc[a.name, b.name])
        rank_synthetic = float(spearman["synthetic"].loc[a.name, b.name])
        trend.rank_score = 1.0 - abs(rank_real - rank_synthetic) / 2.0
        return trend

    counts = {role: tallies[role].joint(tallies[role].names[a.name], tallies[role].names[b.name])
              for role in ["real"] + roles}

    def association(role: str) -> float:
        if a.is_continuous != b.is_continuous:
            category, value = (b, a) if a.is_continuous else (a, b)
            return category_ratio(tallies[role], category.name, value.name)
        return cramers_v(counts[role][: a.levels - 1, : b.levels - 1])

    real_assoc, synthetic_assoc = association("real"), association("synthetic")
    score = contingency_similarity(counts["real"], counts["synthetic"])
    expected = contingency_similarity(counts["real"], counts["holdout"]) if "holdout" in roles else None
    trend = PairTrend((a.name, b.name), "ContingencySimilarity", score, _finite(real_assoc), _finite(synthetic_assoc),
                      _finite(expected) if expected is not None else None)
    pooled = sum(counts[r] for r in pool)
    trend.sizes = (int(counts["real"].sum()), int(counts["synthetic"].sum()), int((pooled > 0).sum()))
    if pooled.sum() >= settings.min_real_rows:
        trend.null = nulls.cell_tv_null(pooled, trend.sizes[0], trend.sizes[1], settings.resamples,
                                        settings.rng(1, index))  # as fidelity's
    return trend


# --- validity ----------------------------------------------------------------------------------------
def _continuous_validity(p: ColumnProfile, role: str, pool: list[str], settings: NullSettings, level: float,
                         index: int) -> ColumnValidity:
    rp, rc = p.points["real"], p.counts["real"]
    sp, sc = p.points[role], p.counts[role]
    n_real, n_sample = int(rc.sum()), int(sc.sum())
    low, high = (float(rp[0]), float(rp[-1])) if rp.size else (np.nan, np.nan)
    outside = int(sc[(sp < low) | (sp > high)].sum()) if rp.size else 0
    out_of_range = float(outside / max(n_sample, 1)) if rp.size else 0.0
    if rp.size and sp.size and high > low:
        lost = max(float(sp[0]) - low, 0.0) + max(high - float(sp[-1]), 0.0)
        range_coverage = float(np.clip(1.0 - lost / (high - low), 0.0, 1.0))
    else:
        range_coverage = 1.0 if rp.size and sp.size else 0.0
    result = ColumnValidity(
        p.name, p.sdtype, out_of_range, 0.0, 1.0, range_coverage,
        float(p.missing["real"] / p.rows["real"]) if p.rows["real"] else float("nan"),
        float(p.missing[role] / p.rows[role]) if p.rows[role] else float("nan"),
        chance_invalid_share=min(2.0 / (n_real + 1), 1.0) if n_real else 0.0,
        sample_rows=n_sample, reference_rows=n_real,
    )
    if role == "synthetic" and n_real and n_sample:
        points, counts = _grid(*p.pooled(pool))
        if counts.sum() >= settings.min_real_rows:
            result.null = nulls.out_of_range_null(counts, n_real, n_sample, settings.resamples, settings.rng(2, index))
    if n_real and n_sample:
        q_low, q_high = sorted_quantile(rp, rc, TAIL_QUANTILE), sorted_quantile(rp, rc, 1 - TAIL_QUANTILE)
        result.real_lower_tail_share = float(rc[rp < q_low].sum() / n_real)
        result.real_upper_tail_share = float(rc[rp > q_high].sum() / n_real)
        result.lower_tail_share = float(sc[sp < q_low].sum() / n_sample)
        result.upper_tail_share = float(sc[sp > q_high].sum() / n_sample)
        for side, real_share, share in (("lower", result.real_lower_tail_share, result.lower_tail_share),
                                        ("upper", result.real_upper_tail_share, result.upper_tail_share)):
            fewest = nulls.tail_count_lower_bound(real_share, n_real, n_sample, level)
            if fewest >= 1:
                result.judged_tails.append(side)
                result.tail_floors[side] = fewest
                if round(share * n_sample) < fewest:
                    result.collapsed_tails.append(side)
    return result


def _discrete_validity(p: ColumnProfile, role: str, pool: list[str], settings: NullSettings, level: float,
                       index: int) -> ColumnValidity:
    missing = p.missing_code
    real_counts, sample_counts = p.counts["real"], p.counts[role]
    real_present, sample_present = real_counts[:missing].sum(), sample_counts[:missing].sum()
    in_real = real_counts[:missing] > 0
    unseen = float(sample_counts[:missing][~in_real].sum() / max(sample_present, 1))
    covered = in_real & (sample_counts[:missing] > 0)
    coverage = float(covered.sum() / in_real.sum()) if in_real.any() else 1.0
    pooled = sum(p.counts[r][:missing] for r in pool)
    share = pooled / max(pooled.sum(), 1)
    expected = in_real & ((1.0 - share) ** max(sample_present, 0) < level)
    lost = expected & ~covered
    result = ColumnValidity(
        p.name, p.sdtype, 0.0, unseen, coverage, 1.0,
        float(real_counts[missing] / max(p.rows["real"], 1)), float(sample_counts[missing] / max(p.rows[role], 1)),
        missing_categories=[str(p.labels[i]) for i in np.flatnonzero(lost)],
        expected_categories=int(expected.sum()),
        chance_invalid_share=float(((real_counts[:missing] == 1).sum() + 1) / (real_present + 1)),
        sample_rows=int(sample_present), reference_rows=int(real_present),
    )
    if role == "synthetic" and real_present and sample_present and pooled.sum() >= settings.min_real_rows:
        result.null = nulls.unseen_null(pooled, real_present, sample_present, settings.resamples, settings.rng(2, index))
    return result


def duplicate_share(engine: Engine, table: str, profiles: dict[str, ColumnProfile]) -> float:
    """Share of rows repeating an earlier row over the compared columns (validity.duplicate_share), in SQL:
    by the engine's row hashes where it has them (Spark), else grouping the rows."""
    if hasattr(engine, "distinct_rows"):
        # + 0.0 makes -0.0 the same value as 0.0, as the in-memory keys have it
        exprs = [f"({agg.value_expr(engine, p.name, p.sdtype)} + {agg.double_literal(0.0)})" if p.is_continuous
                 else engine.quote(p.name) for p in profiles.values()]
        total, distinct = engine.distinct_rows(table, exprs)
        return float((total - distinct) / total) if total else 0.0
    keys = ", ".join(agg.value_expr(engine, p.name, p.sdtype) if p.is_continuous else engine.quote(p.name)
                     for p in profiles.values())
    row = engine.sql(f"SELECT SUM(n) AS total, SUM(n - 1) AS extra FROM "
                     f"(SELECT COUNT(*) AS n FROM {engine.quote(table)} GROUP BY {keys}) AS g").iloc[0]
    total = int(row["total"] or 0)
    return float(int(row["extra"] or 0) / total) if total else 0.0


def evaluate_validity(engine: Engine, tables: dict[str, str], metadata: Metadata,
                      profiles: dict[str, ColumnProfile] | None = None,
                      settings: NullSettings | None = None, tallies: dict[str, Tally] | None = None) -> ValidityResult:
    """validity.evaluate_validity over registered tables, from the same profiles."""
    settings = settings or NullSettings()
    profiles = profiles if profiles is not None else profile_columns(engine, tables, metadata)
    pool = _pool(tables)
    items = sum(2 if p.is_continuous else p.levels - 1 for p in profiles.values())
    level = settings.false_alarm_rate / max(items, 1)

    def one(p: ColumnProfile, role: str, i: int) -> ColumnValidity:
        check = _continuous_validity if p.is_continuous else _discrete_validity
        return check(p, role, pool, settings, level, i)

    result = ValidityResult({name: one(p, "synthetic", i) for i, (name, p) in enumerate(profiles.items())})
    if "holdout" in tables:
        result.baseline = {name: one(p, "holdout", i) for i, (name, p) in enumerate(profiles.items())}
    if profiles:
        def share(role: str) -> float:
            tally = (tallies or {}).get(role)
            if tally is not None and tally.counts_keys:
                return float(tally.duplicate_rows() / tally.rows) if tally.rows else 0.0
            return duplicate_share(engine, tables[role], profiles)

        result.duplicate_rows_share_synthetic = share("synthetic")
        result.duplicate_rows_share_real = share("real")
    return result


# --- missing values ----------------------------------------------------------------------------------
def missing_shares(engine: Engine, tables: dict[str, str], metadata: Metadata) -> dict[str, pd.DataFrame]:
    """Per table: column x column share of rows where both are missing (structure.missing.co_missing)."""
    out = {}
    for role, table in tables.items():
        exprs = {}
        for column, sdtype in metadata.items():
            base = agg.missing_expr(engine, column, sdtype)
            if sdtype not in CONTINUOUS_SDTYPES:  # empty text counts as missing, as missing.missing_matrix has it
                base = f"({base} OR TRIM(CAST({engine.quote(column)} AS STRING)) = '')"
            exprs[column] = base
        total, both = agg.missing_counts(engine, table, exprs)
        out[role] = both / max(total, 1)
    return out
