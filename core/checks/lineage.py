"""Lineage of recursive generations: synthetic share of each training mix and tail health against the original.

Rule: no recursive training without fresh real data. A chain of generations is read in order; for each
generation we report the synthetic share of the rows it was fitted on, the fresh real rows added that
cycle, and how much of the original real data's tails its synthetic table still holds:

* rare-category coverage: share of the original's rare categories (share < `rare_share`, default 5%,
  but at least `min_rare_rows` rows: a category seen once or twice is lost by a perfect sampler of the
  same size a third of the time, which is noise, not collapse) still present, pooled over columns;
* tail mass: share of synthetic values strictly beyond the original's 1st/99th percentiles, over the
  original's own share there (capped at 1: heavier tails are not a collapse);
* variance ratio: synthetic over original variance, scored min(r, 1/r);
* distinct values ratio: distinct synthetic values over distinct original values (capped at 1).

The tail-health score of a cycle is the mean of the component scores that apply (a table without
categorical columns has no coverage score), each in [0, 1], so the score is in [0, 1].

Warnings: (1) a generation fitted on more synthetic than real rows with no fresh real data (recursive
training; it also sets the `lineage` gate to 0); (2) collapse in progress: tail health fell by more than
`min_drop` in each of two consecutive cycles AND ended more than `min_drop` below the chain's first
generation. The last condition keeps sampling noise out: a chain fed fresh real data wanders around
its first generation's score (a heavy-tailed column's variance alone moves it by several points),
and giving back an earlier lucky gain is not a collapse.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from core.checks.drift import SKIPPED_SDTYPES, _jsonable, comparable_values
from core.errors import InputError, PolicyError, UsageError
from core.data.metadata import Metadata, coerce_to_metadata

NUMERIC_SDTYPES = ("numerical", "datetime")


@dataclass
class GenerationLink:
    """One generation: what it was fitted on (row counts of the training mix) and the table it produced."""

    generation_id: str
    parent_id: str | None
    n_real_rows: int  # real rows in the training mix, fresh ones included
    n_synthetic_rows: int  # synthetic rows (from earlier generations) in the training mix
    n_fresh_real_rows: int  # real rows added this cycle that no earlier generation was fitted on
    synthetic: pd.DataFrame


@dataclass(frozen=True)
class LineagePolicy:
    """Thresholds of the lineage checks."""

    rare_share: float = 0.05  # an original category with a smaller share is "rare"...
    min_rare_rows: int = 5  # ...if it has at least this many rows (a sampler of the same size keeps it >99%)
    tail_quantile: float = 0.01  # tails are beyond the original's q and 1 - q quantiles
    min_drop: float = 0.01  # a tail-health fall smaller than this is noise, not a fall

    def __post_init__(self) -> None:
        if not 0.0 < self.rare_share < 1.0:
            raise PolicyError(f"lineage policy 'rare_share' must be in (0, 1), got {self.rare_share}")
        if not 0.0 < self.tail_quantile < 0.5:
            raise PolicyError(f"lineage policy 'tail_quantile' must be in (0, 0.5), got {self.tail_quantile}")
        if self.min_rare_rows < 1:
            raise PolicyError(f"lineage policy 'min_rare_rows' must be >= 1, got {self.min_rare_rows}")
        if self.min_drop < 0:
            raise PolicyError(f"lineage policy 'min_drop' must be >= 0, got {self.min_drop}")


@dataclass
class ColumnTail:
    """One column of one generation against the original: the tail values compared and their ratios."""

    column: str
    sdtype: str
    distinct_original: int
    distinct_synthetic: int
    distinct_ratio: float
    rare_categories: list[str] = field(default_factory=list)  # categorical only
    rare_present: list[str] = field(default_factory=list)
    low_quantile_original: float | None = None  # numerical only (datetimes in seconds since 1970)
    high_quantile_original: float | None = None
    low_quantile_synthetic: float | None = None
    high_quantile_synthetic: float | None = None
    quantile_range_ratio: float | None = None  # (high - low) synthetic over original
    tail_mass_original: float | None = None  # share strictly beyond the original's quantiles
    tail_mass_synthetic: float | None = None
    tail_mass_ratio: float | None = None
    variance_original: float | None = None
    variance_synthetic: float | None = None
    variance_ratio: float | None = None


@dataclass
class CycleHealth:
    """One cycle of the chain: its training mix and its tail health against the original real data."""

    cycle: int  # 1-based position in the chain
    generation_id: str
    parent_id: str | None
    n_real_rows: int
    n_synthetic_rows: int
    n_fresh_real_rows: int
    synthetic_share: float  # of the training mix
    rare_category_coverage: float | None
    tail_mass_score: float | None
    variance_score: float | None
    distinct_score: float | None
    tail_health_score: float
    columns: dict[str, ColumnTail]
    warnings: list[str]


@dataclass
class LineageResult:
    """A chain's cycles in order, the warnings raised on it, and what was left out."""

    cycles: list[CycleHealth]
    warnings: list[str]
    skipped: dict[str, str]
    policy: LineagePolicy = field(default_factory=LineagePolicy)

    @property
    def recursive_training(self) -> bool:
        """True when some generation was fitted on more synthetic than real rows with no fresh real data."""
        return any(_is_recursive(c) for c in self.cycles)

    @property
    def collapse_in_progress(self) -> bool:
        """True when tail health fell for two cycles in a row somewhere in the chain."""
        return any("collapse" in w for w in self.warnings)

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN -> None)."""
        return _jsonable({
            "cycles": [asdict(c) for c in self.cycles],
            "warnings": self.warnings,
            "recursive_training": self.recursive_training,
            "collapse_in_progress": self.collapse_in_progress,
            "gate_value": lineage_gate_value(self),
            "skipped": self.skipped,
            "policy": asdict(self.policy),
        })


def lineage_report(
    original_real: pd.DataFrame,
    generations: list[GenerationLink],
    metadata: Metadata,
    policy: LineagePolicy | None = None,
) -> LineageResult:
    """Per cycle: synthetic share of the training mix, fresh real rows, and tail health against the original."""
    policy = policy or LineagePolicy()
    check_chain(generations)
    columns = {c: s for c, s in metadata.items() if s not in SKIPPED_SDTYPES}
    skipped = {c: f"sdtype '{s}' is not compared" for c, s in metadata.items() if s in SKIPPED_SDTYPES}
    for column in columns:
        if column not in original_real.columns:
            raise InputError("metadata names a column the original real table does not have", column=column)
    original = _comparable(coerce_to_metadata(original_real, columns, "original real"), columns)
    reference = {c: _reference_profile(original[c], s, policy) for c, s in columns.items()}

    cycles: list[CycleHealth] = []
    all_warnings: list[str] = []
    for position, link in enumerate(generations, start=1):
        missing = [c for c in columns if c not in link.synthetic.columns]
        if missing:
            raise InputError(f"synthetic table lacks column(s) {', '.join(map(repr, missing))}",
                             path=f"generation {link.generation_id}")
        synthetic = _comparable(coerce_to_metadata(link.synthetic, columns, f"generation {link.generation_id}"), columns)
        tails = {c: _column_tail(c, s, reference[c], synthetic[c]) for c, s in columns.items()}
        cycle = _cycle_health(position, link, tails)
        if _is_recursive(cycle):
            cycle.warnings.append(
                f"generation {link.generation_id} was fitted on {link.n_synthetic_rows} synthetic and "
                f"{link.n_real_rows} real rows with no fresh real data: recursive training"
            )
        if len(cycles) >= 2:
            a, b, c = cycles[-2].tail_health_score, cycles[-1].tail_health_score, cycle.tail_health_score
            baseline = cycles[0].tail_health_score
            if a - b > policy.min_drop and b - c > policy.min_drop and baseline - c > policy.min_drop:
                cycle.warnings.append(
                    f"tail health fell two cycles in a row ({a:.3f} -> {b:.3f} -> {c:.3f}) up to generation "
                    f"{link.generation_id}: collapse in progress"
                )
        all_warnings.extend(cycle.warnings)
        cycles.append(cycle)
    return LineageResult(cycles=cycles, warnings=all_warnings, skipped=skipped, policy=policy)


def lineage_gate_value(result: LineageResult) -> float:
    """Value of the `lineage` gate: the latest generation's tail-health score, 0.0 if the rule was broken."""
    if not result.cycles or result.recursive_training:
        return 0.0
    return result.cycles[-1].tail_health_score


