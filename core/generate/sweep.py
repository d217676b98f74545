"""The epsilon sweep: what each privacy budget buys and costs, like the blend-ratio sweep for utility.

For every epsilon in the list (and the non-private baseline, SDV's GaussianCopula), for every seed: generate
on the training part only, run the full evaluation against the locked holdout, and keep fidelity, utility,
the measured attack success (membership AUC, singling-out, linkability, inference) and the empirical epsilon
bound. The chosen point is the smallest epsilon at which every seed passes the fidelity and utility gates
(the least privacy spent for a table that still does its job); none is chosen when no epsilon does.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from core.data.io import prepare_inputs, table_from_frame
from core.data.metadata import Metadata
from core.generate.dp import DPSettings, fit_and_sample_dp
from core.policy import Policy, load_policy
from core.stats.memo import shared_real_side

DEFAULT_EPSILONS = (0.1, 0.3, 1.0, 3.0, 10.0)
DEFAULT_SEEDS = (0, 1, 2)
JOB_GATES = ("column_shapes", "column_pair_trends", "utility")  # what "still does its job" means
CURVES = ("fidelity_score", "utility_value", "membership_auc", "singling_out_risk", "linkability_risk",
          "inference_risk", "empirical_epsilon")

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SweepPoint:
    """One generation of the sweep and what its evaluation measured."""

    epsilon: float | None  # None: the non-private baseline
    seed: int
    fidelity_score: float | None
    utility_value: float | None
    membership_auc: float | None
    singling_out_risk: float | None
    linkability_risk: float | None
    inference_risk: float | None
    empirical_epsilon: float | None
    gates: dict[str, bool]
    seconds: float

    @property
    def does_its_job(self) -> bool:
        """Every fidelity and utility gate that was judged passed."""
        return all(self.gates.get(name, True) for name in JOB_GATES)


@dataclass
class EpsilonSweep:
    """All points, the settings that made them and the chosen epsilon."""

    method: str
    epsilons: list[float]
    seeds: list[int]
    rows: int
    target: str | None
    points: list[SweepPoint] = field(default_factory=list)
    floors: dict[str, float] = field(default_factory=dict)  # the policy's fixed thresholds, for the plot
    seconds: float = 0.0

    @property
    def chosen_epsilon(self) -> float | None:
        """The smallest epsilon at which every seed's generation does its job, or None."""
        for epsilon in sorted(self.epsilons):
            points = [p for p in self.points if p.epsilon == epsilon]
            if points and all(p.does_its_job for p in points):
                return epsilon
        return None

    def curve(self, name: str) -> pd.DataFrame:
        """One measure by epsilon: mean, min and max over seeds (baseline as epsilon = inf)."""
        frame = pd.DataFrame([{"epsilon": math.inf if p.epsilon is None else p.epsilon, "value": getattr(p, name)}
                              for p in self.points]).dropna()
        if frame.empty:
            return pd.DataFrame(columns=["epsilon", "mean", "low", "high", "seeds"])
        grouped = frame.groupby("epsilon")["value"]
        return pd.DataFrame({"mean": grouped.mean(), "low": grouped.min(), "high": grouped.max(),
                             "seeds": grouped.size()}).reset_index()

    def to_dict(self) -> dict:
        """JSON form: settings, every point, curves by epsilon and the chosen point."""
        def clean(value):
            return None if isinstance(value, float) and not math.isfinite(value) else value

        return {"method": self.method, "epsilons": self.epsilons, "seeds": self.seeds, "rows": self.rows,
                "evaluation_seed": self.seeds[0] if self.seeds else None,
                "target": self.target, "chosen_epsilon": self.chosen_epsilon, "floors": self.floors,
                "seconds": round(self.seconds, 1),
                "points": [{k: clean(v) for k, v in asdict(p).items()} | {"does_its_job": p.does_its_job}
                           for p in self.points],
                "curves": {name: [{k: clean(float(v)) if k != "seeds" else int(v) for k, v in row.items()}
                                  for row in self.curve(name).to_dict("records")] for name in CURVES}}


def _get(report: dict, *keys, default=None):
    value = report
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def _bound(audit: dict | None) -> float | None:
    """The audit's epsilon lower bound (the report writes an infinite bound as null)."""
    if not audit:
        return None
    value = audit.get("epsilon_lower_bound")
    return math.inf if value is None else float(value)


