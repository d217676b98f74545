"""AppTest: Correlations lists failing pairs in the Summary's order; the checklist names a waived gate as waived."""
from __future__ import annotations

import pandas as pd


def _frame_with(at, column: str) -> pd.DataFrame:
    for element in at.dataframe:
        value = element.value
        frame = getattr(value, "data", value)
        if column in getattr(frame, "columns", []):
            return frame
    raise AssertionError(f"no dataframe with a '{column}' column")


def test_correlations_puts_failing_pairs_first_in_the_summary_gate_order(app, open_page):
    from components.cache import evaluation

    review = app.session_state["review"]
    result = evaluation(review)
    floors = result.floors
    gate = next(g for g in result.gates if g.name == "column_pair_trends")
    failed = {item["item"] for item in gate.items if not item["passed"]}
    failing = sorted((p.score - floors[" / ".join(p.columns)], " / ".join(p.columns))
                     for p in result.fidelity.pair_trends if " / ".join(p.columns) in failed)
    open_page(app, "correlations")
    table = _frame_with(app, "passes")
    assert list(table["pair"][:len(failing)]) == [label for _, label in failing]
    assert set(table["passes"][:len(failing)]) <= {"NO"} and "NO" not in set(table["passes"][len(failing):])
    if failing:  # the Summary's gate detail names the worst ones in the same order
        named = gate.detail.split(": ", 1)[1].split("; ")[:5]  # the gate names the five worst
        labels = [label for _, label in failing][:len(named)]
        assert all(n.startswith(label + " ") for n, label in zip(named, labels)), (named, labels)


def test_a_passed_gate_rule_is_named_for_what_happened():
    from components.signoff_views import _rule_label
    from core.review.signoff import RuleCheck

    assert _rule_label(RuleCheck("gate_failed", True, "gate 'privacy' failed, waived: known issue")) == "gate waived"
    assert _rule_label(RuleCheck("gate_failed", True, "all 7 gate(s) passed")) == "gates passed"
    assert _rule_label(RuleCheck("gate_failed", False, "gate 'privacy' failed and has no waiver")) == "gate_failed"
