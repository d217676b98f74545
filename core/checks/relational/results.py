"""Result records of the relational checks: integrity, cardinality and inter-table trends per relationship."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.data.relational import RelationalMetadata, Relationship
from core.gates import Gate


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class RelationalGate(Gate):
    """A gate of relational data: a table's own gate (named table) or a relationship's (named relationship)."""

    table: str | None = None
    relationship: str | None = None

    def to_dict(self) -> dict:
        """The contract's gate record plus "table" or "relationship" (additions)."""
        out = super().to_dict()
        if self.table is not None:
            out["table"] = self.table
        if self.relationship is not None:
            out["relationship"] = self.relationship
        return out


@dataclass
class IntegrityResult:
    """Orphan and null foreign keys of a relationship, duplicate and null primary keys of its parent."""

    real_child_rows: int
    synthetic_child_rows: int
    real_orphans: int
    synthetic_orphans: int
    real_null_foreign_keys: int
    synthetic_null_foreign_keys: int
    real_duplicate_primary_keys: int
    synthetic_duplicate_primary_keys: int
    real_null_primary_keys: int
    synthetic_null_primary_keys: int
    real_parent_rows: int
    synthetic_parent_rows: int
    orphan_null: np.ndarray | None = None  # orphan share of real entity resamples at the synthetic size
    null_foreign_key_null: np.ndarray | None = None  # the same for null foreign keys

    @staticmethod
    def _share(count: int, rows: int) -> float:
        return count / rows if rows else 0.0

    @property
    def real_orphan_share(self) -> float:
        """Share of real child rows whose foreign key no real parent holds."""
        return self._share(self.real_orphans, self.real_child_rows)

    @property
    def synthetic_orphan_share(self) -> float:
        """Share of synthetic child rows whose foreign key no synthetic parent holds."""
        return self._share(self.synthetic_orphans, self.synthetic_child_rows)

    @property
    def referential_integrity_score(self) -> float:
        """sdmetrics' ReferentialIntegrity: share of synthetic foreign keys that find a parent (null keys left out
        when the real data has null keys too, else counted as missing parents)."""
        rows = self.synthetic_child_rows
        nulls = self.synthetic_null_foreign_keys
        if self.real_null_foreign_keys:
            rows -= nulls
            nulls = 0
        return (rows - self.synthetic_orphans - nulls) / rows if rows else float("nan")

    def to_dict(self) -> dict:
        """Counts and shares, real and synthetic."""
        out = {"referential_integrity_score": _num(self.referential_integrity_score)}
        for what, rows in (("orphans", "child_rows"), ("null_foreign_keys", "child_rows"),
                           ("duplicate_primary_keys", "parent_rows"), ("null_primary_keys", "parent_rows")):
            for side in ("real", "synthetic"):
                count = getattr(self, f"{side}_{what}")
                out[f"{side}_{what}"] = int(count)
                out[f"{side}_{what}_share"] = self._share(count, getattr(self, f"{side}_{rows}"))
        for side in ("real", "synthetic"):
            out[f"{side}_child_rows"] = int(getattr(self, f"{side}_child_rows"))
            out[f"{side}_parent_rows"] = int(getattr(self, f"{side}_parent_rows"))
        return out


@dataclass
class CardinalityResult:
    """Children per parent, real and synthetic: sdmetrics' CardinalityShapeSimilarity (KS complement)."""

    score: float
    real_counts: np.ndarray
    synthetic_counts: np.ndarray
    null: np.ndarray | None = None  # the score on real parent resamples (reference n vs sample m parents)

    @property
    def boundary_adherence(self) -> float:
        """sdmetrics' CardinalityBoundaryAdherence: share of synthetic parents whose child count lies within the
        real counts' [min, max]."""
        if len(self.real_counts) == 0 or len(self.synthetic_counts) == 0:
            return float("nan")
        low, high = np.min(self.real_counts), np.max(self.real_counts)
        return float(np.mean((self.synthetic_counts >= low) & (self.synthetic_counts <= high)))

    def to_dict(self) -> dict:
        """Score and the count distributions (as {children: parents} histograms)."""
        def histogram(counts: np.ndarray) -> dict[str, int]:
            values, freq = np.unique(np.asarray(counts, dtype=int), return_counts=True)
            return {str(int(v)): int(f) for v, f in zip(values, freq)}
        return {"metric": "CardinalityShapeSimilarity", "score": _num(self.score),
                "boundary_adherence": _num(self.boundary_adherence),
                "real": histogram(self.real_counts), "synthetic": histogram(self.synthetic_counts),
                "real_mean": _num(np.mean(self.real_counts)) if len(self.real_counts) else None,
                "synthetic_mean": _num(np.mean(self.synthetic_counts)) if len(self.synthetic_counts) else None,
                "null_median": _num(np.median(self.null)) if self.null is not None and len(self.null) else None}


