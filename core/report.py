"""The review report: runs every family of checks, applies the policy's gates, and renders the contract JSON."""
from __future__ import annotations

import math

import numpy as np
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable

from core import __version__
from core.data.encoding import EncodedTables, encode_tables
from core.checks.fidelity import FidelityResult, evaluate_fidelity
from core.data.io import PreparedInputs
from core.gates import Gate, Judgement, judge
from core.stats import null as nulls
from core.stats.null import NullSettings
from core.policy import Policy, load_policy
from core.checks.privacy import PrivacyResult, evaluate_privacy, privacy_gate_values
from core.checks.utility import UtilityResult, evaluate_utility, utility_gate_record
from core.checks.validity import ValidityResult, evaluate_validity
from core.checks.structure import STRUCTURE_GATES, StructureResult, evaluate_structure

SCHEMA_VERSION = 1
PRIVACY_GATES = ("exact_copies", "distance_to_closest_record", "membership_inference")

Progress = Callable[[float, str], None]


@dataclass
class Evaluation:
    """Everything a review shows: inputs, fidelity, validity, gates and the verdict."""

    inputs: PreparedInputs
    policy: Policy
    fidelity: FidelityResult
    validity: ValidityResult
    gates: list[Gate]
    floors: dict[str, float] = field(default_factory=dict)  # "column" or "a / b" -> the score floor it had
    sections: dict[str, dict] = field(default_factory=dict)  # later families: privacy, utility
    privacy: PrivacyResult | None = None
    utility: UtilityResult | None = None
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def verdict(self) -> str:
        """'pass' when every gate passed, else 'fail'."""
        return "pass" if all(g.passed for g in self.gates) else "fail"

    def to_dict(self) -> dict:
        """The JSON report of ../shared/contract/report.md."""
        fidelity = self.fidelity
        verdicts = self._item_verdicts()
        columns = {
            c.column: {"metric": c.metric, "score": _num(c.score), "expected": _num(c.expected),
                       "floor": _num(self.floors.get(c.column)), "real": _num(c.real),
                       "synthetic": _num(c.synthetic), "at": c.at, "null_median": _num(c.null_median),
                       "tail_probability": _num(c.tail_probability), **verdicts.get(("column_shapes", c.column), {})}
            for c in fidelity.column_shapes
        }
        pairs = [
            {"columns": list(p.columns), "metric": p.metric, "score": _num(p.score), "real": _num(p.real),
             "synthetic": _num(p.synthetic), "expected": _num(p.expected),
             "floor": _num(self.floors.get(" / ".join(p.columns))), "null_median": _num(p.null_median),
             "tail_probability": _num(p.tail_probability),
             **verdicts.get(("column_pair_trends", " / ".join(p.columns)), {})}
            for p in fidelity.pair_trends
        ]
        report = {
            "schema_version": SCHEMA_VERSION,
            "tool_version": __version__,
            "created_at": self.created_at,
            "inputs": self.inputs.identities(),
            "metadata": {name: {"sdtype": sdtype} for name, sdtype in self.inputs.metadata.items()},
            "fidelity": {
                "score": _num(fidelity.score),
                "column_shapes": {"score": _num(fidelity.column_shapes_score), "columns": columns},
                "column_pair_trends": {"score": _num(fidelity.column_pair_trends_score), "pairs": pairs},
                "skipped": [{"item": s.item, "reason": s.reason} for s in fidelity.skipped],
            },
            "validity": {
                "columns": {name: {**_clean(v.to_dict()), **verdicts.get(("validity", name), {})}
                            for name, v in self.validity.columns.items()},
                "baseline": {name: _clean(v.to_dict()) for name, v in self.validity.baseline.items()} or None,
                "duplicate_rows_share_synthetic": self.validity.duplicate_rows_share_synthetic,
                "duplicate_rows_share_real": self.validity.duplicate_rows_share_real,
            },
            "warnings": list(self.inputs.warnings),
            "policy": {"sources": self.policy.sources},
        }
        report.update(self.sections)
        report["gates"] = [g.to_dict() for g in self.gates]
        report["verdict"] = self.verdict
        return report


    def _item_verdicts(self) -> dict[tuple[str, str], dict]:
        """(gate, item) -> {"passed", "judged_by"}: each column's and pair's own verdict in its gate (additions;
        a pair below its floor may pass on its Spearman null, which "judged_by" says)."""
        return {(gate.name, item["item"]): {"passed": bool(item["passed"]), "judged_by": item.get("source")}
                for gate in self.gates for item in gate.items if "item" in item and "passed" in item}


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _clean(record: dict) -> dict:
    return {k: (_num(v) if isinstance(v, float) else v) for k, v in record.items()}