def measure_point(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, manifest: dict,
                  metadata: Metadata, policy: Policy, target: str | None, seed: int) -> dict:
    """Evaluate one generated table against the holdout; the sweep's measures and gate verdicts (the
    evaluation's own empirical epsilon audit against the manifest's claim; the utility gate without the
    blend sweep and importance agreement, which the sweep does not show)."""
    from core.report import evaluate

    inputs = prepare_inputs(table_from_frame(train, "train"), table_from_frame(synthetic, "synthetic"),
                            table_from_frame(holdout, "holdout"), overrides=dict(metadata))
    report = evaluate(inputs, policy, privacy=True, seed=seed, target=target, manifest=manifest,
                      utility_extras=False).to_dict()
    gates = {g["name"]: bool(g["passed"]) for g in report.get("gates", [])}
    utility = next((g for g in report.get("gates", []) if g["name"] == "utility"), None)
    return {
        "fidelity_score": _get(report, "fidelity", "score"),
        "utility_value": utility["value"] if utility else None,
        "membership_auc": _get(report, "privacy", "membership_inference", "auc"),
        "singling_out_risk": _get(report, "privacy", "singling_out", "risk"),
        "linkability_risk": _get(report, "privacy", "linkability", "risk"),
        "inference_risk": _get(report, "privacy", "attribute_inference", "max_risk"),
        "empirical_epsilon": _bound(_get(report, "privacy", "empirical_epsilon")),
        "gates": gates,
    }


def sweep_epsilon(train: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata, *,
                  epsilons: Sequence[float] = DEFAULT_EPSILONS, seeds: Sequence[int] = DEFAULT_SEEDS,
                  method: str = "MST", target: str | None = None, rows: int | None = None,
                  public_bounds: dict[str, tuple[float, float]] | None = None, baseline: bool = True,
                  policy: Policy | None = None, progress: Progress | None = None,
                  settings: DPSettings | None = None) -> EpsilonSweep:
    """Generate and evaluate at every epsilon x seed (plus the non-private baseline per seed); `settings` (its
    epsilon replaced at each point) overrides `method` and `public_bounds`. Every generation is evaluated with
    the first seed, so all points face the same nulls, attack samples and real-trained models: the spread over
    seeds is the generations' own, and the real tables' work is done once (shared_real_side)."""
    policy = policy or load_policy()
    report = progress or (lambda fraction, message: None)
    rows = int(rows or len(train))
    template = settings or DPSettings(method=method, public_bounds=dict(public_bounds or {}))
    template.check(metadata)  # a bad setting is named before the first generation, not after
    method = template.method
    sweep = EpsilonSweep(method, [float(e) for e in epsilons], [int(s) for s in seeds], rows, target,
                         floors={name: policy.gate(name) for name in JOB_GATES + ("membership_inference",)})
    plan = [(float(e), int(s)) for e in epsilons for s in seeds] + ([(None, int(s)) for s in seeds] if baseline else [])
    started = time.perf_counter()
    with shared_real_side():  # the real tables' own work (nulls, holdout searches, real-trained models): once
        _run_plan(sweep, plan, train, holdout, metadata, template, rows, policy, target, report, started,
                  evaluation_seed=sweep.seeds[0] if sweep.seeds else 0)
    sweep.seconds = time.perf_counter() - started
    report(1.0, "Done")
    return sweep


def _run_plan(sweep: EpsilonSweep, plan, train, holdout, metadata, template: DPSettings, rows: int, policy: Policy,
              target: str | None, report: Progress, started: float, evaluation_seed: int) -> None:
    """Generate and measure every (epsilon, seed) of the plan into the sweep's points."""
    from core.demo import fit_and_sample

    for index, (epsilon, seed) in enumerate(plan):
        label = "non-private baseline" if epsilon is None else f"epsilon {epsilon:g}"
        elapsed = time.perf_counter() - started
        eta = f"; about {elapsed / index * (len(plan) - index):.0f} s left" if index else ""
        report(index / len(plan), f"{label}, seed {seed} ({index + 1} of {len(plan)}{eta})")
        point_started = time.perf_counter()
        if epsilon is None:
            synthetic, manifest = fit_and_sample(train, rows, seed)
        else:
            synthetic, manifest = fit_and_sample_dp(train, metadata, rows, seed, replace(template, epsilon=epsilon))
        measured = measure_point(train, holdout, synthetic, manifest, metadata, policy, target, evaluation_seed)
        sweep.points.append(SweepPoint(epsilon, seed, seconds=time.perf_counter() - point_started, **measured))


def summary_table(sweep: EpsilonSweep) -> pd.DataFrame:
    """One row per epsilon: every curve's mean over seeds, and whether every seed does its job."""
    rows = []
    for epsilon in [*sorted(sweep.epsilons), None]:
        points = [p for p in sweep.points if p.epsilon == epsilon]
        if not points:
            continue
        row = {"epsilon": "non-private" if epsilon is None else f"{epsilon:g}",
               "chosen": epsilon is not None and epsilon == sweep.chosen_epsilon}
        for name in CURVES:
            values = [getattr(p, name) for p in points if getattr(p, name) is not None]
            row[name] = float(np.mean(values)) if values else None
        row["every seed does its job"] = all(p.does_its_job for p in points)
        rows.append(row)
    return pd.DataFrame(rows)