# --- internals -----------------------------------------------------------------------------------------------


def _is_recursive(cycle: CycleHealth) -> bool:
    return cycle.n_synthetic_rows > cycle.n_real_rows and cycle.n_fresh_real_rows == 0


def check_chain(generations: list[GenerationLink]) -> None:
    """Raise UsageError unless ids are unique, parents come earlier, and row counts make sense."""
    if not generations:
        raise UsageError("a lineage needs at least one generation")
    seen: set[str] = set()
    for link in generations:
        gid = link.generation_id
        if gid in seen:
            raise UsageError(f"generation id '{gid}' appears twice")
        if link.parent_id is not None and link.parent_id not in seen:
            raise UsageError(f"generation '{gid}' names parent '{link.parent_id}', which is not an earlier generation")
        counts = (link.n_real_rows, link.n_synthetic_rows, link.n_fresh_real_rows)
        if min(counts) < 0 or link.n_real_rows + link.n_synthetic_rows == 0:
            raise UsageError(f"generation '{gid}' has row counts {counts}; they must be >= 0 and not all 0")
        if link.n_fresh_real_rows > link.n_real_rows:
            raise UsageError(f"generation '{gid}' adds {link.n_fresh_real_rows} fresh real rows but was fitted on "
                             f"only {link.n_real_rows} real rows")
        seen.add(gid)