def null_settings(policy: Policy, seed: int | None = None) -> NullSettings:
    """The policy's [calibration] and [fidelity] settings as the nulls' settings (`seed` overrides)."""
    binning = str(policy.sections.get("fidelity", {}).get("pair_binning", "shared"))
    return NullSettings(resamples=int(policy.calibration("resamples")),
                        seed=int(policy.calibration("seed") if seed is None else seed),
                        min_real_rows=int(policy.calibration("min_real_rows")),
                        false_alarm_rate=float(policy.calibration("false_alarm_rate")), pair_binning=binning)


def _judge_item(name: str, value: float, null, analytic: float | None, policy: Policy, tests: int) -> Judgement:
    """One score against its measured null, or (real data too small to resample) against `analytic`."""
    alpha = float(policy.calibration("false_alarm_rate"))
    tolerance = policy.gate(name, "tolerance", 0.0)
    verdict = judge(name, value, null, alpha=alpha, tests=tests, tolerance=tolerance, fallback=analytic)
    if verdict.source == "threshold" and analytic is not None:
        verdict = replace(verdict, source="analytic")
    return verdict


def _summarise(name: str, judged: list[tuple[str, Judgement]], what: str, resamples: int, alpha: float) -> Gate:
    """A gate over per-item judgements: its value and bound are the item closest to (or furthest past) failing."""
    dirn = "min" if name != "validity" else "max"
    margin = (lambda j: j.value - j.bound) if dirn == "min" else (lambda j: j.bound - j.value)
    judged = sorted(judged, key=lambda item: margin(item[1]))
    label, worst = judged[0]
    failing = [(l, j) for l, j in judged if not j.passed]
    sign = "<" if dirn == "min" else ">"
    sources = {j.source for _, j in judged}
    how = (f"each against {resamples} real-vs-real resamples of the synthetic size at {alpha:g}/{len(judged)} "
           "(Bonferroni)") if any(x.startswith("null") for x in sources) else "no null could be drawn"
    if "null (Spearman within its null)" in sources:
        how += "; numeric pairs whose Pearson r moved but whose Spearman rank correlation stayed within its null pass"
    if "analytic" in sources:
        how += "; real data too small to resample for some: analytic bound (core/stats/null.analytic_*)"
    if "threshold" in sources:
        how += "; no null: fixed threshold"
    null_text = lambda j: f", a real sample scores {j.null_median:.3f}" if j.null_median is not None else ""
    if failing:
        worst_text = "; ".join(f"{l} {j.value:.4f} {sign} {j.bound:.4f}{null_text(j)}" for l, j in failing[:5])
        detail = f"{len(failing)} of {len(judged)} {what} past their bound: {worst_text} ({how})"
    else:
        detail = (f"all {len(judged)} {what} within their bound; closest: {label} {worst.value:.4f} "
                  f"(bound {worst.bound:.4f}{null_text(worst)}) ({how})")
    items = [{"item": l, "value": j.value, "null_median": j.null_median, "floor": j.bound,
              "tail_probability": j.tail_probability, "passed": j.passed, "source": j.source} for l, j in judged]
    return Gate(name, worst.value, worst.bound, not failing, detail, null_median=worst.null_median,
                floor=worst.bound, tail_probability=worst.tail_probability, items=items)


