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


def test_data_table_names_files_and_says_their_folder_below(app):
    """The inputs table fits 1,440 px: the file's name in the table, its folder in the caption below."""
    from pathlib import Path

    review = app.session_state["review"]
    table = _frame_with(app, "sha256")
    assert list(table["file"]) == [Path(review.tables[r].path).name for r in ("real", "synthetic", "holdout")]
    folder = str(Path(review.tables["real"].path).parent)
    assert any(folder in c.value for c in app.caption)


def test_a_titled_figure_keeps_title_legend_and_toolbar_apart():
    """The title top-left at the figure's top, the legend on its own line below it (above the plot area), and
    the toolbar top-right: none covers another."""
    import plotly.graph_objects as go

    from components.figures import LAYOUT, TITLE_MARGIN, titled_layout

    assert titled_layout("") == LAYOUT
    fig = go.Figure(go.Bar(x=[1], y=[1], name="real")).update_layout(**titled_layout("age: 0.5"))
    layout = fig.layout
    assert layout.title.text == "age: 0.5" and layout.title.yref == "container" and layout.title.yanchor == "top"
    assert layout.title.xanchor == "left" and layout.legend.xanchor == "left"
    assert layout.legend.yanchor == "bottom" and layout.legend.y >= 1  # above the plot area, below the title
    assert layout.margin.t == TITLE_MARGIN


def test_summary_gate_details_are_readable_in_full(app, open_page):
    """The gates table shows the detail's start (to fit 1,440 px); every gate's detail is below it in full."""
    from components.cache import evaluation

    result = evaluation(app.session_state["review"])
    open_page(app, "summary")
    assert any(e.label == "Each gate's detail in full" for e in app.expander)
    texts = [t.value for t in app.text]
    for gate in result.gates:
        assert gate.detail in texts, gate.name


def test_membership_figure_draws_the_bound_the_gate_applied():
    """The membership chart's gate line is the gate's own bound (its measured null), not the policy's fallback."""
    from types import SimpleNamespace

    from components.privacy_views import membership_figure

    mia = SimpleNamespace(auc=0.513, ci_low=0.495, ci_high=0.531)
    fig = membership_figure(SimpleNamespace(membership_inference=mia), 0.5208)
    lines = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert [s.x0 for s in lines] == [0.5208]
    assert any(a.text == "gate bound 0.521" for a in fig.layout.annotations)
