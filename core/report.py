"""The review report: runs every family of checks, applies the policy's gates, and renders the contract JSON."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable

from core import __version__
from core.data.encoding import encode_columns
from core.checks.fidelity import FidelityResult, evaluate_fidelity
from core.data.io import PreparedInputs
from core.gates import Gate
from core.policy import Policy, load_policy
from core.checks.privacy import PrivacyResult, evaluate_privacy, privacy_gate_values
from core.checks.utility import UtilityResult, evaluate_utility, utility_gate
from core.checks.validity import ValidityResult, evaluate_validity
from core.checks.structure import STRUCTURE_GATES, StructureResult, evaluate_structure

SCHEMA_VERSION = 1
PRIVACY_GATES = ("exact_copies", "distance_to_closest_record", "membership_inference")
# Sampling noise allowance for a score judged against the holdout's: the two-sample KS distance that a
# fresh sample exceeds with 1% chance (c(0.01) = 1.63) for the two table sizes. KS has the largest noise of
# the scores used here for moderate category counts, so it bounds the others.
NOISE_CONSTANT = 1.63
VALIDITY_Z = 3.09

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
        columns = {
            c.column: {"metric": c.metric, "score": _num(c.score), "expected": _num(c.expected),
                       "floor": _num(self.floors.get(c.column)), "real": _num(c.real),
                       "synthetic": _num(c.synthetic), "at": c.at}
            for c in fidelity.column_shapes
        }
        pairs = [
            {"columns": list(p.columns), "metric": p.metric, "score": _num(p.score), "real": _num(p.real),
             "synthetic": _num(p.synthetic), "expected": _num(p.expected),
             "floor": _num(self.floors.get(" / ".join(p.columns)))}
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
                "columns": {name: _clean(v.to_dict()) for name, v in self.validity.columns.items()},
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


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _clean(record: dict) -> dict:
    return {k: (_num(v) if isinstance(v, float) else v) for k, v in record.items()}


def noise_allowance(n_real: int, n_other: int) -> float:
    """How far a score may fall below the holdout's by sampling noise alone, for these table sizes."""
    return NOISE_CONSTANT * math.sqrt(1.0 / max(n_real, 1) + 1.0 / max(n_other, 1))


def _score_gate(name: str, items: list[tuple[str, float, float | None]], policy: Policy, slack: float,
                floors: dict[str, float]) -> Gate | None:
    """A min-score gate over named scores: each against its holdout expectation, or the fixed threshold."""
    if not items:
        return None
    tolerance = policy.gate(name, "tolerance", 0.0)
    threshold = policy.gate(name)
    judged = []
    for label, score, expected in items:
        floor = (expected - tolerance - slack) if expected is not None else threshold
        floors[label] = floor
        judged.append((score - floor, label, score, expected, floor))
    judged.sort()
    failing = [j for j in judged if j[0] < 0]
    margin, label, score, expected, floor = judged[0]
    expectation = f", holdout {expected:.3f}" if expected is not None else ""
    if failing:
        worst = "; ".join(f"{j[1]} {j[2]:.3f} < {j[4]:.3f}" for j in failing[:5])
        detail = f"{len(failing)} of {len(judged)} below their floor: {worst}"
    else:
        detail = f"all {len(judged)} at or above their floor; closest: {label} {score:.3f} (floor {floor:.3f}{expectation})"
    return Gate(name, score, floor, not failing, detail)


def apply_gates(fidelity: FidelityResult, validity: ValidityResult, inputs: PreparedInputs,
                policy: Policy) -> tuple[list[Gate], dict[str, float]]:
    """Judge fidelity and validity against the policy; gates that do not apply are left out."""
    n_real = len(inputs.frames["real"])
    n_synthetic = len(inputs.frames["synthetic"])
    slack = noise_allowance(n_real, n_synthetic) if "holdout" in inputs.frames else 0.0
    floors: dict[str, float] = {}
    gates = [
        _score_gate("column_shapes", [(c.column, c.score, c.expected) for c in fidelity.column_shapes],
                    policy, slack, floors),
        _score_gate("column_pair_trends", [(" / ".join(p.columns), p.score, p.expected)
                                           for p in fidelity.pair_trends], policy, slack, floors),
        _validity_gate(validity, policy),
        _coverage_gate(validity, policy),
    ]
    return [g for g in gates if g is not None], floors


