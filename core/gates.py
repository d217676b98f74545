"""The gate registry: every gate's name, meaning, direction, defaults and null, declared once.

Policy defaults, the report, the CLI and every page read this module; no threshold constant lives anywhere
else. A gate is judged by comparing its statistic with the *measured* distribution of the same statistic on
real-vs-real resamples of the synthetic table's size (its null): the floor (or ceiling) is the null's
quantile at the policy's false-alarm rate, Bonferroni-corrected for the number of items the gate judges
(one test per column, pair or triple, so the gate as a whole keeps the nominal rate). Fidelity and validity
nulls are drawn from the pooled real rows (the training rows alone when there is no holdout; see
core/stats/null.py). Where the real data is too small to resample (fewer than `min_real_rows`), they use a
stated analytic bound (core.stats.null.analytic_*); a gate with neither falls back to its fixed threshold.
Each says which in its detail.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Direction = Literal["min", "max"]


@dataclass(frozen=True)
class GateSpec:
    """One gate's declaration: what it measures, which way passes, its defaults and how its null is drawn."""

    name: str
    family: str  # fidelity | validity | privacy | utility | structure | relational | lineage
    measures: str  # what fails it, in the contract's words
    direction: Direction  # "min": passes when value >= floor; "max": passes when value <= ceiling
    threshold: float  # fixed threshold used only when no null can be drawn
    statistic: str  # "module:function" computing the gate's statistic (resolved lazily; see tests)
    null: str  # how the real-vs-real null is drawn
    tolerance: float = 0.0  # extra allowance beyond the null's quantile (policy-settable, default 0)
    unit: str = "score"  # score | share | auc | ratio | epsilon


