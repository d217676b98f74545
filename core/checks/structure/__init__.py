"""Structure checks beyond single columns and pairs: detection, three-way structure, missing-value patterns,
constraints, PII replay (each a gate judged against its real-vs-real null) and PCA stability (informative).

Every gate needs a holdout: its null is drawn by putting real rows that were not trained on in the synthetic
table's place. Without one each part states why it was skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from core.checks.structure.common import binned_columns
from core.data.encoding import EncodedTables, encoded_for
from core.checks.structure.constraints import ConstraintsResult, evaluate_constraints
from core.checks.structure.detection import DetectionResult, evaluate_detection
from core.checks.structure.missing import MissingResult, evaluate_missing_values
from core.checks.structure.pca import PcaResult, evaluate_pca
from core.checks.structure.pii import PiiResult, evaluate_pii_replay
from core.checks.structure.three_way import ThreeWayResult, evaluate_three_way
from core.gates import Gate

__all__ = ["evaluate_detection", "evaluate_three_way", "evaluate_missing_values", "evaluate_constraints",
           "evaluate_pii_replay", "evaluate_pca", "evaluate_structure", "StructureResult", "record_scores",
           "STRUCTURE_GATES"]

STRUCTURE_GATES = ("detection", "three_way_trends", "missing_values", "constraints", "pii_replay")
Progress = Callable[[float, str], None]


@dataclass
class StructureResult:
    """All structure parts and the gates they make (a part without a holdout carries its skip reason)."""

    detection: DetectionResult
    three_way: ThreeWayResult
    missing: MissingResult
    constraints: ConstraintsResult
    pii: PiiResult
    pca: PcaResult | None
    seed: int
    skipped: str | None = None
    gates: list[Gate] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The report's `structure` section (an addition to the contract)."""
        return {"seed": self.seed, "skipped": self.skipped, "detection": self.detection.to_dict(),
                "three_way": self.three_way.to_dict(), "missing_values": self.missing.to_dict(),
                "constraints": self.constraints.to_dict(), "pii_replay": self.pii.to_dict(),
                "pca": self.pca.to_dict() if self.pca is not None else None}


def evaluate_structure(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                       metadata: dict[str, str], *, alpha: float = 0.01, seed: int = 0,
                       declared: list[str] | tuple[str, ...] = (), progress: Progress | None = None,
                       encoded: EncodedTables | None = None, resamples: int | None = None) -> StructureResult:
    """Run every structure check; gates only where a holdout gives them a null. `encoded`: the evaluation's
    encoded tables (core.data.encoding.encode_tables), else encoded here once for every part. `resamples`:
    the policy's real-vs-real resamples for the missing-values items (default: the module's, the registry's
    calibration default)."""
    report = progress or (lambda f, m: None)
    encoded = encoded_for({"real": train, "synthetic": synthetic, "holdout": holdout}, metadata, encoded)
    binned = None
    if holdout is not None:
        binned = binned_columns({"real": train, "synthetic": synthetic, "holdout": holdout}, metadata, encoded=encoded)
    report(0.0, "Detection: classifier real vs synthetic")
    detection = evaluate_detection(train, synthetic, holdout, metadata, alpha=alpha, seed=seed, encoded=encoded)
    report(0.5, "Three-way structure")
    three = evaluate_three_way(train, synthetic, holdout, metadata, alpha=alpha, seed=seed, binned=binned)
    report(0.65, "Missing-value patterns")
    missing = evaluate_missing_values(train, synthetic, holdout, metadata, alpha=alpha, seed=seed, binned=binned,
                                      **({} if resamples is None else {"resamples": int(resamples)}))
    report(0.75, "Constraints")
    constraints = evaluate_constraints(train, synthetic, holdout, metadata, declared=declared, alpha=alpha, seed=seed)
    report(0.85, "PII replay")
    pii = evaluate_pii_replay(train, synthetic, holdout, metadata, alpha=alpha, seed=seed)
    report(0.92, "PCA")
    pca = evaluate_pca(train, synthetic, holdout, metadata, seed=seed, encoded=encoded)
    # A part with nothing to judge (no PII-like column, no rule) makes no gate; its section says so.
    gates = [g for g in (detection.gate, three.gate, missing.gate, constraints.gate, pii.gate)
             if g is not None and g.judgeable]
    skipped = "no holdout given: the structure gates judge against real rows not trained on" if holdout is None else None
    return StructureResult(detection, three, missing, constraints, pii, pca, seed, skipped, gates)


def record_scores(result: StructureResult, n_rows: int) -> pd.DataFrame:
    """Per synthetic row position: P(looks synthetic) from detection, and how many rules it breaks.

    Columns `looks_synthetic` (NaN where detection did not run) and `rules_broken` (int), indexed 0..n-1.
    """
    prob = result.detection.record_probability
    looks = prob.to_numpy() if len(prob) == n_rows else np.full(n_rows, np.nan)
    broken = result.constraints.breaking_count
    broken = broken if len(broken) == n_rows else np.zeros(n_rows, dtype=np.int64)
    return pd.DataFrame({"looks_synthetic": looks, "rules_broken": broken})
