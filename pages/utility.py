"""Utility: does a model trained on synthetic rows predict the locked real holdout as well as one trained on real?"""
from __future__ import annotations

import streamlit as st

from components.analysis_cache import (UTILITY_RUN_KEY, DEFAULT_SEEDS, default_target, estimate_text, job_value,
                                       settings, start_utility, total_rows, utility_job)
from components.figures import PLOT_CONFIG
from components.privacy_views import show_gates
from components.state import require_app_entry
from components.utility_views import (MODEL_LABELS, comparison_figure, comparison_frame, importance_figure,
                                      sweep_figure, sweep_frame)
from components.widgets import plain, require_holdout, review_or_stop
from core.errors import ReviewError
from core.policy import parse_policy
from core.checks.utility import CHANCE_LEVEL, METRIC_LABELS
from core.report import utility_gate

MAX_SEEDS = 5

require_app_entry()
st.title("Utility")
review, inputs, _ = review_or_stop(need_evaluation=False)
st.caption("Train the same models on the synthetic rows (TSTR) and on the real training rows (TRTR) and score both on "
           "the locked real holdout, which no model trains on. Then blend real and synthetic rows in different "
           "ratios to find the mix that predicts the holdout best.")

require_holdout(review, "Utility is scored on a locked real holdout")

metadata = inputs.metadata
candidates = [c for c, t in metadata.items() if t not in ("id", "text")]
default = default_target(metadata)
last_target, last_seeds = st.session_state.get(UTILITY_RUN_KEY, (default, DEFAULT_SEEDS))
if last_target not in candidates:
    last_target, last_seeds = default, DEFAULT_SEEDS

c1, c2, c3, c4 = st.columns([3, 1, 1, 2], vertical_alignment="bottom")
target = c1.selectbox("Target column (what the models predict)", candidates, index=candidates.index(last_target),
                      format_func=lambda c: f"{c} ({metadata[c]})", key="utility_target")
first_seed = int(c2.number_input("First seed", min_value=0, max_value=2**31 - 1, step=1, value=int(last_seeds[0]),
                                 key="utility_first_seed"))
n_seeds = int(c3.number_input("Seeds", min_value=1, max_value=MAX_SEEDS, step=1,
                              value=min(max(len(last_seeds), 1), MAX_SEEDS), key="utility_seeds",
                              help="Each model and blend is trained once per seed; the spread shows the models' "
                              "own randomness (the linear model is deterministic)."))
seeds = tuple(range(first_seed, first_seed + n_seeds))

try:
    jobs = settings(review)
except ReviewError as exc:
    st.error(f"The review policy cannot be read: {plain(exc)}")
    st.stop()
rows_total = total_rows(review)
# A background job (see the Privacy page): tables up to [jobs] auto_run_max_rows start when a target is chosen.
job = utility_job(review, target, seeds)
auto = job is None and rows_total <= jobs.auto_run_max_rows
if (job is None or job.state == "failed") and (auto or c4.button(
        "Run utility checks", type="primary", key="utility_start", icon=":material/play_arrow:")):
    job = start_utility(review, target, seeds)
if job is None:
    estimate = estimate_text("utility", rows_total * len(seeds))
    st.info(f"The utility checks train two models per seed on real and on synthetic rows, then one per blend of the "
            f"two ({rows_total:,} rows here; {estimate or 'several minutes on large tables'}). They run in the "
            "background: press Run utility checks and keep reviewing other pages meanwhile.",
            icon=":material/schedule:")
    st.stop()
result = job_value(job, jobs.poll_seconds, f"Utility predicting {target}")
if result is None:
    st.info("Utility is scored on a locked real holdout; this review has none.", icon=":material/info:")
    st.stop()

score = result.score
task = score.task
policy = parse_policy(review.policy_text, "policy")
primary = METRIC_LABELS[task.primary_metric]
rows = score.rows
dropped = rows.get("train_dropped_missing_target", 0) + rows.get("synthetic_dropped_missing_target", 0)
st.caption(f"{task.kind.capitalize()} of {target}"
           + (f" ({len(task.classes)} classes)" if task.classes else "")
           + f" from {len(task.features)} feature columns; {rows['train']:,} real training, {rows['synthetic']:,} "
           f"synthetic and {rows['holdout']:,} holdout rows; seeds {', '.join(map(str, score.seeds))}."
           + (f" {dropped:,} rows without a target value were left out." if dropped else "")
           + (f" Not used as features: {', '.join(f'{c} ({r})' for c, r in task.skipped.items())}."
              if task.skipped else ""))

st.subheader("Gate")
gate = utility_gate(result, policy)  # judged as the report judges it
m1, m2, m3 = st.columns(3)
m1.metric(f"TSTR {primary} ({MODEL_LABELS.get(score.reference_model, score.reference_model)})",
          f"{score.primary.tstr.mean:.4f}", delta=f"± {score.primary.tstr.std:.4f} over seeds", delta_color="off",
          delta_arrow="off")
