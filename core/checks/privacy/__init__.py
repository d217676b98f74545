"""Privacy checks: exact copies (memorised vs natural), distance to closest record, membership inference and
anonymeter-style risks, each judged against the holdout posing as a synthetic table of the same size.

The record distance is core.stats.distances' (one definition, also used by the Records page). The package:

* copies.py: exact copies of training rows, memorised (unique in train, absent from the holdout) told apart
  from natural duplicates; near copies;
* distance.py: distance to closest record, the gate's DCR to unique training rows and its null;
* membership.py: the distance attack's AUC and its null;
* risks.py: singling out, linkability, attribute inference (anonymeter's residual risk).

Each of the three privacy gates (exact_copies, distance_to_closest_record, membership_inference) is judged by
core.gates.judge against its measured real-vs-real null at the synthetic table's size (see each module), at
the policy's false-alarm rate; with a holdout too small to resample, the registry's fixed threshold applies.
Row references in results are 0-based positions (use .iloc), not index labels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from core.checks.privacy.copies import (ExactCopies, NearCopies, exact_copies, exact_copy_positions,
                                        holdout_hits_unique, row_hashes, unique_training_rows)
from core.checks.privacy.distance import (DCR_TAIL_QUANTILE, DistanceToClosestRecord, distance_to_closest_record,
                                          tail_share)
from core.checks.privacy.membership import (MembershipInference, auc_score, hanley_mcneil_interval,
                                            membership_inference)
from core.checks.privacy.risks import (NUMERIC_GUESS_MARGIN, AttackRisk, attack_matrix, attack_risk,
                                       attribute_inference_risk, linkability_risk, singling_out_risk, wilson_rate)
from core.data.encoding import EncodedTables, encoded_for
from core.data.metadata import Metadata
from core.errors import UsageError
from core.gates import CALIBRATION_DEFAULTS, judge, rule_text, spec
from core.stats.distances import DistanceEncoding, NearestRecords, Progress, nearest_encoded, nearest_records
from core.stats.null import chance_auc_sd

PRIVACY_GATES = ("exact_copies", "distance_to_closest_record", "membership_inference")
# Fixed thresholds, used only where no null can be drawn (the registry's; kept here under their old names).

NEAR_COPY_DISTANCE = 0.05  # all numeric columns within ~1-5 % of range and every category equal
CONFIDENCE_LEVEL = 0.95
MAX_NEAR_COPY_PAIRS_IN_REPORT = 100
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95)

__all__ = [
    "AttackRisk", "DCR_TAIL_QUANTILE", "DistanceEncoding", "DistanceToClosestRecord",
    "ExactCopies", "MembershipInference",
    "NEAR_COPY_DISTANCE", "NUMERIC_GUESS_MARGIN", "NearCopies", "NearestRecords", "PRIVACY_GATES",
    "PrivacyResult", "attack_risk", "attribute_inference_risk", "auc_score", "distance_to_closest_record",
    "evaluate_privacy", "exact_copy_positions", "hanley_mcneil_interval", "linkability_risk",
    "membership_inference", "nearest_encoded", "nearest_records", "privacy_gate_values", "singling_out_risk",
    "wilson_rate",
]


@dataclass
class PrivacyResult:
    """Everything the privacy checks measured; arrays are kept for the UI, `to_dict` summarises."""

    seed: int
    rows: dict[str, int]
    columns: tuple[str, ...]
    skipped: dict[str, str]
    exact_copies: ExactCopies
    near_copies: NearCopies
    distance_to_closest_record: DistanceToClosestRecord
    membership_inference: MembershipInference
    singling_out: AttackRisk
    linkability: AttackRisk | None
    attribute_inference: dict[str, AttackRisk]

    def to_dict(self) -> dict:
        """The report's "privacy" section. *_score: higher better; *_rate/_share/_risk/_distance/auc: lower better."""
        dcr = self.distance_to_closest_record
        inference = {c: r.to_dict() for c, r in self.attribute_inference.items()}
        worst = max(self.attribute_inference.values(), key=lambda r: r.risk, default=None)
        return {
            "seed": self.seed,
            "rows": dict(self.rows),
            "distance": {
                "definition": "Euclidean over columns; numeric |a-b|/real range, category mismatch 1, "
                "missing vs present 1",
                "columns": list(self.columns),
                "skipped": dict(self.skipped),
                "nearest_search": dcr.search_summary(),
            },
            "exact_copies": {
                "synthetic_copy_rate": self.exact_copies.synthetic_rate,
                "holdout_copy_rate_baseline": self.exact_copies.holdout_rate,
                "excess_copy_rate": self.exact_copies.excess_rate,
                "memorised_copy_rate": self.exact_copies.memorised_rate,
                "memorised_copy_count": int(len(self.exact_copies.memorised_positions)),
                "natural_duplicate_copy_rate": self.exact_copies.natural_rate,
                "holdout_unique_hit_rate_baseline": self.exact_copies.holdout_memorised_rate,
                "null_median": _median(self.exact_copies.null),
                "synthetic_copy_count": int(len(self.exact_copies.synthetic_positions)),
            },
            "near_copies": {
                "distance_threshold": self.near_copies.distance_threshold,
                "synthetic_near_copy_rate": self.near_copies.synthetic_rate,
                "holdout_near_copy_rate_baseline": self.near_copies.holdout_rate,
                "pairs": [
                    {"synthetic_row": s, "train_row": t, "distance": d}
                    for s, t, d in self.near_copies.pairs(MAX_NEAR_COPY_PAIRS_IN_REPORT)
                ],
                "pairs_total": int(len(self.near_copies.distances)),
            },
            "distance_to_closest_record": {
                "synthetic_distance_quantiles": _quantiles(dcr.synthetic_to_train),
                "holdout_distance_quantiles_baseline": _quantiles(dcr.holdout_to_train),
                "share_closer_to_train_than_holdout": dcr.share_closer_to_train,
                "share_closer_to_train_than_holdout_baseline": 0.5,
                "overfitting_protection_score": min(1.0, 2.0 * (1.0 - dcr.share_closer_to_train)),
                "rows_compared_for_share": dcr.rows_compared_for_share,
                "median_distance_ratio": _finite(dcr.median_distance_ratio),
                "median_distance_ratio_baseline": 1.0,
                "median_distance_ratio_score": _finite(min(1.0, dcr.median_distance_ratio)),
                "tail_share": dcr.tail_share,
                "tail_share_baseline": DCR_TAIL_QUANTILE,
                "tail_share_reference": "distance to training rows unique in train and absent from the holdout",
                "unique_train_rows": dcr.unique_train_rows,
                "null_median": _median(dcr.null),
                "nndr_synthetic_quantiles": _quantiles(dcr.nndr_synthetic),
                "nndr_holdout_quantiles_baseline": _quantiles(dcr.nndr_holdout),
            },
            "membership_inference": {
                "attack": "score = -distance to nearest synthetic row; training vs holdout candidates",
                "auc": self.membership_inference.auc,
                "auc_ci95": [self.membership_inference.ci_low, self.membership_inference.ci_high],
                "auc_baseline": 0.5,
                "candidates_per_group": self.membership_inference.candidates_per_group,
                "null_median": _median(self.membership_inference.null),
            },
            "singling_out": self.singling_out.to_dict(),
            "linkability": self.linkability.to_dict() if self.linkability else {"skipped": "needs 2+ columns"},
            "attribute_inference": {
                "max_risk": worst.risk if worst else 0.0,
                "max_risk_column": worst.detail.get("secret") if worst else None,
                "columns": inference,
            },
        }