def _validity_gate(validity: ValidityResult, policy: Policy) -> Gate | None:
    if not validity.columns:
        return None
    threshold = policy.gate("validity")
    excess = []
    for name, column in validity.columns.items():
        base = validity.baseline.get(name)
        chance = max(base.invalid_share if base else 0.0, column.chance_invalid_share)
        # One-sided 99.9% binomial allowance around what chance alone gives a sample of this size.
        noise = VALIDITY_Z * math.sqrt(chance * (1.0 - chance) / max(column.sample_rows, 1))
        excess.append((column.invalid_share - chance - noise, name, column, chance))
    excess.sort(key=lambda e: e[0], reverse=True)
    value = max(excess[0][0], 0.0)
    bad = [e for e in excess if e[0] > threshold]
    describe = lambda n, c, chance: (f"{n}: {c.out_of_range_share:.1%} out of the real range, "
                                      f"{c.unseen_category_share:.1%} unseen categories (chance alone {chance:.1%})")
    if bad:
        detail = "; ".join(describe(n, c, ch) for _, n, c, ch in bad[:5])
    else:
        detail = "worst column " + describe(*excess[0][1:])
    return Gate("validity", value, threshold, not bad, detail)


def _coverage_gate(validity: ValidityResult, policy: Policy) -> Gate | None:
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
        lost.extend(f"{name}: {side} tail collapsed" for side in column.collapsed_tails)
    if expected == 0:
        return None
    value = kept / expected
    threshold = policy.gate("coverage")
    passed = value >= threshold
    detail = "; ".join(lost[:6]) if lost else f"all {expected} expected categories and tails present"
    return Gate("coverage", value, threshold, passed, detail)


def evaluate(inputs: PreparedInputs, policy: Policy | None = None, progress: Progress | None = None,
             privacy: bool = True, seed: int = 0, target: str | None = None, structure: bool = False) -> Evaluation:
    """Run fidelity and validity, privacy (with a holdout) and utility (with a holdout and a target); gate them.

    structure=True also runs the structure checks (detection, three-way, missing values, constraints, PII
    replay, PCA; see run_structure): the CLI's default, off here because detection fits 18 models."""
    policy = policy or load_policy()
    report = progress or (lambda fraction, message: None)
    report(0.02, "Encoding columns")
    encoded = encode_columns(inputs.frames, inputs.metadata)
    report(0.1, "Scoring column shapes and pair trends")
    fidelity = evaluate_fidelity(inputs.frames, inputs.metadata, encoded)
    report(0.3, "Checking validity and coverage")
    validity = evaluate_validity(inputs.frames, inputs.metadata, encoded)
    gates, floors = apply_gates(fidelity, validity, inputs, policy)
    evaluation = Evaluation(inputs, policy, fidelity, validity, gates, floors)
    privacy_result = run_privacy(inputs, seed, lambda f, m: report(0.35 + 0.35 * f, m)) if privacy else None
    utility_result = run_utility(inputs, policy, target, seed, lambda f, m: report(0.7 + 0.3 * f, m))
    evaluation = with_results(evaluation, privacy_result, utility_result, target)
    if structure:
        evaluation = with_structure(evaluation, run_structure(inputs, policy, seed, lambda f, m: report(0.9 + 0.1 * f, m)))
    report(1.0, "Done")
    return evaluation


def run_privacy(inputs: PreparedInputs, seed: int = 0, progress: Progress | None = None) -> PrivacyResult | None:
    """Privacy measured against the holdout, or None when there is no holdout."""
    frames = inputs.frames
    if "holdout" not in frames:
        return None
    return evaluate_privacy(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata,
                            seed=seed, progress=progress)


def run_utility(inputs: PreparedInputs, policy: Policy, target: str | None, seed: int = 0,
                progress: Progress | None = None) -> UtilityResult | None:
    """TSTR vs TRTR on the holdout for `target`, or None without a target or a holdout."""
    frames = inputs.frames
    if target is None or "holdout" not in frames:
        return None
    return evaluate_utility(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, target,
                            seeds=(seed, seed + 1, seed + 2), threshold=policy.gate("utility"), progress=progress)


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
        thresholds = {name: evaluation.policy.gate(name) for name in PRIVACY_GATES}
        gates += [Gate(name, g["value"], g["threshold"], g["passed"], g["detail"])
                  for name, g in privacy_gate_values(privacy, thresholds).items()]
    if utility is None:
        sections["utility"] = {"skipped": "no holdout given: utility is scored on a real holdout" if not has_holdout
                               else "no target column chosen" if target is None else "not run"}
    else:
        sections["utility"] = utility.to_dict()
        gate = utility_gate(utility, evaluation.policy.gate("utility"))
        if gate is not None:
            gates.append(Gate("utility", gate["value"], gate["threshold"], gate["passed"], gate["detail"]))
    return replace(evaluation, gates=gates, sections=sections, privacy=privacy, utility=utility)


def run_structure(inputs: PreparedInputs, policy: Policy, seed: int = 0,
                  progress: Progress | None = None) -> StructureResult:
    """The structure checks at the policy's false-alarm rate, with rules declared in [structure] constraints."""
    frames = inputs.frames
    declared = list(policy.sections.get("structure", {}).get("constraints", []))
    return evaluate_structure(frames["real"], frames["synthetic"], frames.get("holdout"), inputs.metadata,
                              alpha=float(policy.calibration("false_alarm_rate")), seed=seed, declared=declared,
                              progress=progress)


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