def _score_gate(name: str, scored: list, labels: list[str], kinds: list[str], policy: Policy,
                floors: dict[str, float]) -> Gate | None:
    """A min-score gate over column shapes or pair trends, each judged against its own null."""
    if not scored:
        return None
    alpha = float(policy.calibration("false_alarm_rate"))
    level = alpha / len(scored)
    judged = []
    for item, label, kind in zip(scored, labels, kinds):
        n, m, cells = item.sizes
        analytic = None if item.null is not None else 1.0 - nulls.analytic_distance(kind, n, m, cells, level)
        verdict = _judge_item(name, item.score, item.null, analytic, policy, len(scored))
        rank_score = getattr(item, "rank_score", None)
        if not verdict.passed and rank_score is not None and np.isfinite(rank_score):
            # Pearson's r is moved by a few extreme values; the pair fails only if its rank correlation also moved.
            rank = _judge_item(name, rank_score, item.rank_null, None, policy, len(scored))
            if rank.passed and rank.source == "null":
                verdict = replace(verdict, passed=True, source="null (Spearman within its null)")
        item.null_median, item.floor, item.tail_probability = verdict.null_median, verdict.bound, verdict.tail_probability
        floors[label] = verdict.bound
        judged.append((label, verdict))
    return _summarise(name, judged, "columns" if name == "column_shapes" else "pairs",
                      int(policy.calibration("resamples")), alpha)


def apply_gates(fidelity: FidelityResult, validity: ValidityResult, inputs: PreparedInputs,
                policy: Policy) -> tuple[list[Gate], dict[str, float]]:
    """Judge fidelity and validity against their real-vs-real nulls; gates that do not apply are left out."""
    floors: dict[str, float] = {}
    shapes = fidelity.column_shapes
    pairs = fidelity.pair_trends
    gates = [
        _score_gate("column_shapes", shapes, [c.column for c in shapes],
                    ["ks" if c.metric == "KSComplement" else "tv" for c in shapes], policy, floors),
        _score_gate("column_pair_trends", pairs, [" / ".join(p.columns) for p in pairs],
                    ["correlation" if p.metric == "CorrelationSimilarity" else "tv" for p in pairs], policy, floors),
        _validity_gate(validity, policy),
        _coverage_gate(validity, policy),
    ]
    return [g for g in gates if g is not None], floors


def _validity_gate(validity: ValidityResult, policy: Policy) -> Gate | None:
    """The worst column's invalid share against the invalid share real resamples of its size have."""
    if not validity.columns:
        return None
    alpha = float(policy.calibration("false_alarm_rate"))
    tests = len(validity.columns)
    judged = []
    for name, column in validity.columns.items():
        analytic = None if column.null is not None else \
            nulls.analytic_invalid_share(column.chance_invalid_share, column.sample_rows, alpha / tests)
        verdict = _judge_item("validity", column.invalid_share, column.null, analytic, policy, tests)
        if column.null is not None and column.sdtype in ("numerical", "datetime"):
            rank_bound = nulls.out_of_range_rank_bound(column.reference_rows, column.sample_rows, alpha / tests)
            if rank_bound > verdict.bound:
                verdict = replace(verdict, bound=rank_bound, passed=column.invalid_share <= rank_bound)
        column.null_median, column.floor, column.tail_probability = verdict.null_median, verdict.bound, verdict.tail_probability
        judged.append((name, verdict))
    gate = _summarise("validity", judged, "columns", int(policy.calibration("resamples")), alpha)
    bad = [validity.columns[i["item"]] for i in gate.items if not i["passed"]]
    if bad:
        gate.detail = "; ".join(f"{c.column}: {c.out_of_range_share:.1%} out of the real range, "
                                f"{c.unseen_category_share:.1%} unseen categories (a real sample: "
                                f"{(c.null_median or 0.0):.1%}, at most {c.floor:.1%})" for c in bad[:5]) \
            + " -- " + gate.detail
    return gate


