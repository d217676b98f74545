"""Structure: what single columns and pairs miss (detection, three-way tables, missingness, rules, PII, PCA)."""
from __future__ import annotations

import streamlit as st

from components.privacy_views import show_gates
from components.state import open_synthetic_row, require_app_entry
from components.analysis_cache import (STRUCTURE_RUN_KEY, job_value, settings, start_structure, structure_job,
                                       total_rows)
from components.structure_views import (contributions_figure, explained_figure, missing_heatmaps, pca_figure,
                                        suspicious_rows, triple_frame)
from components.widgets import plain, require_holdout, review_or_stop
from core.errors import ReviewError

require_app_entry()
st.title("Structure")
review, inputs, _ = review_or_stop(need_evaluation=False)
st.caption("Checks beyond one column or one pair: can a classifier tell synthetic rows from real ones, are "
           "three-way distributions kept, are values missing in the same patterns, do synthetic rows keep the rules "
           "every real row keeps, are identifying values replayed. Each is judged against the same statistic with "
           "real holdout rows in the synthetic table's place.")
require_holdout(review, "The structure gates are judged against a locked real holdout")

rows = total_rows(review)
jobs = settings(review)
left, right = st.columns([1, 3], vertical_alignment="bottom")
seed = int(left.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1,
                             value=int(st.session_state.get(STRUCTURE_RUN_KEY, 0)), key="structure_seed"))
job = structure_job(review, seed)
if job is None and (rows <= jobs.auto_run_max_rows or right.button(
        "Run structure checks", type="primary", key="structure_run_button", icon=":material/play_arrow:")):
    try:
        job = start_structure(review, seed)
    except ReviewError as exc:
        st.error(f"The structure checks cannot run on these tables: {plain(exc)}")
        st.stop()
if job is None:
    st.info(f"The structure checks fit 18 classifiers and compare 50 three-way tables ({rows:,} rows here); they "
            "run in the background. Press Run structure checks.", icon=":material/schedule:")
    st.stop()
result = job_value(job, jobs.poll_seconds, "The structure checks")

show_gates([g.to_dict() for g in result.gates], key="structure_gates")


def open_button(position: int, label: str, key: str, source: str) -> None:
    """A button that opens synthetic row `position` on the Records page."""
    if st.button(label, key=key, icon=":material/open_in_new:"):
        open_synthetic_row(review, int(position), source=source)
        st.switch_page("pages/records.py")


tabs = st.tabs(["Detection", "Three-way", "Missing values", "Constraints", "PII replay", "PCA"])
with tabs[0]:
    detection = result.detection
    if detection.reason:
        st.info(f"Detection skipped: {detection.reason}")
    else:
        st.caption(f"Gradient boosting, 3-fold cross-validated, on {detection.rows_per_side:,} rows a side; AUC "
                   f"{detection.auc:.4f} (0.5: indistinguishable). Real-vs-real AUCs: "
                   f"{', '.join(f'{v:.3f}' for v in detection.null)}.")
        st.plotly_chart(contributions_figure(detection.contributions), key="structure_contributions")
        rows = suspicious_rows(result)
        st.markdown("**Synthetic rows that look most synthetic** (rows breaking rules first)")
        event = st.dataframe(rows.astype(str), hide_index=True, key="structure_suspicious", on_select="rerun",
                             selection_mode="single-row", height=260)
        chosen = event.selection.rows if event is not None else []
        if chosen:
            open_button(int(rows.iloc[chosen[0]]["synthetic row"]), "Open the selected row on Records",
                        "structure_open_suspicious", "Structure: looks synthetic")
with tabs[1]:
    three = result.three_way
    if three.skipped:
        st.info(f"Three-way structure skipped: {three.skipped}")
    else:
        st.caption(three.to_dict()["selection"] + "; each judged against its own real-vs-real null.")
        for label, table in three.tables.items():
            item = next(i for i in three.items if i.label == label)
            sample = "" if item.null_median is None else f", a real sample scores {item.null_median:.4f}"
            st.markdown(f"**{plain(label)}**: 1 - TV {item.value:.4f}{sample}, bound {item.bound:.4f}, "
                        f"{'pass' if item.passed else 'FAIL'}")
            st.dataframe(triple_frame(table), hide_index=True, key=f"structure_triple_{label}")
with tabs[2]:
    missing = result.missing
    st.dataframe(missing.shares.map(lambda v: f"{v:.2%}").astype(str), key="structure_missing_shares")
    st.plotly_chart(missing_heatmaps(missing.together_real, missing.together_synthetic), key="structure_missing_map")
    failing = [i for i in missing.items if not i.passed]
    if failing:
        st.markdown("**Missingness items beyond their bound**")
        st.dataframe([{"item": i.label, "value": f"{i.value:.4f}", "a real sample scores":
                       "" if i.null_median is None else f"{i.null_median:.4f}", "bound": f"{i.bound:.4f}"}
                      for i in failing[:50]],
                     hide_index=True, key="structure_missing_failing")
with tabs[3]:
    constraints = result.constraints
    frame = [{"rule": r.text, "kind": r.kind, "synthetic breaking": f"{i.value:.3%}",
              "holdout breaking": f"{i.real:.3%}", "bound": f"{i.bound:.3%}", "result": "pass" if i.passed else "FAIL"}
             for r, i in zip(constraints.rules, constraints.items)]
    st.dataframe(frame, hide_index=True, key="structure_rules")
    broken = [r.text for r in constraints.rules if len(constraints.breaking_rows.get(r.text, []))]
    if broken:
        rule = st.selectbox("Rows breaking a rule", broken, key="structure_rule_choice")
        rows = constraints.breaking_rows[rule]
        st.dataframe(inputs.frames["synthetic"].iloc[rows[:200]].astype(str), key="structure_rule_rows")
        pick = st.selectbox("Synthetic row", [int(p) for p in rows[:200]], key="structure_rule_row")
        open_button(pick, "Open it on Records", "structure_open_rule", f"Structure: breaks {rule}")
with tabs[4]:
    pii = result.pii
    if not pii.columns:
        st.info("No id, text or high-cardinality column to check for replayed values.")
    else:
        st.dataframe([{"column": i.label, "synthetic replayed": f"{i.value:.3%}", "holdout's own": f"{i.real:.3%}",
                       "bound": f"{i.bound:.3%}", "result": "pass" if i.passed else "FAIL"} for i in pii.items],
                     hide_index=True, key="structure_pii")
        replayed = {c: rows for c, rows in pii.replayed_rows.items() if len(rows)}
        if replayed:
            column = st.selectbox("Replayed values in", list(replayed), key="structure_pii_column")
            pick = st.selectbox("Synthetic row", [int(p) for p in replayed[column][:200]], key="structure_pii_row")
            open_button(pick, "Open it on Records", "structure_open_pii", f"Structure: replayed {column}")
with tabs[5]:
    if result.pca is None:
        st.info("Too few encodable columns for principal components.")
    else:
        st.caption("Subspace similarity to the real components (1 = the same axes): " + ", ".join(
            f"{t} {v:.3f}" for t, v in result.pca.similarity.items()))
        st.plotly_chart(pca_figure(result.pca.projection), key="structure_pca")
        st.plotly_chart(explained_figure(result.pca.explained), key="structure_explained")
