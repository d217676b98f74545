"""PII replay (SDV's get_pii_overlap, NeMo's PII replay): values of id, text and high-cardinality columns
(names, e-mails, free text) that appear verbatim in the training rows, against the holdout's own rate.

Columns judged: id and text columns, and categorical columns whose real distinct share is at least
HIGH_CARDINALITY (most values unique, as names and e-mails are). A value's identity is its text with
surrounding blanks removed. Per column the statistic is the share of present synthetic values found among
the training values; its null is the share a fresh real sample of the synthetic size shows given the
holdout's own share found among them (common.judge_binomial_items: Beta-binomial, so a holdout with few
present values gives the wide null it should): fresh real rows share common first names, so only replay
beyond that is a leak.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.checks.structure.common import Item, items_gate, judge_binomial_items
from core.gates import Gate

HIGH_CARDINALITY = 0.5
ROWS_KEPT = 1_000


@dataclass
class PiiResult:
    """Per judged column: overlap shares, the replayed synthetic rows, judged items and the gate."""

    columns: list[str]
    items: list[Item]
    replayed_rows: dict[str, np.ndarray]  # column -> synthetic row positions whose value is in train
    examples: dict[str, list[str]] = field(default_factory=dict)  # column -> a few replayed values
    gate: Gate | None = None
    skipped: str | None = None

    def to_dict(self) -> dict:
        """The report's `structure.pii_replay` section (values themselves are left out of the report)."""
        return {"skipped": self.skipped, "columns": [
            {**i.to_dict(), "replayed_rows": int(len(self.replayed_rows.get(i.label, [])))} for i in self.items]}


def pii_columns(train: pd.DataFrame, metadata: dict[str, str]) -> list[str]:
    """Id and text columns, and categorical ones whose real values are mostly distinct."""
    out = []
    for column, sdtype in metadata.items():
        if sdtype in ("id", "text"):
            out.append(column)
        elif sdtype == "categorical":
            present = train[column].dropna()
            if len(present) and present.nunique() / len(present) >= HIGH_CARDINALITY:
                out.append(column)
    return out


def _keys(series: pd.Series) -> pd.Series:
    return series.dropna().astype(str).str.strip()


def evaluate_pii_replay(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                        metadata: dict[str, str], *, alpha: float = 0.01, seed: int = 0) -> PiiResult:
    """Share of synthetic id/text/high-cardinality values replayed from train, judged against the holdout's
    (exactly, so `seed` draws nothing; it is the structure family's common signature)."""
    columns = pii_columns(train, metadata)
    if holdout is None:
        return PiiResult(columns, [], {}, skipped="no holdout: the null needs real rows not trained on")
    values, rows, examples = [], {}, {}
    for column in columns:
        seen = pd.Index(_keys(train[column]).unique())
        syn = _keys(synthetic[column])
        hit = syn.isin(seen)
        rows[column] = np.flatnonzero(synthetic[column].notna().to_numpy())[hit.to_numpy()][:ROWS_KEPT]
        examples[column] = list(syn[hit].unique()[:5])
        hold = _keys(holdout[column])
        hold_hits = int(hold.isin(seen).sum())
        share = float(hit.mean()) if len(syn) else 0.0
        values.append((column, share, hold_hits, max(len(hold), 1), max(len(syn), 1),
                       hold_hits / max(len(hold), 1), share))
    items = judge_binomial_items("pii_replay", values, alpha, predictive=True)
    return PiiResult(columns, items, rows, examples,
                     items_gate("pii_replay", items, "columns", "no id, text or high-cardinality column"))