def _coverage_gate(validity: ValidityResult, policy: Policy) -> Gate | None:
    """Share of the categories and tails every real sample of this size keeps that the synthetic table kept."""
    expected = kept = 0
    lost = []
    for name, column in validity.columns.items():
        expected += column.expected_categories
        kept += column.expected_categories - len(column.missing_categories)
        if column.missing_categories:
            shown = ", ".join(repr(c) for c in column.missing_categories[:3])
            more = f" and {len(column.missing_categories) - 3} more" if len(column.missing_categories) > 3 else ""
            lost.append(f"{name}: categories {shown}{more} missing")
        expected += len(column.judged_tails)
        kept += len(column.judged_tails) - len(column.collapsed_tails)
        lost.extend(f"{name}: {side} tail collapsed ({column.lower_tail_share if side == 'lower' else column.upper_tail_share:.2%}"
                    f" of rows, a real sample keeps at least {column.tail_floors.get(side, 0)} rows)"
                    for side in column.collapsed_tails)
    if expected == 0:
        return None
    value = kept / expected
    threshold = policy.gate("coverage")
    passed = value >= threshold
    alpha = float(policy.calibration("false_alarm_rate"))
    how = (f"judged: the {expected} categories and tails a real sample of this size misses with probability "
           f"under {alpha:g}/(all categories and tails) (Bonferroni)")
    detail = ("; ".join(lost[:6]) + f" ({how})") if lost else f"all {expected} expected categories and tails present ({how})"
    return Gate("coverage", value, threshold, passed, detail, null_median=1.0, floor=threshold,
                tail_probability=None)


def evaluate(inputs: PreparedInputs, policy: Policy | None = None, progress: Progress | None = None,
             privacy: bool = True, seed: int = 0, target: str | None = None, structure: bool = False,
             manifest: dict | None = None, holdout_groups: np.ndarray | None = None,
             utility_extras: bool = True, encoded: EncodedTables | None = None) -> Evaluation:
    """Run fidelity and validity, privacy (with a holdout) and utility (with a holdout and a target); gate them.

    The tables are encoded once (core.data.encoding.encode_tables; `encoded` when the caller holds the bundle
    of these inputs already) and every family reads that encoding.
    structure=True also runs the structure checks (detection, three-way, missing values, constraints, PII
    replay, PCA; see run_structure): the CLI's default, off here because detection fits 18 models.
    `manifest` (the generation's) supplies the epsilon a DP generation claims for the empirical_epsilon gate.
    `holdout_groups` (per holdout row, its entity: a relational child table's rows of one root entity) makes
    the privacy nulls move whole entities (core.checks.privacy.evaluate_privacy).
    utility_extras=False leaves out the blend sweep and importance agreement (the utility gate needs neither)."""
    policy = policy or load_policy()
    report = progress or (lambda fraction, message: None)
    report(0.02, "Encoding columns")
    encoded = encoded_inputs(inputs, encoded)
    encoded.columns  # noqa: B018 - encoded here, so an encoding failure is reported in this stage
    report(0.1, "Scoring column shapes and pair trends")
    settings = null_settings(policy)
    fidelity = evaluate_fidelity(inputs.frames, inputs.metadata, encoded, pairs=inputs.pairs, settings=settings)
    report(0.3, "Checking validity and coverage")
    validity = evaluate_validity(inputs.frames, inputs.metadata, encoded, settings)
    gates, floors = apply_gates(fidelity, validity, inputs, policy)
    evaluation = Evaluation(inputs, policy, fidelity, validity, gates, floors)
    report(0.35, "Checking privacy against the holdout")  # stage marks: the CLI names the stage that failed
    privacy_result = run_privacy(inputs, seed, lambda f, m: report(0.35 + 0.3 * f, m), policy=policy,
                                 holdout_groups=holdout_groups, encoded=encoded) if privacy else None
    audit = None
    if privacy_result is not None:  # a privacy check: run in the privacy stage, attached after utility
        report(0.65, "Auditing the empirical epsilon")
        audit = run_epsilon_audit(inputs, manifest, seed, encoded=encoded)
    report(0.7, "Scoring utility on the holdout")
    utility_result = run_utility(inputs, policy, target, seed, lambda f, m: report(0.7 + 0.2 * f, m),
                                 extras=utility_extras, encoded=encoded)
    evaluation = with_results(evaluation, privacy_result, utility_result, target)
    if privacy_result is not None:
        evaluation = with_epsilon_audit(evaluation, audit)
    if structure:
        report(0.9, "Checking structure beyond pairs")
        evaluation = with_structure(evaluation, run_structure(inputs, policy, seed, lambda f, m: report(0.9 + 0.1 * f, m),
                                                              encoded=encoded))
    report(1.0, "Done")
    return evaluation