@dataclass
class IntertablePair:
    """One parent column vs one child column over the join (sdmetrics' InterTableTrends item)."""

    parent_column: str
    child_column: str
    metric: str  # CorrelationSimilarity | ContingencySimilarity
    score: float
    real: float | None  # Pearson r (correlation pairs), else None
    synthetic: float | None
    null: np.ndarray | None = None
    floor: float | None = None
    null_median: float | None = None
    tail_probability: float | None = None

    def to_dict(self) -> dict:
        """The pair's record."""
        return {"columns": [self.parent_column, self.child_column], "metric": self.metric,
                "score": _num(self.score), "real": _num(self.real), "synthetic": _num(self.synthetic),
                "floor": _num(self.floor), "null_median": _num(self.null_median),
                "tail_probability": _num(self.tail_probability)}


@dataclass
class RelationshipResult:
    """Everything judged about one parent-child relationship."""

    relationship: Relationship
    integrity: IntegrityResult
    cardinality: CardinalityResult
    intertable: list[IntertablePair] = field(default_factory=list)
    privacy: dict | None = None  # the privacy section on the denormalised join (child rows + parent columns)

    @property
    def intertable_score(self) -> float:
        """Mean pair score (sdmetrics' InterTableTrends for this relationship)."""
        scores = [p.score for p in self.intertable if p.score is not None and math.isfinite(p.score)]
        return float(np.mean(scores)) if scores else float("nan")

    def to_dict(self) -> dict:
        """The relationship's report record."""
        r = self.relationship
        return {"relationship": r.label, "parent_table": r.parent_table, "parent_primary_key": r.parent_primary_key,
                "child_table": r.child_table, "child_foreign_key": r.child_foreign_key,
                "integrity": self.integrity.to_dict(), "cardinality": self.cardinality.to_dict(),
                "intertable_trends": {"score": _num(self.intertable_score),
                                      "pairs": [p.to_dict() for p in self.intertable]},
                "privacy": self.privacy if self.privacy is not None else {"skipped": "not run"}}


@dataclass
class RelationalEvaluation:
    """A multi-table review: every table's own evaluation, every relationship's, and all their gates."""

    metadata: RelationalMetadata
    tables: dict  # table -> core.report.Evaluation
    relationships: list[RelationshipResult]
    gates: list[Gate]
    table_sha256: dict[str, dict[str, str]] = field(default_factory=dict)  # side -> table -> sha256
    skipped_tables: dict[str, str] = field(default_factory=dict)  # table -> why it has no column checks
    inputs: dict = field(default_factory=dict)  # side -> contract input record (+ "tables": per-table records)
    seed: int = 0

    @property
    def verdict(self) -> str:
        """'pass' when every gate passed, else 'fail'."""
        return "pass" if all(g.passed for g in self.gates) else "fail"

    def to_dict(self) -> dict:
        """The report JSON: single-table keys kept (from the largest table), plus "tables" and "relationships"."""
        from core import __version__

        per_table = {}
        for name in self.metadata.tables:
            if name in self.tables:
                record = self.tables[name].to_dict()
            else:
                record = {"skipped": self.skipped_tables.get(name, "not evaluated")}
            record["sha256"] = {side: hashes.get(name) for side, hashes in self.table_sha256.items()}
            per_table[name] = record
        largest = max(self.tables, key=lambda t: len(self.tables[t].inputs.frames["real"]), default=None)
        report = dict(self.tables[largest].to_dict()) if largest else {"schema_version": 1, "tool_version": __version__}
        report["inputs"] = {side: self.inputs.get(side) for side in ("real", "synthetic", "holdout")}
        report["mode"] = "relational"
        # "metadata" keeps the contract's {column: {sdtype}} shape (the largest table's); every table's is added
        report["relational_metadata"] = self.metadata.to_sdv_dict()
        report["tables"] = per_table
        report["relationships"] = [r.to_dict() for r in self.relationships]
        report["gates"] = [g.to_dict() for g in self.gates]
        report["verdict"] = self.verdict
        return report

    def to_json(self) -> dict:
        """to_dict as plain JSON values (numpy scalars and arrays as numbers and lists), as the store keeps it."""
        import json

        return json.loads(json.dumps(self.to_dict(), default=numpy_json_default))


def numpy_json_default(value):
    """json.dumps' `default` for the report's numpy values: scalars as numbers, arrays as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
