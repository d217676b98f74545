"""Privacy: is the synthetic table closer to the training rows than fresh real rows (the locked holdout) are?"""
from __future__ import annotations

import streamlit as st

from components.analysis_cache import (PRIVACY_RUN_KEY, estimate_text, job_value, privacy_job, settings,
                                       start_privacy, total_rows)
from components.figures import PLOT_CONFIG
from components.privacy_views import (RISK_HIGHLIGHT, dcr_figure, membership_figure, near_copy_frame, quantile_frame,
                                      risk_figure, risk_frame, risk_table, show_gates)
from components.state import open_synthetic_row, require_app_entry
from components.widgets import plain, require_holdout, review_or_stop
from core.errors import ReviewError
from core.policy import parse_policy
from core.report import privacy_gates

NEAR_COPY_ROWS_SHOWN = 500

require_app_entry()
st.title("Privacy")
review, inputs, _ = review_or_stop(need_evaluation=False)
st.caption("Every check compares the synthetic rows with what fresh real rows earn: the locked holdout, real rows "
           "the generator never saw. A safe generator's synthetic rows are no closer to the training rows than "
           "holdout rows are.")

require_holdout(review, "Privacy is judged against a locked real holdout")

try:
    jobs = settings(review)
except ReviewError as exc:
    st.error(f"The review policy cannot be read: {plain(exc)}")
    st.stop()
rows_total = total_rows(review)
left, right = st.columns([1, 3], vertical_alignment="bottom")
seed = int(left.number_input("Seed (attack and sampling draws)", min_value=0, max_value=2**31 - 1, step=1,
                             value=int(st.session_state.get(PRIVACY_RUN_KEY, 0)), key="privacy_seed"))
# The checks run as a background job: the page never blocks, and a result any session computed is reused.
# Tables up to the policy's [jobs] auto_run_max_rows start on opening; larger ones wait for the button.
job = privacy_job(review, seed)
auto = job is None and rows_total <= jobs.auto_run_max_rows
if (job is None or job.state == "failed") and (auto or right.button(
        "Run privacy checks", type="primary", key="privacy_start", icon=":material/play_arrow:")):
    job = start_privacy(review, seed)
if job is None:
    estimate = estimate_text("privacy", rows_total)
    st.info(f"The privacy checks compare every synthetic and holdout row with every training row "
            f"({rows_total:,} rows here; {estimate or 'minutes at 100,000 rows'}). They run in the background: "
            "press Run privacy checks and keep reviewing other pages meanwhile.", icon=":material/schedule:")
    st.stop()
result = job_value(job, jobs.poll_seconds, "The privacy checks")
section = result.to_dict()
policy = parse_policy(review.policy_text, "policy")
gates = {g.name: g for g in privacy_gates(result, policy)}  # judged as the report judges them
rows = result.rows
skipped = f" Skipped columns: {', '.join(f'{c} ({r})' for c, r in result.skipped.items())}." if result.skipped else ""
st.caption(f"{rows['train']:,} training, {rows['synthetic']:,} synthetic and {rows['holdout']:,} holdout rows, seed "
           f"{result.seed}. Distance between two records: {section['distance']['definition']}.{skipped}")

st.subheader("Gates")
show_gates([g.to_dict() for g in gates.values()], key="privacy_gates")

# --- Distance to closest record ----------------------------------------------------------------------------
st.subheader("Distance to the closest training record")
dcr = section["distance_to_closest_record"]
m1, m2, m3, m4 = st.columns(4)
share = dcr["share_closer_to_train_than_holdout"]
m1.metric("Closer to train than holdout", f"{share:.1%}", delta=f"{share - 0.5:+.1%} vs 50% baseline",
          delta_color="inverse", help="Share of synthetic rows whose closest training row is nearer than their closest "
          f"holdout row (train and holdout of equal size, {dcr['rows_compared_for_share']:,} rows). 50% is what "
          "a generator that never saw the training rows gives; above 50% it leans on them.")
ratio = dcr["median_distance_ratio"]
m2.metric("Median DCR ratio", "n/a" if ratio is None else f"{ratio:.2f}",
          delta=None if ratio is None else f"{ratio - 1:+.2f} vs 1.00 baseline",
          help="Median synthetic distance to training rows / median holdout distance to training rows. At or above "
          "1 is safe; below 1, synthetic rows sit closer to the training rows than fresh real rows do.")
tail = dcr["tail_share"]
m3.metric("In the holdout's closest 5%", f"{tail:.1%}", delta=f"{tail - dcr['tail_share_baseline']:+.1%} vs "
          f"{dcr['tail_share_baseline']:.0%} baseline", delta_color="inverse",
          help="Share of synthetic rows closer to the training rows than the 5% closest holdout rows are "
          "(the distance_to_closest_record gate judges its lower bound).")
nndr_syn, nndr_hold = dcr["nndr_synthetic_quantiles"]["0.5"], dcr["nndr_holdout_quantiles_baseline"]["0.5"]
m4.metric("Median NNDR (syn. / holdout)",
          f"{nndr_syn:.2f} / {nndr_hold:.2f}" if nndr_syn is not None and nndr_hold is not None else "n/a",
          help="Nearest-neighbour distance ratio: distance to the closest training row / to the second closest. "
          "Near 0 means a row sits on one training record rather than between several; compare with the holdout.")