REGISTRY: dict[str, GateSpec] = {spec.name: spec for spec in (
    GateSpec("column_shapes", "fidelity",
             "a column whose marginal drifts too far from the real one", "min", 0.80,
             "core.checks.fidelity:evaluate_fidelity",
             "per column: KS/TV complement of real-vs-real resamples of the synthetic size drawn from the "
             "pooled real rows (train + holdout), computed from counts and sorted values"),
    GateSpec("column_pair_trends", "fidelity",
             "a pair whose association in the real data is lost or changed in the synthetic data", "min", 0.80,
             "core.checks.fidelity:evaluate_fidelity",
             "per pair: correlation/contingency similarity of real-vs-real resamples of the synthetic size"),
    GateSpec("validity", "validity",
             "synthetic values outside the real range, or categories the real data never had", "max", 0.01,
             "core.checks.validity:evaluate_validity",
             "per column: out-of-range and unseen-category share of real resamples of the synthetic size "
             "against the training rows", unit="share"),
    GateSpec("coverage", "validity",
             "real categories or value ranges missing from the synthetic data (collapsed tails)", "min", 1.0,
             "core.checks.validity:evaluate_validity",
             "per category and tail: whether a real resample of the synthetic size contains it; only items "
             "every resample (at the false-alarm rate) contains are judged", unit="share"),
    GateSpec("exact_copies", "privacy",
             "synthetic rows identical to real training rows, beyond the holdout's own rate", "max", 0.01,
             "core.checks.privacy:evaluate_privacy",
             "share of holdout rows identical to a training row that is unique in train and absent from "
             "the holdout's own duplicates (natural duplicates excluded on both sides), with its binomial "
             "spread at the synthetic size", unit="share"),
    GateSpec("distance_to_closest_record", "privacy",
             "synthetic rows closer to the training rows than holdout rows are", "max", 0.08,
             "core.checks.privacy:evaluate_privacy",
             "share of holdout rows closer to train than the holdout's own 5% DCR quantile, resampled at "
             "the synthetic size", unit="share"),
    GateSpec("membership_inference", "privacy",
             "an attacker can tell training rows from holdout rows using the synthetic data", "max", 0.60,
             "core.checks.privacy:evaluate_privacy",
             "distance attack AUC with the holdout posing as the synthetic table (0.5 plus its spread, at least a "
             "chance classifier's)",
             unit="auc"),
    GateSpec("utility", "utility",
             "a model trained on synthetic data does clearly worse on the holdout than one trained on real data",
             "min", 0.90, "core.checks.utility:evaluate_utility",
             "TRTR trained on real samples of the synthetic training size, its spread over resamples; a target "
             "with no real skill above chance is not judgeable", unit="ratio"),
    GateSpec("detection", "structure",
             "a classifier tells synthetic rows from real ones better than it tells two real samples apart",
             "max", 0.60, "core.checks.structure:evaluate_detection",
             "classifier AUC on real vs a real resample of the synthetic size", unit="auc"),
    GateSpec("three_way_trends", "structure",
             "a three-column distribution the real data has is lost, though every pair may look right", "min",
             0.80, "core.checks.structure:evaluate_three_way",
             "per triple: 1 - TV of binned three-way distributions of real resamples of the synthetic size"),
    GateSpec("missing_values", "structure",
             "missing shares or missingness patterns (which columns are missing together, and when) differ",
             "min", 0.90, "core.checks.structure:evaluate_missing_values",
             "per column, pair and column-by-bin: missingness similarity of a reference of the training size and a "
             "sample of the synthetic size, both drawn from the pooled real rows (train + holdout) cell counts; an "
             "item beyond every resample is judged on more of them, until the Bonferroni level is resolved"),
    GateSpec("constraints", "structure",
             "synthetic rows break rules every real row keeps (inferred or declared)", "max", 0.01,
             "core.checks.structure:evaluate_constraints",
             "share of holdout rows breaking the rules inferred from train, at the synthetic size", unit="share"),
    GateSpec("pii_replay", "structure",
             "values of id, text or high-cardinality columns replayed verbatim from training rows, beyond the "
             "holdout's rate", "max", 0.01, "core.checks.structure:evaluate_pii_replay",
             "holdout's own verbatim overlap with train, with its binomial spread at the synthetic size",
             unit="share"),
    GateSpec("referential_integrity", "relational",
             "orphan foreign keys, duplicate or missing primary keys (relational data)", "max", 0.0,
             "core.checks.relational:evaluate_relational",
             "orphan share of real child rows grouped by foreign key, resampled at the synthetic child table's "
             "size (the real data's own rate; 0 when it has none); key duplicates and nulls: the real rate",
             unit="share"),
    GateSpec("cardinality", "relational",
             "the number of children per parent differs from the real data's", "min", 0.80,
             "core.checks.relational:evaluate_relational",
             "cardinality shape similarity of real parent resamples (n reference vs m = synthetic parents), "
             "each parent with all its children"),
    GateSpec("intertable_trends", "relational",
             "associations between a parent's columns and its children's columns are lost", "min", 0.80,
             "core.checks.relational:evaluate_relational",
             "per parent/child column pair: similarity over the join of real parent resamples (each parent with "
             "its children) at the synthetic parent table's size"),
    GateSpec("sequence_trends", "relational",
             "sequence lengths, lagged relations or transitions differ (sequential data)", "min", 0.80,
             "core.checks.sequence:evaluate_sequences",
             "per statistic (length, per-step marginal, lag-1 autocorrelation, transitions): its score on whole "
             "real sequences (training + holdout) resampled at the synthetic table's number of sequences"),
    GateSpec("empirical_epsilon", "privacy",
             "the membership attack's lower confidence bound on epsilon exceeds the claimed epsilon", "max",
             math.inf, "core.checks.dp:audit_membership",
             "the claimed epsilon of the generation's manifest (informative only without a claim)",
             unit="epsilon"),
    GateSpec("lineage", "lineage",
             "a generation trained mostly on synthetic data, or whose tails are collapsing across cycles", "min",
             0.80, "core.checks.lineage:lineage_gate_value",
             "none: judged on the stored chain's training mix and tail health"),
)}