def privacy_gate_values(result: PrivacyResult, thresholds: dict[str, float] | None = None, *,
                        alpha: float | None = None, tolerances: dict[str, float] | None = None) -> dict[str, dict]:
    """The three privacy gates, each judged against its measured null (core.gates.judge) at false-alarm rate
    `alpha`; `thresholds` (the policy's) apply only where no null could be drawn. Records carry the Gate fields."""
    thresholds, tolerances = thresholds or {}, tolerances or {}
    alpha = float(CALIBRATION_DEFAULTS["false_alarm_rate"] if alpha is None else alpha)
    copies, dcr, mia = result.exact_copies, result.distance_to_closest_record, result.membership_inference
    n_syn = result.rows.get("synthetic", copies.synthetic_rows)
    values = {
        "exact_copies": (copies.memorised_rate, copies.null, (
            f"{copies.memorised_rate:.2%} of synthetic rows ({len(copies.memorised_positions)}) copy a training row "
            f"unique in train and absent from the holdout (memorised); {copies.natural_rate:.2%} copy natural "
            f"duplicates (repeated in train or present in the holdout), not judged; holdout rows hit unique "
            f"training rows at {copies.holdout_memorised_rate:.2%}")),
        "distance_to_closest_record": (dcr.tail_share, dcr.null, (
            f"{dcr.tail_share:.2%} of all synthetic rows are closer to the unique training rows "
            f"({dcr.unique_train_rows}) than {1 - DCR_TAIL_QUANTILE:.0%} of holdout rows are (zero distances "
            f"included); {dcr.share_closer_to_train:.2%} closer to train than to holdout (baseline 50%)")),
        "membership_inference": (mia.auc, mia.null, (
            f"distance attack AUC {mia.auc:.3f} (95% CI {mia.ci_low:.3f}-{mia.ci_high:.3f}, "
            f"{mia.candidates_per_group} candidates a group); 0.5 = no leak")),
    }
    analytic = _analytic_bounds(result, n_syn, alpha)
    out = {}
    for name, (value, null, detail) in values.items():
        # Without a null (holdout too small to resample) a stated analytic bound applies, never stricter than
        # the policy's fixed threshold: at a few dozen rows the fixed threshold alone fails clean samples.
        fallback = max(thresholds.get(name, spec(name).threshold), analytic[name])
        if name == "distance_to_closest_record" and dcr.unique_train_rows == 0:
            out[name] = {"name": name, "value": float(value), "threshold": fallback, "passed": True,
                         "detail": "not judgeable: every training row is a natural duplicate (repeated in train "
                                   "or present in the holdout), so no row can be memorised",
                         "null_median": None, "floor": None, "tail_probability": None, "judgeable": False}
            continue
        min_sd = chance_auc_sd(mia.candidates_per_group) if name == "membership_inference" else 0.0
        judged = judge(name, float(value), null, alpha=alpha, tolerance=tolerances.get(name, 0.0), fallback=fallback,
                       min_sd=min_sd)
        if judged.source == "null":
            detail += (f"; real rows posing as a synthetic table of {n_syn} rows: median {judged.null_median:.4f}, "
                       f"{rule_text(name, judged.bound)} at false-alarm rate {alpha:g} "
                       f"(tail probability {judged.tail_probability:.3f})")
            if min_sd:
                detail += f"; spread at least a chance classifier's ({min_sd:.4f})"
        else:
            detail += (f"; holdout too small to resample: {rule_text(name, judged.bound)}, the larger of the "
                       f"policy's fixed threshold and the analytic bound {analytic[name]:.4f} ({ANALYTIC_NULLS[name]} "
                       f"at false-alarm rate {alpha:g})")
        out[name] = {"name": name, "value": float(value), "threshold": judged.bound, "passed": judged.passed,
                     "detail": detail, "null_median": judged.null_median,
                     "floor": judged.bound if judged.source == "null" else None,
                     "tail_probability": judged.tail_probability, "judgeable": True}
    return out


