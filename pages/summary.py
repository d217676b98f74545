"""Summary: the verdict, each gate against its threshold, the quality score, and the JSON report."""
from __future__ import annotations

import json
import math

import pandas as pd
import streamlit as st

from components.analysis_cache import computed_privacy, computed_utility, evaluation_with_results
from components.engine_views import engine_notice
from components.state import require_app_entry
from components.widgets import gate_details, plain, review_or_stop, verdict_badge
from core.gates import rule_text

# Which page explains a failing gate.
GATE_PAGES = {
    "column_shapes": ("pages/columns.py", "Columns: marginals, worst first"),
    "column_pair_trends": ("pages/correlations.py", "Correlations: pairs that lost association"),
    "validity": ("pages/records.py", "Records: out-of-range values and unseen categories"),
    "coverage": ("pages/columns.py", "Columns: missing categories and collapsed tails"),
    "exact_copies": ("pages/privacy.py", "Privacy: copies of training records"),
    "distance_to_closest_record": ("pages/privacy.py", "Privacy: distance to the closest training record"),
    "membership_inference": ("pages/privacy.py", "Privacy: membership inference attack"),
    "utility": ("pages/utility.py", "Utility: trained on synthetic vs trained on real"),
    "sequence_trends": ("pages/sequences.py", "Sequences: lengths, autocorrelation and transitions"),
}

require_app_entry()
st.title("Summary")
review, inputs, result = review_or_stop()
# Privacy and utility run on their own pages; their gates join the verdict once computed in this session.
result = evaluation_with_results(review, result)
privacy_result = computed_privacy(review)
utility_result, utility_target = computed_utility(review)
report = result.to_dict()

verdict_badge(result.verdict, result.fidelity.score)
shapes, trends = result.fidelity.column_shapes_score, result.fidelity.column_pair_trends_score
st.caption(f"Column shapes {shapes:.3f} · column pair trends {trends:.3f} · "
           f"{len(result.fidelity.column_shapes)} columns and {len(result.fidelity.pair_trends)} pairs scored "
           f"on every row ({result.inputs.tables['real'].rows:,} real, {result.inputs.tables['synthetic'].rows:,} synthetic"
           + (f", {result.inputs.tables['holdout'].rows:,} holdout)." if review.has_holdout else ")."))
engine_notice(review)

st.subheader("Gates")
gates = pd.DataFrame([{
    "gate": g.name, "result": ("not judgeable" if not g.judgeable else "pass") if g.passed else "FAIL",
    "value": f"{g.value:.4f}" if g.value is not None and math.isfinite(g.value) else "n/a",
    "rule": rule_text(g.name, g.threshold),
    "a real sample scores": "" if g.null_median is None else f"{g.null_median:.4f}",
    "tail probability": "" if g.tail_probability is None else f"{g.tail_probability:.3f}",
    "detail": g.detail,
} for g in result.gates])


def _colour(frame: pd.DataFrame) -> pd.DataFrame:
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    styles.loc[frame["result"] == "FAIL", "result"] = "background-color: #f8d7da; font-weight: bold"
    styles.loc[frame["result"] == "pass", "result"] = "background-color: #d4edda"
    return styles


# The detail's start only, so the table fits 1,440 px; in full in the expander below.
st.dataframe(gates.style.apply(_colour, axis=None), hide_index=True, width="stretch", key="summary_gates",
             column_config={"detail": st.column_config.TextColumn("detail", width="medium")})
gate_details([(g.name, g.detail) for g in result.gates], key="summary_gates")
st.caption("Each gate is judged against the same statistic on real-vs-real resamples of the synthetic table's "
           "size: 'a real sample scores' is that null's median for the item closest to failing, its rule the null's "
           "quantile at the policy's false-alarm rate (Bonferroni over the items judged), and the tail probability "
           "how often a real sample does as badly. Gates that do not apply to the data are left out.")
if not review.has_holdout:
    st.caption("Privacy and utility are judged against a locked real holdout; this review has none, so their gates "
               "are left out.")
else:
    if privacy_result is None:
        st.warning("Privacy not run yet — open Privacy. The verdict above does not include the exact_copies, "
                   "distance_to_closest_record and membership_inference gates.", icon=":material/shield:")
        st.page_link("pages/privacy.py", label="Privacy: run the privacy checks", icon=":material/arrow_forward:")
    if utility_result is None:
        st.warning("Utility not run yet — pick a target on Utility. The verdict above does not include the utility "
                   "gate.", icon=":material/model_training:")
        st.page_link("pages/utility.py", label="Utility: pick a target column", icon=":material/arrow_forward:")
    elif not any(g.name == "utility" for g in result.gates):
        st.caption(plain(f"Utility predicting {utility_target}: {utility_result.score.not_applicable}; "
                         "the gate is left out."))

failing = [g for g in result.gates if not g.passed]
if failing:
    st.subheader("Where to look")
    for gate in failing:
        target = GATE_PAGES.get(gate.name)
        if target:
            st.page_link(target[0], label=f"{gate.name} failed: {target[1]}", icon=":material/arrow_forward:")
        st.text(gate.detail)
else:
    pending = review.has_holdout and (privacy_result is None or utility_result is None)
    st.caption(("Every gate computed so far passed; run privacy and utility too. " if pending
                else "Every gate passed. ") + "Read a sample of records by hand before signing off.")
    st.page_link("pages/records.py", label="Records: read records by hand", icon=":material/arrow_forward:")

if inputs.warnings:
    with st.expander(f"Input warnings ({len(inputs.warnings)})"):
        for warning in inputs.warnings:
            st.text(warning)
if result.fidelity.skipped:
    with st.expander(f"Skipped columns and pairs ({len(result.fidelity.skipped)})"):
        st.dataframe(pd.DataFrame([{"item": s.item, "reason": s.reason} for s in result.fidelity.skipped]),
                     hide_index=True, width="stretch", key="summary_skipped")

st.subheader("Report")
st.download_button("Download the JSON report", data=json.dumps(report, indent=2), file_name="review-report.json",
                   mime="application/json", icon=":material/download:", key="summary_download")
with st.expander("Inputs in the report"):
    st.json(report["inputs"])