def encoded_inputs(inputs: PreparedInputs, encoded: EncodedTables | None = None) -> EncodedTables:
    """The inputs' tables encoded once for every family: `encoded` when it was built from these frames."""
    from core.data.encoding import encoded_for

    return encoded_for(inputs.frames, inputs.metadata, encoded)


def run_privacy(inputs: PreparedInputs, seed: int = 0, progress: Progress | None = None,
                policy: Policy | None = None, holdout_groups: np.ndarray | None = None,
                encoded: EncodedTables | None = None) -> PrivacyResult | None:
    """Privacy measured against the holdout, or None when there is no holdout (nearest-record time budget from
    the policy's [privacy] nearest_time_budget_seconds); `encoded`: the inputs' encoded tables."""
    frames = inputs.frames
    if "holdout" not in frames:
        return None
    budget = policy.nearest_time_budget_seconds if policy is not None else None
    return evaluate_privacy(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata,
                            seed=seed, progress=progress, nearest_time_budget_seconds=budget,
                            holdout_groups=holdout_groups, encoded=encoded_inputs(inputs, encoded))


def run_utility(inputs: PreparedInputs, policy: Policy, target: str | None, seed: int = 0,
                progress: Progress | None = None, extras: bool = True,
                encoded: EncodedTables | None = None) -> UtilityResult | None:
    """TSTR vs TRTR on the holdout for `target` (with the blend sweep and importance agreement unless
    extras=False), or None without a target or a holdout."""
    frames = inputs.frames
    if target is None or "holdout" not in frames:
        return None
    more = {} if extras else {"design": None, "importance": False}
    return evaluate_utility(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, target,
                            seeds=(seed, seed + 1, seed + 2), threshold=policy.gate("utility"), progress=progress,
                            encoded=encoded_inputs(inputs, encoded), **more)


def with_results(evaluation: Evaluation, privacy: PrivacyResult | None = None, utility: UtilityResult | None = None,
                 target: str | None = None) -> Evaluation:
    """A copy of `evaluation` with the privacy and utility sections and gates (skipped sections say why)."""
    gates = [g for g in evaluation.gates if g.name not in PRIVACY_GATES + ("utility",)]
    sections = dict(evaluation.sections)
    has_holdout = "holdout" in evaluation.inputs.frames
    if privacy is None:
        sections["privacy"] = {"skipped": "not run" if has_holdout else
                               "no holdout given: privacy is judged against a real holdout"}
    else:
        sections["privacy"] = privacy.to_dict()
        gates += privacy_gates(privacy, evaluation.policy)
    if utility is None:
        sections["utility"] = {"skipped": "no holdout given: utility is scored on a real holdout" if not has_holdout
                               else "no target column chosen" if target is None else "not run"}
    else:
        sections["utility"] = utility.to_dict()
        gates.append(utility_gate(utility, evaluation.policy))  # a not-judgeable target is kept: passed, judgeable False
    return replace(evaluation, gates=gates, sections=sections, privacy=privacy, utility=utility)


