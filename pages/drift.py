"""Drift: has new real data moved away from what the generator was modeled on? Regenerate or keep."""
from __future__ import annotations

import json

import streamlit as st

from components.drift_views import (
    EFFECT_HELP,
    categories_table,
    column_figure,
    columns_table,
    demo_batch,
    drift_job,
    missing_table,
    pairs_table,
    recording_target,
)
from components.analysis_cache import job_value
from components.cache import prepared_inputs
from components.loading import load_upload
from components.state import get_review, page_settings, require_app_entry
from components.widgets import plain
from core.demo.drift import PLANTED_SHIFT
from core.errors import ReviewError
from core.jobs import jobs_settings
from core.policy import parse_policy
from core.review.drift_store import drift_sha256

MAX_PLOTS = 12
RECORDED_KEY = "drift_recorded"  # session: recommendations this session recorded, by generation and result hash
RECORD_ERROR_KEY = "drift_record_error"
DEMO_SETTINGS_KEY = "_drift_demo_settings"
DEMO_SETTING_DEFAULTS = {"drift_demo_rows": 5_000, "drift_demo_seed": 1, "drift_plant_shift": False}

require_app_entry()
st.title("Drift")
st.caption("Compare a new batch of real data with the real data the generation was modeled on (the reference). "
           "When the real data moved, the synthetic table describes a world that no longer exists: regenerate.")
review = get_review()


def _upload(label: str, key: str):
    file = st.file_uploader(label, type=["csv", "parquet", "pq"], key=key)
    if file is None:
        return None
    try:
        return load_upload(file.name, file.getvalue())
    except ReviewError as exc:
        st.error(f"Not loaded: {plain(exc)}")
        st.stop()


left, right = st.columns(2, gap="large")
with left:
    st.markdown("**Reference: real then**")
    ref_choice = st.radio("Reference", ["Real training data under review", "Upload a reference table"],
                          key="drift_reference_source", label_visibility="collapsed")
    if ref_choice == "Real training data under review":
        reference = review.tables["real"]
    else:
        reference = _upload("Reference table (CSV or Parquet)", "drift_reference_upload")
    if reference is not None:
        st.caption(f"{reference.path}: {reference.rows:,} rows · sha256 {reference.sha256[:12]}")
with right:
    st.markdown("**New batch: real now**")
    cur_choice = st.radio("New batch", ["Demo new batch", "Upload a new batch"], key="drift_current_source",
                          label_visibility="collapsed", horizontal=False)
    if cur_choice == "Demo new batch":
        # The demo batch's settings outlive the page, as the Records page's sample settings do.
        settings = page_settings(DEMO_SETTINGS_KEY, DEMO_SETTING_DEFAULTS)
        c1, c2 = st.columns(2)
        rows = c1.number_input("Rows", min_value=100, max_value=50_000, step=1_000, key="drift_demo_rows")
        seed = c2.number_input("Seed", min_value=0, max_value=10_000, step=1, key="drift_demo_seed")
        shift = st.toggle("Plant a shift in the new batch", key="drift_plant_shift",
                          help=f"Changes the batch on purpose: {PLANTED_SHIFT}.")
        settings.update({"drift_demo_rows": rows, "drift_demo_seed": seed, "drift_plant_shift": shift})
        current = demo_batch(int(rows), int(seed), bool(shift))
        st.caption("Census income rows the demo never used" + (f"; planted shift: {PLANTED_SHIFT}." if shift else "."))
    else:
        current = _upload("New batch of real data (CSV or Parquet)", "drift_current_upload")
    if current is not None:
        st.caption(f"{current.path}: {current.rows:,} rows · sha256 {current.sha256[:12]}")

if reference is None or current is None:
    st.info("Choose or upload both tables to run the drift checks.")
    st.stop()

try:
    full_policy = parse_policy(review.policy_text, "review policy")
    policy, jobs = full_policy.drift(), jobs_settings(full_policy.sections)
except ReviewError as exc:
    st.error(f"Drift cannot be checked: {plain(exc)}")
    st.stop()
# A background job (seconds; the page and the other pages stay usable), shared with other sessions.
known = None
if reference.sha256 == review.tables["real"].sha256:  # the review's own real table: its types are known
    try:
        known = prepared_inputs(review).metadata
    except ReviewError:
        known = None
try:
    job = drift_job(reference, current, dict(review.overrides), policy, known)
    if job.state == "failed" and st.button("Run the drift checks again", key="drift_retry"):
        job = drift_job(reference, current, dict(review.overrides), policy, known)
except ReviewError as exc:
    st.error(f"Drift cannot be checked: {plain(exc)}")
    st.stop()
result = job_value(job, jobs.poll_seconds, "The drift checks")

st.divider()
report = result.to_dict()
n_drifted = sum(c.drifted for c in result.columns.values())
v1, v2, v3 = st.columns([1.3, 1, 1])
with v1:
    st.markdown("**Dataset verdict**")
    if result.drifted:
        st.badge("DRIFTED: recommendation regenerate", icon=":material/autorenew:", color="red")
    else:
        st.badge("No drift: recommendation keep", icon=":material/check_circle:", color="green")
v2.metric("Drifted columns", f"{n_drifted} of {len(result.columns)}", delta=f"share {result.share_drifted_columns:.0%}",
          delta_color="off", delta_arrow="off")
