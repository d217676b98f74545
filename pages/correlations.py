"""Correlations: association heatmaps, the pairs that lost the most association, and a chosen pair's joint view."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from components.cache import PLOT_POINTS, associations, figure, joint, plot_sample
from components.figures import association_heatmaps, box_pair, contingency_heatmaps
from components.state import require_app_entry
from components.widgets import follow_table_selection, review_or_stop
from core.data.metadata import CONTINUOUS_SDTYPES

require_app_entry()
st.title("Correlations")
review, inputs, result = review_or_stop()
metadata = inputs.metadata
st.caption(f"Scores and matrices use every row ({len(inputs.frames['real']):,} real, "
           f"{len(inputs.frames['synthetic']):,} synthetic). Association: Pearson r for two numbers, "
           "Cramer's V for two categories, the correlation ratio for a number and a category.")

method = st.segmented_control("Correlation of two numbers", ["pearson", "spearman"], default="pearson",
                              key="correlations_method")
matrices = associations(review, method or "pearson")
heatmaps = figure(("associations", review.table_key(), method or "pearson"), lambda: association_heatmaps(matrices))
st.plotly_chart(heatmaps, key="correlations_heatmaps", config={"displaylogo": False})

pairs = result.fidelity.pair_trends
floors = result.floors
# Pass or fail is the gate's verdict per pair (a pair below its floor may pass on its Spearman null).
verdicts = {item["item"]: item["passed"] for gate in result.gates if gate.name == "column_pair_trends"
            for item in gate.items}


def _loss(p) -> float:
    if p.real is None or p.synthetic is None:
        return 0.0
    return abs(p.real) - abs(p.synthetic)


def _label(p) -> str:
    return f"{p.columns[0]} / {p.columns[1]}"


def _order(p) -> tuple:
    # Failing pairs first, furthest below their floor first: the order of the Summary's column_pair_trends gate.
    floor = floors.get(_label(p))
    margin = p.score - floor if floor is not None else float("inf")
    return (0, margin, _label(p)) if not verdicts.get(_label(p), True) else (1, -_loss(p), p.score)


ordered = sorted(pairs, key=_order)
labels = [_label(p) for p in ordered]
table = pd.DataFrame([{
    "pair": label, "metric": p.metric, "real association": p.real, "synthetic association": p.synthetic,
    "loss": _loss(p), "score": p.score, "holdout": p.expected, "real sample": p.null_median,
    "floor": floors.get(label),
    "passes": "yes" if verdicts.get(label, True) else "NO",
} for label, p in zip(labels, ordered)])

# The table spans the page (every column of it readable at 1,440 px), the chosen pair below it.
st.markdown("**Pairs below their floor first** (furthest below first, as on the Summary), then the largest loss "
            "of association (select a row to show it)")
event = st.dataframe(
    table, hide_index=True, width="stretch", height=420, key="correlations_table",
    on_select="rerun", selection_mode="single-row",
    column_order=["pair", "real association", "synthetic association", "score", "real sample", "floor",
                  "passes", "holdout"],
    column_config={
        "pair": st.column_config.TextColumn("pair", width="large"),
        "real association": st.column_config.NumberColumn("real", format="%.3f"),
        "synthetic association": st.column_config.NumberColumn("synthetic", format="%.3f"),
        "loss": st.column_config.NumberColumn("loss", format="%+.3f", help="|real| - |synthetic| association"),
        "score": st.column_config.NumberColumn("score", format="%.3f"),
        "holdout": st.column_config.NumberColumn("holdout", format="%.3f"),
        "real sample": st.column_config.NumberColumn("a real sample scores", format="%.3f",
                                                     help="median of real-vs-real resamples of this size"),
        "floor": st.column_config.NumberColumn("floor", format="%.3f"),
    },
)
follow_table_selection(event, labels, "correlations_pair")


@st.fragment
def _chosen_pair() -> None:
    """The chosen pair's scores and joint view: a fragment, so choosing another pair reruns only this part."""
    label = st.selectbox("Pair", labels, key="correlations_pair")
    pair = ordered[labels.index(label)]
    x, y = pair.columns
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Real association", f"{pair.real:.3f}" if pair.real is not None else "n/a")
    m2.metric("Synthetic association", f"{pair.synthetic:.3f}" if pair.synthetic is not None else "n/a")
    m3.metric(pair.metric, f"{pair.score:.3f}")
    m4.metric("A real sample scores", f"{pair.null_median:.3f}" if pair.null_median is not None
              else "not resampled", help="median of real-vs-real resamples of this size; floor "
              + (f"{floors[label]:.3f}" if floors.get(label) is not None else "-") + "; holdout's own score: "
              + (f"{pair.expected:.3f}" if pair.expected is not None else "no holdout"))
    x_num, y_num = metadata[x] in CONTINUOUS_SDTYPES, metadata[y] in CONTINUOUS_SDTYPES
    if x_num and y_num:
        # Shares on a grid of shared bins over every row: a few hundred cells for the browser to draw where a
        # scatter drew thousands of points (and sampled them).
        chart = figure(("joint", review.table_key(), x, y), lambda: contingency_heatmaps(joint(review, x, y)))
        st.plotly_chart(chart, key="correlations_pair_chart", config={"displaylogo": False})
        st.caption("Share of rows in each cell of a grid of equal-width bins shared by both tables, "
                   "over every row.")
    elif x_num != y_num:
        number, category = (x, y) if x_num else (y, x)
        chart = figure(("box", review.table_key(), category, number),
                       lambda: box_pair(plot_sample(review, (category, number)), category, number))
        st.plotly_chart(chart, key="correlations_pair_chart",
                        config={"displaylogo": False})
        st.caption(f"Boxes of {number} for the 15 most frequent {category} values, from a seeded sample of "
                   f"{PLOT_POINTS:,} rows per table; the scores use every row.")
    else:
        chart = figure(("contingency", review.table_key(), x, y), lambda: contingency_heatmaps(joint(review, x, y)))
        st.plotly_chart(chart, key="correlations_pair_chart",
                        config={"displaylogo": False})
        st.caption("Share of rows in each pair of categories (the 30 most frequent of each column; "
                   "the rest under '(other)'), over every row.")


_chosen_pair()