m2.metric(f"TRTR {primary} (reference)", f"{score.primary.trtr.mean:.4f}",
          delta=f"± {score.primary.trtr.std:.4f} over seeds", delta_color="off", delta_arrow="off")
m3.metric("Skill kept (utility gate)", "n/a" if not gate.judgeable else f"{gate.value:.1%}",
          delta=None if not gate.judgeable else (f"a real sample keeps {gate.null_median:.0%}, at least {gate.threshold:.0%}"
                                                 if gate.null_median is not None else f"threshold {gate.threshold:.0%}"),
          delta_color="off", delta_arrow="off",
          help=f"(TSTR - chance) / (TRTR - chance) on {primary}, chance = {CHANCE_LEVEL[task.primary_metric]}: the "
          "share of the real-trained model's skill above chance that the synthetic-trained model keeps.")
if not gate.judgeable:
    st.info(f"The utility gate does not apply: {plain(gate.detail)}.", icon=":material/info:")
else:
    show_gates([gate.to_dict()], key="utility_gates")

st.subheader("Trained on synthetic vs trained on real")
st.plotly_chart(comparison_figure(score), width="stretch", key="utility_comparison_chart", config=PLOT_CONFIG)
st.dataframe(comparison_frame(score), hide_index=True, width="stretch", key="utility_comparison")
st.caption("Mean ± standard deviation over seeds, scored on the holdout. Synthetic / real: TSTR relative to TRTR "
           "(1 = parity; for an error like MAE, TRTR / TSTR).")

st.subheader("Blend-ratio sweep")
sweep = result.blend
if sweep is None or not sweep.points:
    st.caption("No blend of real and synthetic rows could be trained.")
else:
    best, real_only = sweep.best, sweep.real_only
    b1, b2, b3 = st.columns(3)
    best_mix = ("real only" if best.plan.n_synthetic == 0 else
                f"{best.plan.family}: {best.plan.n_real:,} real + {best.plan.n_synthetic:,} synthetic")
    b1.metric("Best mix", f"{best.plan.synthetic_share:.0%} synthetic", delta=best_mix, delta_color="off",
              delta_arrow="off")
    b2.metric(f"Best {primary}", f"{best.score.mean:.4f}", delta=f"± {best.score.std:.4f} over seeds",
              delta_color="off", delta_arrow="off")
    if real_only is not None:
        gain = best.score.mean - real_only.score.mean
        b3.metric("Gain over real only", f"{gain:+.4f}", delta=f"real only {real_only.score.mean:.4f}",
                  delta_color="off", delta_arrow="off",
                  help="A gain within the seeds' spread is no evidence that blending helps.")
    st.markdown(plain(f"{primary} on the real holdout, predicting {target}, by the synthetic share of the training "
                      f"rows ({MODEL_LABELS.get(sweep.model, sweep.model)}; line = mean over {len(sweep.seeds)} "
                      "seeds, band = their min to max, star = best mix, dashed = real rows only)"))
    st.plotly_chart(sweep_figure(sweep), width="stretch", key="utility_sweep_chart", config=PLOT_CONFIG)
    st.caption("Replace keeps the real table's size and swaps a share of its rows for synthetic ones (100% = trained "
               "on synthetic only); augment keeps every real row and adds 0.5x, 1x or 2x as many synthetic rows. "
               "Mixes are nested prefixes of one seeded shuffle, so neighbouring points differ only by the rows added.")
    with st.expander("Sweep points"):
        st.dataframe(sweep_frame(sweep), hide_index=True, width="stretch", key="utility_sweep")
        for skipped in sweep.skipped:
            st.text(f"skipped {skipped['family']} {skipped['setting']:g}: {skipped['reason']}")

st.subheader("Feature-importance agreement")
agreement = result.importance
if agreement is None:
    st.caption("Importance agreement was not computed.")
else:
    i1, i2 = st.columns([1, 3])
    i1.metric("Spearman rank correlation", f"{agreement.spearman_correlation:.3f}",
              help="Rank agreement of the two models' permutation importances (1 = same order of importance).")
    i1.caption(f"Permutation importance on the holdout ({agreement.n_repeats} repeats, "
               f"{MODEL_LABELS.get(agreement.model, agreement.model)}, seed {agreement.seed}): how much "
               f"{METRIC_LABELS.get(agreement.metric, agreement.metric)} drops when one feature is shuffled. A model "
               "trained on faithful synthetic rows leans on the same features as the real-trained one.")
    i2.plotly_chart(importance_figure(agreement), width="stretch", key="utility_importance_chart", config=PLOT_CONFIG)