def privacy_gates(privacy: PrivacyResult, policy: Policy) -> list[Gate]:
    """The three privacy gates under the policy (fixed thresholds, false-alarm rate, tolerances): the report's
    and the Privacy page's one judgement."""
    judged = privacy_gate_values(privacy, {name: policy.gate(name) for name in PRIVACY_GATES},
                                 alpha=policy.calibration("false_alarm_rate"),
                                 tolerances={name: policy.gate(name, "tolerance", 0.0) for name in PRIVACY_GATES})
    return [Gate(**g) for g in judged.values()]


def utility_gate(utility: UtilityResult, policy: Policy) -> Gate:
    """The utility gate under the policy (fixed threshold, false-alarm rate, tolerance): the report's and the
    Utility page's one judgement; a target with no real skill above chance is a not-judgeable gate."""
    return Gate(**utility_gate_record(utility, policy.gate("utility"), alpha=policy.calibration("false_alarm_rate"),
                                      tolerance=policy.gate("utility", "tolerance", 0.0)))


def run_structure(inputs: PreparedInputs, policy: Policy, seed: int = 0,
                  progress: Progress | None = None, encoded: EncodedTables | None = None) -> StructureResult:
    """The structure checks at the policy's false-alarm rate, with rules declared in [structure] constraints."""
    frames = inputs.frames
    declared = list(policy.sections.get("structure", {}).get("constraints", []))
    return evaluate_structure(frames["real"], frames["synthetic"], frames.get("holdout"), inputs.metadata,
                              alpha=float(policy.calibration("false_alarm_rate")), seed=seed, declared=declared,
                              progress=progress, encoded=encoded_inputs(inputs, encoded),
                              resamples=int(policy.calibration("resamples")))


def run_epsilon_audit(inputs: PreparedInputs, manifest: dict | None, seed: int = 0,
                      encoded: EncodedTables | None = None):
    """The empirical epsilon audit against the manifest's claimed epsilon (None without a holdout)."""
    from core.checks.dp import audit_membership, claimed_privacy

    frames = inputs.frames
    if "holdout" not in frames:
        return None
    epsilon, delta = claimed_privacy(manifest)
    return audit_membership(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, epsilon, delta,
                            seed=seed, encoded=encoded_inputs(inputs, encoded))


def with_epsilon_audit(evaluation: Evaluation, audit) -> Evaluation:
    """A copy with privacy.empirical_epsilon (an addition) and, when a DP epsilon is claimed, its gate."""
    from core.checks.dp import empirical_epsilon_gate

    if audit is None or "skipped" in evaluation.sections.get("privacy", {}):
        return evaluation
    sections = dict(evaluation.sections)
    sections["privacy"] = dict(sections["privacy"], empirical_epsilon=audit.to_dict())
    gates = [g for g in evaluation.gates if g.name != "empirical_epsilon"]
    gate = empirical_epsilon_gate(audit)
    if gate.judgeable:  # without a claim the bound is informative: reported, not gated
        gates.append(gate)
    return replace(evaluation, gates=gates, sections=sections)


def with_structure(evaluation: Evaluation, structure: StructureResult | None) -> Evaluation:
    """A copy of `evaluation` with the `structure` section (an addition) and its gates (a skip says why)."""
    gates = [g for g in evaluation.gates if g.name not in STRUCTURE_GATES]
    sections = dict(evaluation.sections)
    if structure is None:
        sections["structure"] = {"skipped": "not run"}
    else:
        sections["structure"] = structure.to_dict()
        gates += [g for g in structure.gates if g.judgeable]
    return replace(evaluation, gates=gates, sections=sections)