ANALYTIC_NULLS = {
    "exact_copies": "binomial upper quantile of the holdout's memorised rate at the synthetic size",
    "distance_to_closest_record": "binomial upper quantile of the 5% tail share at the synthetic size",
    "membership_inference": "normal approximation of the Mann-Whitney AUC of two equal groups under no leak",
}


def _analytic_bounds(result: PrivacyResult, n_synthetic: int, alpha: float) -> dict[str, float]:
    """Each privacy gate's bound from a stated distribution, for holdouts too small to resample."""
    from scipy.stats import binom, norm

    n = max(int(n_synthetic), 1)
    k = max(int(result.membership_inference.candidates_per_group), 1)
    return {
        "exact_copies": float(binom.ppf(1 - alpha, n, result.exact_copies.holdout_memorised_rate)) / n,
        "distance_to_closest_record": float(binom.ppf(1 - alpha, n, DCR_TAIL_QUANTILE)) / n,
        "membership_inference": 0.5 + float(norm.ppf(1 - alpha)) * chance_auc_sd(k),
    }


# --- Entry point ---------------------------------------------------------------------------------
def evaluate_privacy(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    metadata: Metadata,
    *,
    seed: int = 0,
    near_copy_distance: float = NEAR_COPY_DISTANCE,
    n_attacks: int = 500,
    max_membership_candidates: int = 10_000,
    inference_secrets: Sequence[str] | None = None,
    resamples: int = int(CALIBRATION_DEFAULTS["resamples"]),
    min_real_rows: int = int(CALIBRATION_DEFAULTS["min_real_rows"]),
    progress: Progress = None,
    nearest_time_budget_seconds: float | None = None,
    holdout_groups: np.ndarray | None = None,
    encoded: EncodedTables | None = None,
) -> PrivacyResult:
    """Run every privacy check on coerced tables (training, synthetic, holdout) and return the result; the
    gates' nulls take `resamples` draws (none when the holdout has fewer than `min_real_rows` rows).
    holdout_groups: per holdout row the entity it belongs to (a parent-child join's rows of one parent
    entity), so the DCR and membership nulls move whole entities; None when rows are independent.
    `encoded`: the evaluation's encoded tables (core.data.encoding.encode_tables), else encoded here."""
    if holdout is None:
        raise UsageError("privacy checks need a holdout table (real rows not used for training) as baseline")
    for role, frame in (("training", train), ("synthetic", synthetic), ("holdout", holdout)):
        if len(frame) < 2:
            raise UsageError(f"privacy checks need at least 2 rows in the {role} table, got {len(frame)}")
    report = progress or (lambda fraction, message: None)
    encoded = encoded_for({"real": train, "synthetic": synthetic, "holdout": holdout}, metadata, encoded)
    encoding = encoded.distance_encoding()
    roles = ("real", "synthetic", "holdout")
    train_enc, syn_enc, hold_enc = (encoded.coordinates(role) for role in roles)

    report(0.0, "exact copies")
    columns = list(encoding.columns)
    draws = resamples if len(holdout) >= min_real_rows else 0
    hashes = tuple(row_hashes(f, columns, encoded.level_codes(role)) for f, role in zip((train, synthetic, holdout), roles))
    copies = exact_copies(train, synthetic, holdout, columns, resamples=draws, seed=seed, hashes=hashes)
    train_hash, hold_hash = hashes[0], hashes[2]

    dcr = distance_to_closest_record(
        train_enc, syn_enc, hold_enc, unique_train=unique_training_rows(train_hash, hold_hash),
        holdout_hits=holdout_hits_unique(train_hash, hold_hash), resamples=draws, seed=seed,
        holdout_groups=holdout_groups,
        progress=_sub_progress(report, 0.05, 0.55, "distance to closest record"),
        **({} if nearest_time_budget_seconds is None else {"time_budget_seconds": nearest_time_budget_seconds}),
    )
    near = np.flatnonzero(dcr.synthetic_to_train <= near_copy_distance)
    near = near[np.argsort(dcr.synthetic_to_train[near], kind="stable")]
    near_copies = NearCopies(
        near_copy_distance,
        len(near) / len(synthetic),
        float(np.mean(dcr.holdout_to_train <= near_copy_distance)),
        near,
        dcr.synthetic_nearest_train_position[near],
        dcr.synthetic_to_train[near],
    )

    report(0.55, "membership inference")
    mia = membership_inference(train_enc, syn_enc, hold_enc, seed=seed, max_candidates=max_membership_candidates,
                               resamples=draws, holdout_groups=holdout_groups)

    report(0.65, "singling out")
    numeric = np.array([encoding.sdtypes[c] in ("numerical", "datetime") for c in columns])
    matrices = [attack_matrix(f, encoding, encoded.level_codes(role)) for f, role in zip((train, synthetic, holdout), roles)]
    singling = singling_out_risk(*matrices, numeric, n_attacks=n_attacks, seed=seed)

    report(0.75, "linkability")
    linkability = linkability_risk(train_enc, syn_enc, hold_enc, encoding, n_attacks=n_attacks, seed=seed)

    secrets = list(inference_secrets) if inference_secrets is not None else columns
    inference = {}
    for i, secret in enumerate(secrets):
        report(0.8 + 0.2 * i / max(len(secrets), 1), f"attribute inference: {secret}")
        inference[secret] = attribute_inference_risk(
            train, synthetic, holdout, encoding, (train_enc, syn_enc, hold_enc), secret, n_attacks=n_attacks, seed=seed
        )
    report(1.0, "privacy checks done")
    return PrivacyResult(
        seed=seed,
        rows={"train": len(train), "synthetic": len(synthetic), "holdout": len(holdout)},
        columns=encoding.columns,
        skipped=dict(encoding.skipped),
        exact_copies=copies,
        near_copies=near_copies,
        distance_to_closest_record=dcr,
        membership_inference=mia,
        singling_out=singling,
        linkability=linkability,
        attribute_inference=inference,
    )


def _sub_progress(progress: Progress, low: float, high: float, message: str | None = None) -> Progress:
    if progress is None:
        return None
    return lambda fraction, text: progress(low + (high - low) * fraction, message or text)


def _quantiles(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {str(q): None for q in QUANTILES}
    return {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES))}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _median(values: np.ndarray | None) -> float | None:
    return float(np.median(values)) if values is not None and len(values) else None