st.plotly_chart(dcr_figure(result), width="stretch", key="privacy_dcr_chart", config=PLOT_CONFIG)
with st.expander("Quantiles (synthetic vs holdout)"):
    st.dataframe(quantile_frame(section), hide_index=True, width="stretch", key="privacy_quantiles")

# --- Copies ------------------------------------------------------------------------------------------------
st.subheader("Copies of training records")
copies, near = section["exact_copies"], section["near_copies"]
c1, c2, c3 = st.columns(3)
c1.metric("Exact copies", f"{copies['synthetic_copy_rate']:.2%}",
          delta=f"holdout baseline {copies['holdout_copy_rate_baseline']:.2%}", delta_color="off", delta_arrow="off",
          help="Synthetic rows identical to a training row on every used column. Real data repeats too: the holdout "
          "rate is what fresh real rows show.")
c2.metric("Excess over the holdout", f"{copies['excess_copy_rate']:.2%}",
          help="Synthetic copy rate above the holdout's, beyond sampling noise (the exact_copies gate).")
c3.metric(f"Near copies (distance ≤ {near['distance_threshold']:g})", f"{near['synthetic_near_copy_rate']:.2%}",
          delta=f"holdout baseline {near['holdout_near_copy_rate_baseline']:.2%}", delta_color="off", delta_arrow="off",
          help="Synthetic rows within this distance of a training row (numbers within a few % of their range, every "
          "category equal), against the holdout's rate.")

pairs = near_copy_frame(result, NEAR_COPY_ROWS_SHOWN)
if pairs.empty:
    st.caption("No synthetic row is within the near-copy distance of a training row.")
else:
    st.markdown(f"**Near-copy pairs, closest first** ({len(pairs):,} of {near['pairs_total']:,} shown). "
                "Select a row to open it on the Records page beside the training row it copies.")
    event = st.dataframe(
        pairs, hide_index=True, width="stretch", height=min(38 + 35 * len(pairs), 320), key="privacy_pairs",
        on_select="rerun", selection_mode="single-row",
        column_config={"synthetic row": st.column_config.NumberColumn("synthetic row", format="%d"),
                       "training row": st.column_config.NumberColumn("training row", format="%d"),
                       "distance": st.column_config.NumberColumn("distance", format="%.4f")})
    chosen = event.selection.rows[0] if event.selection.rows else 0
    pair = pairs.iloc[chosen]
    if st.button(f"Open synthetic row {int(pair['synthetic row']):,} on Records beside training row "
                 f"{int(pair['training row']):,}", key="privacy_open_pair", icon=":material/open_in_new:"):
        open_synthetic_row(review, int(pair["synthetic row"]), int(pair["training row"]), float(pair["distance"]),
                           source="Privacy")
        st.switch_page("pages/records.py")

# --- Attacks -----------------------------------------------------------------------------------------------
st.subheader("Attacks")
mia = section["membership_inference"]
threshold = gates["membership_inference"].threshold  # the bound the gate judged against
a1, a2 = st.columns([1, 3], vertical_alignment="center")
a1.metric("Membership AUC", f"{mia['auc']:.3f}",
          delta=f"95% CI {mia['auc_ci95'][0]:.3f}-{mia['auc_ci95'][1]:.3f}", delta_color="off", delta_arrow="off",
          help=f"An attacker scores each candidate by its distance to the nearest synthetic row and tries to tell "
          f"training rows from holdout rows ({mia['candidates_per_group']:,} of each). 0.5 = no better than a coin. "
          "The membership_inference gate judges this AUC (the value in the gate table) against the same attack "
          "with holdout rows posing as the synthetic table (its spread at least a chance classifier's), so "
          "sampling luck alone cannot fail it.")
a2.plotly_chart(membership_figure(result, threshold), width="stretch", key="privacy_membership_chart", config=PLOT_CONFIG)

risks = risk_frame(result)
st.markdown("**Singling out, linkability and attribute inference** (anonymeter-style: the attack on the training "
            "rows (main) against the same attack on holdout rows (control))")
# Chart, then the table page-wide: beside the chart the table's seven columns were cut at 1,440 px ("main succes",
# "num_persons_wor").
st.plotly_chart(risk_figure(risks), width="stretch", key="privacy_risk_chart", config=PLOT_CONFIG)
st.dataframe(risk_table(risks), hide_index=True, width="stretch", height=min(38 + 35 * len(risks), 560),
             key="privacy_risks", column_config={"secret": st.column_config.TextColumn("secret", width=240)})
flagged = int((risks["risk"] > RISK_HIGHLIGHT).sum())
st.caption(f"Risk 0: the synthetic data helps the attacker no more than unrelated real rows would. Attribute inference "
           "guesses each column (the secret) from the others; a numeric secret counts as guessed within 5% of its "
           f"range. Red bars mark risks above {RISK_HIGHLIGHT:g} for reading; they affect no gate (the verdict rests "
           "on the exact_copies, distance_to_closest_record and membership_inference gates above).")
if flagged:
    st.info(f"{flagged} attack risk(s) above {RISK_HIGHLIGHT:g}: worth a look at the columns involved, but no gate "
            "judges these attacks, so they do not change the verdict.", icon=":material/info:")
