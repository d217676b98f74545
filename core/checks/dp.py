"""The empirical epsilon audit: what a membership attack proves about a generator's privacy loss.

The attack scores each candidate by minus its distance to the nearest synthetic row (the privacy family's
mixed-type distance); training rows are members, holdout rows non-members. core.stats.epsilon turns the
scores into a lower confidence bound on epsilon. The `empirical_epsilon` gate fails when that bound exceeds
the epsilon the generation claims (a broken DP implementation or a wrong claim); for a generation that
claims no epsilon it is informative only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.encoding import EncodedTables, encoded_for
from core.data.metadata import Metadata
from core.stats.distances import nearest_encoded
from core.gates import Gate, spec
from core.stats.epsilon import EpsilonAudit, empirical_epsilon

MAX_CANDIDATES = 10_000  # per group; the bound's width shrinks as 1/n, the nearest-record search grows as n


@dataclass(frozen=True)
class MembershipAudit:
    """The audit and the claim it was judged against."""

    audit: EpsilonAudit
    claimed_epsilon: float | None
    claimed_delta: float | None

    def to_dict(self) -> dict:
        """The report's privacy.empirical_epsilon entry."""
        out = self.audit.to_dict()
        out.update({"claimed_epsilon": self.claimed_epsilon, "claimed_delta": self.claimed_delta,
                    "attack": "score = -distance to the nearest synthetic row; members = training rows, "
                              "non-members = holdout rows; threshold chosen on one half, Clopper-Pearson "
                              "bounds on the other"})
        return out


def attack_scores(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata,
                  seed: int = 0, max_candidates: int = MAX_CANDIDATES, encoded: EncodedTables | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Member (training) and non-member (holdout) scores: minus the distance to the nearest synthetic row
    (on the record distance of `encoded`, the evaluation's encoded tables, else encoded here)."""
    rng = np.random.default_rng(seed)
    n = min(len(train), len(holdout), max_candidates)
    members = rng.choice(len(train), n, replace=False)
    others = rng.choice(len(holdout), n, replace=False)
    encoded = encoded_for({"real": train, "synthetic": synthetic, "holdout": holdout}, metadata, encoded)
    candidates = np.vstack([encoded.coordinates("real")[members], encoded.coordinates("holdout")[others]])
    _, distances = nearest_encoded(encoded.coordinates("synthetic"), candidates, 1)
    score = -distances[:, 0]
    return score[:n], score[n:]


def audit_membership(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata,
                     claimed_epsilon: float | None = None, claimed_delta: float | None = None, seed: int = 0,
                     confidence: float = 0.95, encoded: EncodedTables | None = None) -> MembershipAudit:
    """The empirical epsilon lower bound of this synthetic table against its claim."""
    members, non_members = attack_scores(train, synthetic, holdout, metadata, seed, encoded=encoded)
    audit = empirical_epsilon(members, non_members, delta=claimed_delta or 0.0, confidence=confidence, seed=seed)
    return MembershipAudit(audit, claimed_epsilon, claimed_delta)


def empirical_epsilon_gate(result: MembershipAudit) -> Gate:
    """The `empirical_epsilon` gate: fails when the measured lower bound exceeds the claimed epsilon."""
    bound = result.audit.epsilon_lower_bound
    claimed = result.claimed_epsilon
    shown = "inf" if math.isinf(bound) else f"{bound:.3f}"
    if claimed is None:
        return Gate("empirical_epsilon", bound, spec("empirical_epsilon").threshold, True,
                    f"no epsilon claimed: informative only; the attack proves epsilon >= {shown} "
                    f"(TPR {result.audit.tpr:.3f}, FPR {result.audit.fpr:.3f})", judgeable=False)
    passed = bound <= claimed
    detail = (f"the attack proves epsilon >= {shown} at {result.audit.confidence:.0%} confidence; claimed "
              f"{claimed:g}" + ("" if passed else ": the claim cannot hold (broken implementation or wrong claim)"))
    return Gate("empirical_epsilon", bound, claimed, passed, detail, floor=claimed)


def claimed_privacy(manifest: dict | None) -> tuple[float | None, float | None]:
    """(epsilon, delta) a generation manifest claims, or (None, None) for a non-DP generator."""
    if not manifest:
        return None, None
    dp = manifest.get("differential_privacy") or {}
    epsilon = dp.get("epsilon", (manifest.get("parameters") or {}).get("epsilon"))
    delta = dp.get("delta", (manifest.get("parameters") or {}).get("delta"))
    return (float(epsilon) if epsilon is not None else None), (float(delta) if delta is not None else None)