# Calibration settings every null-judged gate shares; the policy's [calibration] section overrides them.
CALIBRATION_DEFAULTS: dict[str, float | int] = {
    "false_alarm_rate": 0.01,  # per gate, after the Bonferroni correction over the items it judges
    "resamples": 200,  # real-vs-real resamples drawn per statistic
    "seed": 0,
    "min_real_rows": 40,  # below this the real data is too small to resample: the fixed threshold applies
}


def spec(name: str) -> GateSpec:
    """The registered gate `name` (KeyError names the known gates)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a registered gate; known: {', '.join(REGISTRY)}") from None


def direction(name: str) -> Direction:
    """Which way gate `name` passes."""
    return spec(name).direction


def rule_text(name: str, threshold: float | None) -> str:
    """'at least 0.8000' or 'at most 0.0100': how a page states a gate's rule."""
    if threshold is None or not math.isfinite(float(threshold)):
        return "informative"
    return ("at least " if direction(name) == "min" else "at most ") + f"{float(threshold):.4f}"


@dataclass
class Gate:
    """One judged gate: its value, the threshold it met or missed, and the null it was judged against."""

    name: str
    value: float
    threshold: float
    passed: bool
    detail: str
    null_median: float | None = None  # median of the statistic on real-vs-real resamples
    floor: float | None = None  # the null quantile judged against (a ceiling for "max" gates)
    tail_probability: float | None = None  # share of the null at least as extreme as the value
    judgeable: bool = True  # False: a stated skip (e.g. no real skill above chance); never a failure
    items: list[dict] = field(default_factory=list)  # per column / pair / triple judgements

    @property
    def direction(self) -> Direction:
        """The registry's direction for this gate."""
        return direction(self.name)

    def to_dict(self) -> dict:
        """The contract's gate record (non-finite numbers as null), with the null's fields (additions)."""
        out = {"name": self.name, "value": _number(self.value), "threshold": _number(self.threshold),
               "passed": self.passed, "detail": self.detail, "direction": self.direction,
               "null_median": _number(self.null_median), "floor": _number(self.floor),
               "tail_probability": _number(self.tail_probability)}
        if not self.judgeable:
            out["judgeable"] = False
        return out


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Judgement:
    """One statistic judged against its null: the bound it had to meet and how unusual it is."""

    value: float
    null_median: float | None
    bound: float  # floor for "min" gates, ceiling for "max" gates
    tail_probability: float | None
    passed: bool
    source: str  # "null" (measured) or "threshold" (fixed fallback) or "analytic"


def gate_label(record) -> str:
    """How a report's gate record is named where gates must be told apart: its name, prefixed by the table or
    relationship it belongs to in a relational report ("planes: column_shapes"); waivers use this label."""
    where = record.get("table") or record.get("relationship")
    return f"{where}: {record['name']}" if where else str(record["name"])


def judge(name: str, value: float, null: np.ndarray | None, *, alpha: float, tests: int = 1,
          tolerance: float = 0.0, fallback: float | None = None, min_sd: float = 0.0) -> Judgement:
    """Judge `value` of gate `name` against its measured `null`, at false-alarm rate alpha/tests (Bonferroni).

    With no usable null, the gate's fixed threshold (or `fallback`) applies and the judgement says so.
    `min_sd`: a known lower bound on the statistic's spread between independent draws; the bound is then at
    least the null's median plus z(level) x min_sd in the failing direction, and the tail probability at least
    that normal tail (a null resampled from one finite set of real rows can spread less than fresh draws do).
    """
    dirn = direction(name)
    if not math.isfinite(value):
        return Judgement(value, None, float("nan"), None, True, "skipped")
    null = None if null is None else np.asarray(null, dtype=float)
    if null is not None:
        null = null[np.isfinite(null)]
    if null is None or null.size < 5:
        bound = spec(name).threshold if fallback is None else float(fallback)
        passed = value >= bound if dirn == "min" else value <= bound
        return Judgement(value, None, bound, None, bool(passed), "threshold")
    level = min(max(alpha / max(tests, 1), 1e-12), 0.5)
    bound = null_bound(null, level, dirn)
    median = float(np.median(null))
    if dirn == "min":
        tail = (np.count_nonzero(null <= value) + 1) / (null.size + 1)
    else:
        tail = (np.count_nonzero(null >= value) + 1) / (null.size + 1)
    if min_sd > 0:
        from scipy.special import ndtr, ndtri

        sign = -1.0 if dirn == "min" else 1.0
        floor = median + sign * float(ndtri(1.0 - level)) * min_sd
        bound = min(bound, floor) if dirn == "min" else max(bound, floor)
        tail = max(tail, float(ndtr(-sign * (value - median) / min_sd)))
    if dirn == "min":
        bound -= tolerance
        passed = value >= bound
    else:
        bound += tolerance
        passed = value <= bound
    return Judgement(value, median, bound, float(min(tail, 1.0)), bool(passed), "null")