v3.metric("Pairs whose association moved", f"{sum(p.flagged for p in result.pairs)} of {len(result.pairs)}")
size = "p-value tests (small reference)" if result.rows_reference <= policy.size_cutoff else \
    "distances with thresholds (large reference)"
st.caption(f"{result.rows_reference:,} reference rows vs {result.rows_current:,} new rows; {size}. The dataset "
           f"drifts when at least {policy.drift_share:.0%} of columns drift, one column drifts with a large effect, "
           "or one pair's association moves a lot. Thresholds come from the policy's [drift] section.")
for reason in result.reasons:
    st.markdown(f"- {plain(reason)}")

st.subheader("Columns, drifted first")
table = columns_table(result)
st.dataframe(table, hide_index=True, width="stretch", key="drift_columns",
             column_config={
                 "statistic": st.column_config.NumberColumn("statistic", format="%.4f"),
                 "threshold": st.column_config.NumberColumn("threshold", format="%.3g"),
                 "p-value": st.column_config.TextColumn("p-value", help="Only the p-value tests (small reference) "
                                                        "give one; the distance tests judge a distance instead."),
                 "effect size": st.column_config.NumberColumn("effect size", format="%.3f", help=EFFECT_HELP),
             })

drifted = [c for c in sorted(result.columns.values(), key=lambda c: -(c.distance or 0.0)) if c.drifted]
if drifted:
    st.subheader("Drifted columns: real then vs real now")
    st.caption("Shares of rows on the bins (or categories) both tables share; missing values left out.")
    for column in drifted:  # the table's reasons column is cut at 1,440 px: here in full
        st.markdown(f"- **{plain(column.column)}**: {plain('; '.join(column.reasons))}")
    grid = st.columns(2)
    for i, column in enumerate(drifted[:MAX_PLOTS]):
        grid[i % 2].plotly_chart(column_figure(column), key=f"drift_plot_{column.column}",
                                 config={"displaylogo": False})
    if len(drifted) > MAX_PLOTS:
        st.caption(f"{len(drifted) - MAX_PLOTS} more drifted columns are listed in the table above.")

cats, missing = categories_table(result), missing_table(result)
# One under the other, page-wide: side by side, the category table's headers were cut at 1,440 px.
st.subheader("New and vanished categories")
if cats.empty:
    st.caption("Every category of each table is in the other.")
else:
    st.dataframe(cats, hide_index=True, width="stretch", key="drift_categories", column_config={
        "share of current rows": st.column_config.NumberColumn(format="percent"),
        "share of reference rows": st.column_config.NumberColumn(format="percent")})
st.subheader("Missing values")
if missing.empty:
    st.caption("No column's share of missing values changed.")
else:
    st.dataframe(missing, hide_index=True, width="stretch", key="drift_missing", column_config={
        c: st.column_config.NumberColumn(format="percent") for c in ("missing then", "missing now", "change")})

st.subheader("Pairs whose association moved")
moved = pairs_table(result)
if moved.empty:
    st.caption(f"No pair's association moved by more than {max((p.threshold for p in result.pairs), default=0):.3f}.")
else:
    st.dataframe(moved, hide_index=True, width="stretch", key="drift_pairs",
                 column_config={k: st.column_config.NumberColumn(format="%.3f")
                                for k in ("then", "now", "change", "threshold")})
with st.expander(f"Every pair ({len(result.pairs)})"):
    st.dataframe(pairs_table(result, only_moved=False), hide_index=True, width="stretch", key="drift_all_pairs")
if result.skipped:
    with st.expander(f"Skipped ({len(result.skipped)})"):
        st.json(result.skipped)

st.subheader("Keep the recommendation")
text = json.dumps(report, indent=2)
st.download_button("Download the drift JSON", data=text, file_name="drift-report.json", mime="application/json",
                   icon=":material/download:", key="drift_download")
generation_id, user, why_not = recording_target(review)
digest = drift_sha256(report, reference.sha256, current.sha256)
recorded = st.session_state.setdefault(RECORDED_KEY, {})  # (generation, drift sha256) -> event id, this session


def _record() -> None:
    # A button callback runs before the page is drawn, so the confirmation below shows on the same click.
    from components.store_access import store_engine
    from core.review.drift_store import record_drift_recommendation
    from core.store import session_scope

    try:
        with session_scope(store_engine()) as session:
            event = record_drift_recommendation(session, generation_id, result, actor=user,
                                                reference_sha256=reference.sha256, current_sha256=current.sha256)
    except ReviewError as exc:
        st.session_state[RECORD_ERROR_KEY] = f"Not recorded: {plain(exc)}"
        return
    recorded[f"{generation_id}:{digest}"] = (event["event_id"], event["already_recorded"])


if user is None:
    st.caption(plain(why_not))
else:
    done = recorded.get(f"{generation_id}:{digest}")
    if done is None:
        st.button(f"Record '{result.recommendation}' on generation {generation_id}", key="drift_record",
                  icon=":material/history_edu:", on_click=_record)
    else:
        event_id, earlier = done
        st.success(f"Recorded as audit event {event_id} in the log of generation {generation_id}"
                   + (" (this same drift result was already recorded there; nothing new was written)." if earlier
                      else "."), icon=":material/check_circle:")
    error = st.session_state.pop(RECORD_ERROR_KEY, None)
    if error:
        st.error(error)
