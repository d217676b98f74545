"""Columns: every column's marginal, real vs synthetic on the same bins, with its score and the holdout's."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from components.cache import figure, marginal
from components.figures import marginal_figure
from components.state import require_app_entry
from components.widgets import follow_table_selection, review_or_stop

require_app_entry()
st.title("Columns")
review, inputs, result = review_or_stop()
shapes = sorted(result.fidelity.column_shapes, key=lambda c: c.score)
floors = result.floors
validity = result.validity.columns
# Pass or fail is the column_shapes gate's verdict per column (core.report judges; the page only shows it).
verdicts = {item["item"]: item["passed"] for gate in result.gates if gate.name == "column_shapes"
            for item in gate.items}
st.caption(f"Scores use every row ({len(inputs.frames['real']):,} real, {len(inputs.frames['synthetic']):,} "
           "synthetic). KSComplement for numbers and dates, TVComplement for categories; 1 is identical. "
           "'A real sample scores' is the median score of real-vs-real resamples of the synthetic table's size; "
           "the floor is that null's quantile at the policy's false-alarm rate (Bonferroni over the columns). "
           "The holdout column is the holdout's own score, for reference.")

table = pd.DataFrame([{
    "column": c.column, "type": c.sdtype, "metric": c.metric, "score": c.score,
    "holdout": c.expected, "floor": floors.get(c.column), "real sample": c.null_median,
    "passes": "NO" if verdicts.get(c.column) is False else "yes",
    "largest gap at": c.at or "",
    "missing categories": ", ".join(validity[c.column].missing_categories) if c.column in validity else "",
} for c in shapes])
names = [c.column for c in shapes]

# The table spans the page (every column of it readable at 1,440 px), the chosen column below it.
st.markdown("**All columns, worst first** (select a row to show it)")
event = st.dataframe(
    table, hide_index=True, width="stretch", height=min(38 + 35 * len(table), 420), key="columns_table",
    on_select="rerun", selection_mode="single-row",
    column_order=["column", "score", "real sample", "floor", "passes", "holdout", "type"],
    column_config={
        "score": st.column_config.NumberColumn("score", format="%.3f"),
        "holdout": st.column_config.NumberColumn("holdout", format="%.3f"),
        "real sample": st.column_config.NumberColumn("a real sample scores", format="%.3f",
                                                     help="median of real-vs-real resamples of this size"),
        "floor": st.column_config.NumberColumn("floor", format="%.3f"),
    },
)
follow_table_selection(event, names, "columns_choice")


@st.fragment
def _chosen_column() -> None:
    """The chosen column's scores and chart: a fragment, so choosing another column reruns only this part."""
    column = st.selectbox("Column", names, key="columns_choice")
    shape = next(c for c in shapes if c.column == column)
    m1, m2, m3 = st.columns(3)
    m1.metric("Score", f"{shape.score:.3f}")
    m2.metric("A real sample scores", f"{shape.null_median:.3f}" if shape.null_median is not None
              else "not resampled", help="median of real-vs-real resamples of this size; holdout's own score: "
              + (f"{shape.expected:.3f}" if shape.expected is not None else "no holdout"))
    floor = floors.get(column)
    passes = verdicts.get(column) is not False
    m3.metric("Floor", f"{floor:.3f}" if floor is not None else "-", delta="passes" if passes else "below floor",
              delta_color="normal" if passes else "inverse", delta_arrow="off")
    chart = figure(("marginal", review.table_key(), column), lambda: marginal_figure(marginal(review, column)))
    st.plotly_chart(chart, key="columns_chart",
                    config={"displaylogo": False})
    v = validity.get(column)
    if v is not None:
        notes = []
        if v.out_of_range_share:
            notes.append(f"{v.out_of_range_share:.2%} of synthetic values outside the real range")
        if v.unseen_category_share:
            notes.append(f"{v.unseen_category_share:.2%} synthetic values in categories the real data never had")
        if v.null_median is not None:
            bound = f", at most {v.floor:.2%}" if v.floor is not None else ""
            notes.append(f"invalid values: {v.invalid_share:.2%}; a real sample of this size: {v.null_median:.2%}{bound}")
        if v.missing_categories:
            notes.append(f"{len(v.missing_categories)} real categories missing from the synthetic data")
        if v.collapsed_tails:
            notes.append("collapsed tail(s): " + ", ".join(v.collapsed_tails))
        notes.append(f"missing values: real {v.missing_share_real:.1%}, synthetic {v.missing_share_synthetic:.1%}")
        st.caption(" · ".join(notes))
        if v.missing_categories:
            st.dataframe(pd.DataFrame({"real category missing from the synthetic data": v.missing_categories}),
                         hide_index=True, key="columns_missing_categories")


_chosen_column()