def _comparable(frame: pd.DataFrame, columns: Metadata) -> dict[str, pd.Series]:
    return {c: comparable_values(frame[c], s).dropna() for c, s in columns.items()}


def _reference_profile(values: pd.Series, sdtype: str, policy: LineagePolicy) -> dict:
    """What the original holds in its tails: rare categories or extreme quantiles, variance, distinct count."""
    profile = {"distinct": int(values.nunique())}
    if sdtype in NUMERIC_SDTYPES:
        v = values.to_numpy(float)
        if len(v):
            low, high = np.quantile(v, [policy.tail_quantile, 1 - policy.tail_quantile])
            profile.update(q=policy.tail_quantile, low=float(low), high=float(high), mass=float(np.mean((v < low) | (v > high))),
                           variance=float(np.var(v)))
    else:
        counts = values.value_counts()
        rare = (counts < policy.rare_share * len(values)) & (counts >= policy.min_rare_rows)
        profile["rare"] = [str(k) for k in counts.index[rare]]
    return profile


def _column_tail(column: str, sdtype: str, original: dict, values: pd.Series) -> ColumnTail:
    distinct = int(values.nunique())
    tail = ColumnTail(
        column=column, sdtype=sdtype, distinct_original=original["distinct"], distinct_synthetic=distinct,
        distinct_ratio=distinct / original["distinct"] if original["distinct"] else float("nan"),
    )
    if sdtype not in NUMERIC_SDTYPES:
        present = set(values.unique())
        tail.rare_categories = original["rare"]
        tail.rare_present = [k for k in original["rare"] if k in present]
        return tail
    if "low" not in original:
        return tail
    v = values.to_numpy(float)
    low, high = original["low"], original["high"]
    tail.low_quantile_original, tail.high_quantile_original = low, high
    tail.tail_mass_original, tail.variance_original = original["mass"], original["variance"]
    if len(v) == 0:
        return tail
    s_low, s_high = np.quantile(v, [original["q"], 1 - original["q"]])
    tail.low_quantile_synthetic, tail.high_quantile_synthetic = float(s_low), float(s_high)
    if high > low:
        tail.quantile_range_ratio = float((s_high - s_low) / (high - low))
    tail.tail_mass_synthetic = float(np.mean((v < low) | (v > high)))
    if original["mass"] > 0:
        tail.tail_mass_ratio = tail.tail_mass_synthetic / original["mass"]
    tail.variance_synthetic = float(np.var(v))
    if original["variance"] > 0:
        tail.variance_ratio = tail.variance_synthetic / original["variance"]
    return tail


def _cycle_health(position: int, link: GenerationLink, tails: dict[str, ColumnTail]) -> CycleHealth:
    total = link.n_real_rows + link.n_synthetic_rows
    rare = sum(len(t.rare_categories) for t in tails.values())
    coverage = sum(len(t.rare_present) for t in tails.values()) / rare if rare else None
    mass = [min(1.0, t.tail_mass_ratio) for t in tails.values() if t.tail_mass_ratio is not None]
    var = [min(t.variance_ratio, 1 / t.variance_ratio) if t.variance_ratio > 0 else 0.0
           for t in tails.values() if t.variance_ratio is not None]
    distinct = [min(1.0, t.distinct_ratio) for t in tails.values() if not math.isnan(t.distinct_ratio)]
    components = {
        "rare_category_coverage": coverage,
        "tail_mass_score": float(np.mean(mass)) if mass else None,
        "variance_score": float(np.mean(var)) if var else None,
        "distinct_score": float(np.mean(distinct)) if distinct else None,
    }
    known = [v for v in components.values() if v is not None]
    return CycleHealth(
        cycle=position, generation_id=link.generation_id, parent_id=link.parent_id,
        n_real_rows=link.n_real_rows, n_synthetic_rows=link.n_synthetic_rows,
        n_fresh_real_rows=link.n_fresh_real_rows, synthetic_share=link.n_synthetic_rows / total,
        tail_health_score=float(np.mean(known)) if known else 1.0, columns=tails, warnings=[], **components,
    )


def lineage_gate(result: LineageResult, policy=None):
    """The `lineage` gate (core.policy.Gate): lineage_gate_value against the policy's [gates.lineage] threshold
    (the registry's default when no policy is given); passes when value >= threshold."""
    from core.gates import Gate, spec

    default = spec("lineage").threshold
    threshold = default if policy is None else policy.gate("lineage", default=default)
    value = lineage_gate_value(result)
    if result.recursive_training:
        detail = "recursive training without fresh real data: the gate fails whatever the tail health"
    else:
        detail = f"latest tail-health score {value:.3f} of the original's tails"
    if result.collapse_in_progress:
        detail += "; collapse in progress"
    return Gate("lineage", value, threshold, bool(value >= threshold), detail)
