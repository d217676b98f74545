"""Relational checks: each table's own review, plus referential integrity, cardinality and inter-table trends
per parent-child relationship (sdmetrics' multi-table definitions), judged against real parent resamples.

evaluate.py computes and judges; results.py holds the records and the report JSON.
"""
from core.checks.relational.evaluate import (cardinality, child_counts, denormalise, evaluate_relational, integrity,
                                             intertable, pair_score, relational_gates, relational_review)
from core.checks.relational.results import (CardinalityResult, IntegrityResult, IntertablePair, RelationalEvaluation,
                                            RelationalGate, RelationshipResult)

RELATIONAL_GATES = ("referential_integrity", "cardinality", "intertable_trends")

__all__ = ["CardinalityResult", "IntegrityResult", "IntertablePair", "RELATIONAL_GATES", "RelationalEvaluation",
           "RelationalGate", "RelationshipResult", "cardinality", "child_counts", "denormalise", "evaluate_relational",
           "integrity", "intertable", "pair_score", "relational_gates", "relational_review"]
