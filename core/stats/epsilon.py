"""Empirical epsilon: a lower confidence bound on a generator's privacy loss from a membership attack.

A mechanism that is (epsilon, delta)-differentially private bounds every membership test: for any
threshold, TPR <= exp(epsilon) * FPR + delta (Kairouz et al. 2015; used to audit DP training by Jagielski
et al. 2020 and Nasr et al. 2021). So epsilon >= log((TPR - delta) / FPR). To turn one attack into a
*lower confidence bound*, the threshold is chosen on one random half of the candidates and the rates are
measured on the other half with exact Clopper-Pearson bounds (TPR from below, FPR from above), so picking
the best threshold does not inflate the bound. Members score higher when the attack believes they were in
the training data (here: minus the distance to the nearest synthetic row).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import beta

MAX_CUTS = 256  # candidate thresholds tried on the selection half (score quantiles)


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided Clopper-Pearson interval of a binomial rate (0 and 1 at the ends)."""
    if trials <= 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return low, high


def epsilon_from_rates(tpr: float, fpr: float, delta: float = 0.0) -> float:
    """log((TPR - delta) / FPR), 0 when the attack does no better than chance, inf when FPR is 0."""
    if tpr - delta <= fpr or tpr - delta <= 0:
        return 0.0
    if fpr <= 0:
        return math.inf
    return math.log((tpr - delta) / fpr)


@dataclass(frozen=True)
class EpsilonAudit:
    """The bound and the rates it came from (a metric's score with the values it compared)."""

    epsilon_lower_bound: float  # lower confidence bound on epsilon (0 = no evidence of leakage)
    epsilon_point: float  # the same ratio from the measured rates, without confidence bounds
    threshold: float  # attack threshold chosen on the selection half
    tpr: float
    fpr: float
    tpr_lower: float  # Clopper-Pearson lower bound of the true positive rate
    fpr_upper: float  # Clopper-Pearson upper bound of the false positive rate
    members: int  # member candidates in the measuring half
    non_members: int
    delta: float
    confidence: float
    seed: int

    def to_dict(self) -> dict:
        """The audit as JSON-safe numbers (inf as null)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def _rates(member: np.ndarray, non_member: np.ndarray, threshold: float) -> tuple[int, int]:
    """How many members and non-members the attack calls members (score >= threshold)."""
    return int(np.count_nonzero(member >= threshold)), int(np.count_nonzero(non_member >= threshold))


def empirical_epsilon(member_scores: np.ndarray, non_member_scores: np.ndarray, *, delta: float = 0.0,
                      confidence: float = 0.95, seed: int = 0) -> EpsilonAudit:
    """Lower confidence bound on epsilon from attack scores of members (training rows) and non-members.

    The bound holds with probability `confidence` (the two Clopper-Pearson bounds each take half of the
    error); the threshold is chosen on a seeded random half of each group and judged on the other half.
    """
    member = np.asarray(member_scores, dtype=float)
    non_member = np.asarray(non_member_scores, dtype=float)
    rng = np.random.default_rng(seed)
    member, non_member = rng.permutation(member), rng.permutation(non_member)
    m_sel, m_test = member[: len(member) // 2], member[len(member) // 2:]
    n_sel, n_test = non_member[: len(non_member) // 2], non_member[len(non_member) // 2:]
    if len(m_sel) == 0 or len(n_sel) == 0:
        return EpsilonAudit(0.0, 0.0, math.nan, math.nan, math.nan, 0.0, 1.0, len(m_test), len(n_test),
                            delta, confidence, seed)
    pooled = np.concatenate([m_sel, n_sel])
    candidates = np.unique(np.quantile(pooled, np.linspace(0, 1, MAX_CUTS)))
    candidates = np.union1d(candidates, np.unique(m_sel)[-MAX_CUTS:])  # members' own top scores
    best, best_value = candidates[0], -1.0
    for threshold in candidates:
        tp, fp = _rates(m_sel, n_sel, threshold)
        # +0.5 smoothing: a threshold with no false positives on a small half is not infinitely good.
        value = epsilon_from_rates((tp + 0.5) / (len(m_sel) + 1), (fp + 0.5) / (len(n_sel) + 1), delta)
        if value > best_value:
            best, best_value = threshold, value
    tp, fp = _rates(m_test, n_test, best)
    # Each one-sided bound is one tail of a two-sided interval, so each takes half of the error.
    tpr_low = clopper_pearson(tp, len(m_test), confidence)[0]
    fpr_high = clopper_pearson(fp, len(n_test), confidence)[1]
    tpr, fpr = tp / max(len(m_test), 1), fp / max(len(n_test), 1)
    return EpsilonAudit(epsilon_from_rates(tpr_low, fpr_high, delta), epsilon_from_rates(tpr, fpr, delta),
                        float(best), tpr, fpr, tpr_low, fpr_high, len(m_test), len(n_test), delta,
                        confidence, seed)