def prediction_judgement(name: str, value: float, null: np.ndarray, *, alpha: float, min_sd: float = 0.0) -> Judgement:
    """Judge `value` against a few costly null draws (independent real-vs-real repeats, e.g. model fits) by a
    Student-t prediction bound: mean + t(1 - alpha; k - 1) x sqrt(1 + 1/k) x sd for a "max" gate (mirrored for
    "min"), the sd floored at `min_sd` (a known lower bound on the statistic's spread). With k draws the
    empirical quantile cannot resolve alpha and a normal bound on their sd leaks (the sd is itself estimated),
    which the t quantile and the sqrt(1 + 1/k) term for the new draw account for. Tail probability: the same
    t distribution's tail at `value`."""
    from scipy.stats import t as student

    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    if not math.isfinite(value) or null.size < 3:
        return judge(name, value, null, alpha=alpha)
    k = null.size
    scale = max(float(np.std(null, ddof=1)), float(min_sd)) * math.sqrt(1.0 + 1.0 / k)
    mean = float(null.mean())
    sign = 1.0 if direction(name) == "max" else -1.0
    bound = mean + sign * float(student.ppf(1.0 - alpha, k - 1)) * scale
    excess = sign * (value - mean) / scale if scale > 0 else (0.0 if value == mean else math.inf)
    tail = float(student.sf(excess, k - 1))
    passed = value <= bound if sign > 0 else value >= bound
    return Judgement(value, float(np.median(null)), bound, tail, bool(passed), "null")


def null_bound(null: np.ndarray, level: float, dirn: Direction) -> float:
    """The null's `level` quantile in the failing direction (lower for "min", upper for "max").

    When level x resamples < 1 (a Bonferroni level finer than the resamples resolve), the empirical
    extreme understates the tail, so the bound is the most lenient of that extreme, a normal tail
    (mean + z(level) x sd) and, for statistics on [0, 1], a gamma tail fitted by moments to the distance
    from the perfect value (1 - score, or the share itself): KS and TV distances are right-skewed, and a
    normal fit puts their 1e-4 quantile too close (Kolmogorov's: 1.84 instead of 2.23; the gamma: 2.18).
    """
    # scipy.special's ndtri and gammaincinv are what norm.ppf and gamma.ppf evaluate, without the
    # distribution objects' per-call overhead (about 1 ms, paid for every column and pair judged).
    from scipy.special import gammaincinv, ndtri

    null = np.sort(np.asarray(null, dtype=float))
    q = level if dirn == "min" else 1.0 - level
    empirical = float(np.quantile(null, q, method="lower" if dirn == "min" else "higher"))
    if level * null.size >= 1.0:
        return empirical
    sd = float(np.std(null, ddof=1))
    candidates = [empirical, float(np.mean(null) + ndtri(q) * sd)]
    if null[0] >= 0.0 and null[-1] <= 1.0 and sd > 0:
        distance = 1.0 - null if dirn == "min" else null
        mean = float(distance.mean())
        if mean > 0:
            tail = float(gammaincinv((mean / sd) ** 2, 1.0 - level) * (sd * sd / mean))
            candidates.append(1.0 - tail if dirn == "min" else tail)
    return min(candidates) if dirn == "min" else max(candidates)
