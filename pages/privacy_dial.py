"""Privacy dial: generate with differential privacy, sweep epsilon to see what each budget buys and costs, and
audit what a membership attack proves about a generation's epsilon."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from components.analysis_cache import settings as analysis_settings, show_progress
from components.cache import encoded_tables, manager
from components.dp_views import binning_details, domain_frame, generate_dp, sweep_figure
from components.loading import use_generated
from components.privacy_views import show_gates
from components.state import require_app_entry
from components.widgets import plain, require_holdout, review_or_stop, text_frame
from core import code_version
from core.checks.dp import audit_membership, claimed_privacy, empirical_epsilon_gate
from core.demo import DEMO_DP_DECLARATION
from core.errors import ReviewError
from core.generate.bins import SCALES, parse_declarations
from core.generate.dp import BINNINGS, DEFAULT_BINS, DP_METHODS, GAN_METHODS, REFUSED_METHODS, DPSettings
from core.generate.sweep import DEFAULT_EPSILONS, summary_table, sweep_epsilon
from core.jobs import content_key
from core.policy import parse_policy

EPSILON_CHOICES = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
SWEEP_KEY = "dp_sweep_result"
AUDIT_KEY = "dp_audit_result"

require_app_entry()
st.title("Privacy dial")
review, inputs, _ = review_or_stop(need_evaluation=False)
st.caption("Differential privacy bounds what any attacker can learn about one training row, at a cost in fidelity. "
           "Decide the trade-off deliberately: generate at a chosen epsilon, sweep epsilon to see what each "
           "budget buys, and check what a membership attack proves about the epsilon a generation claims.")
metadata = inputs.metadata
numeric = [c for c, t in metadata.items() if t in ("numerical", "datetime")]


def declaration_editor(key: str) -> dict:
    """What is public about each numeric column: bounds (blank = estimated from the private data, which spends
    budget), integer-ness, point masses and scale; returns DPSettings fields (public_bounds, declarations)."""
    st.caption("Declare only what is known without looking at the data: a range (an age between 0 and 120), whether "
               "the column holds whole numbers, point masses (0 for a money column most people leave empty, as "
               "comma-separated numbers) and a log scale for heavy tails. MST and AIM bin each column from this "
               "alone: a small whole-number range gets one bin per value. Columns left without bounds get bounds "
               "estimated from the private data with a DP mechanism, which spends part of epsilon.")
    columns = [c for c in numeric if metadata[c] == "numerical"]
    demo = all(c in columns for c in DEMO_DP_DECLARATION)
    rows = []
    for column in columns:
        spec = DEMO_DP_DECLARATION.get(column, {}) if demo else {}
        bounds = spec.get("bounds", [None, None])
        rows.append({"column": column, "lower": bounds[0], "upper": bounds[1], "integer": bool(spec.get("integer")),
                     "atoms": ", ".join(f"{a:g}" for a in spec.get("atoms", [])), "scale": spec.get("scale", "linear")})
    if demo:
        st.caption("Pre-filled with the census demo's public declaration (core/demo DEMO_DP_DECLARATION).")
    frame = pd.DataFrame(rows, columns=["column", "lower", "upper", "integer", "atoms", "scale"]).astype(
        {"lower": float, "upper": float, "integer": bool, "atoms": str, "scale": str})
    edited = st.data_editor(frame, key=key, hide_index=True, disabled=["column"], width="stretch",
                            column_config={"scale": st.column_config.SelectboxColumn("scale", options=list(SCALES)),
                                           "integer": st.column_config.CheckboxColumn("integer"),
                                           "atoms": st.column_config.TextColumn("atoms (point masses)")})
    raw: dict = {}
    for row in edited.itertuples():
        spec = {}
        if pd.notna(row.lower) and pd.notna(row.upper):
            spec["bounds"] = [float(row.lower), float(row.upper)]
        if bool(row.integer):
            spec["integer"] = True
        text = "" if pd.isna(row.atoms) else str(row.atoms).strip()
        if text:
            try:
                spec["atoms"] = [float(a) for a in text.split(",") if a.strip()]
            except ValueError:
                raise ReviewError(f"column {row.column}: atoms must be comma-separated numbers, not {text!r}") from None
        if row.scale == "log":
            spec["scale"] = "log"
        if spec:
            raw[row.column] = spec
    bounds, declarations = parse_declarations(raw, "")  # no file: errors name the column
    return {"public_bounds": bounds, "declarations": declarations}


def binning_choice(key: str) -> str:
    """Declared bins (default) or smartnoise's equal-width bins decoded at their middle."""
    return st.radio("Binning", BINNINGS, horizontal=True, key=key,
                    help="declared: bins from the declaration above (one bin per whole number of a small range, a bin "
                         "for each point mass, log-scale bins), decoded uniformly within a bin; equal-width: equal-width "
                         "bins between the bounds decoded at their middle (the declaration's bounds only)")


generate_tab, sweep_tab, audit_tab = st.tabs(["Generate with DP", "Epsilon sweep", "Epsilon audit"])

with generate_tab:
    train = review.tables["real"]
    st.caption(f"Fit smartnoise-synth's MST, AIM or DP-CTGAN on the training part only ({train.rows:,} rows); the "
               "holdout is never shown to it. Epsilon, delta, the preprocessing and where every bound came from go "
               "into the manifest. The new table replaces the synthetic table under review.")
    g1, g2, g3, g4, g5 = st.columns(5)
    method = g1.selectbox("Method", DP_METHODS, key="dp_gen_method")
    epsilon = g2.select_slider("Epsilon", EPSILON_CHOICES, value=1.0, key="dp_gen_epsilon")
    rows = int(g4.number_input("Rows", 100, 1_000_000, int(train.rows), 1000, key="dp_gen_rows"))
    seed = int(g5.number_input("Seed", 0, 2**31 - 1, 0, key="dp_gen_seed"))
    gan = {}
    if method in GAN_METHODS:
        defaults = DPSettings()
        bins = DEFAULT_BINS
        gan["epochs"] = int(g3.number_input("Epochs (at most)", 1, 1000, defaults.epochs, key="dp_gen_epochs"))
        h1, h2, _ = st.columns([1, 1, 3])
        gan["batch_size"] = int(h1.number_input("Batch size", 2, 10_000, defaults.batch_size, 2,
                                                key="dp_gen_batch"))
        gan["sigma"] = float(h2.number_input("Noise multiplier", 0.1, 100.0, defaults.sigma, 0.5,
                                             key="dp_gen_sigma"))
        st.caption("DP-CTGAN trains at most this many epochs: fewer when the training epsilon is spent sooner "
                   "(the manifest records both). Its category frequencies are noised with 10% of epsilon.")
    else:
        bins = int(g3.number_input("Bins per number (where none are declared)", 2, 256, DEFAULT_BINS,
                                   key="dp_gen_bins"))
    for reason in REFUSED_METHODS.values():
        st.caption(plain(reason))
    try:
        declared, declaration_problem = declaration_editor("dp_gen_bounds"), None
    except ReviewError as exc:
        declared, declaration_problem = {}, exc
        st.error(plain(exc))
    binning = binning_choice("dp_gen_binning") if method not in GAN_METHODS else "declared"
    if st.button("Generate with DP", type="primary", key="dp_gen_run", disabled=declaration_problem is not None):
        try:
            policy = parse_policy(review.policy_text)
            settings = DPSettings(method=method, epsilon=float(epsilon), bins=bins, binning=binning, **declared,
                                  gan_max_rows=policy.dpctgan_max_rows, max_bins=policy.dp_max_bins, **gan)
            table, manifest = generate_dp(train, metadata, rows, seed, settings)
        except ReviewError as exc:
            st.error(plain(exc))
        except Exception as exc:  # a synthesizer failing on odd data is reported, never raised
            st.error(f"Generation failed: {type(exc).__name__}: {plain(exc)}")
        else:
            use_generated(review, table, manifest)
    manifest = review.notes.get("manifest") or {}
    if manifest.get("differential_privacy"):
        dp = manifest["differential_privacy"]
        st.subheader("The DP account of the synthetic table under review")
        m1, m2, m3, m4, m5 = st.columns(5)

        def shown(key: str, form: str) -> str:
            value = dp.get(key)
            return "not recorded" if value is None else format(value, form)

        m1.metric("Epsilon", shown("epsilon", "g"))
        m2.metric("Delta", shown("delta", ".2e"))
        m3.metric("Spent on bounds", shown("epsilon_for_bounds", ".3g"))
        m4.metric("Spent on training", shown("epsilon_for_training", ".3g"))
        if "epsilon_for_category_frequencies" in dp:
            m5.metric("Spent on category frequencies", shown("epsilon_for_category_frequencies", ".3g"))
        if dp.get("bounds_from_private_data"):
            st.warning("Bounds of " + ", ".join(dp["bounds_from_private_data"]) + " were estimated from the private "
                       "data: that spent privacy budget. Declare public bounds to keep it for training.")
        st.dataframe(text_frame(domain_frame(manifest)), hide_index=True, width="stretch", key="dp_domain")
        details = binning_details(manifest)
        if details:
            with st.expander("How each number is binned and decoded", key="dp_binning_details"):
                for column, text in details:
                    st.markdown(f"**{plain(column)}**: {plain(text)}")
        st.caption(plain(f"Covered by epsilon: {dp.get('covered_by_epsilon', '')}. Noise is drawn by OpenDP's "
                         "secure sampler, so a DP run is not reproducible from its seed (by design)."))

with sweep_tab:
    require_holdout(review, "The sweep evaluates every generation against a locked real holdout")
    st.caption("For each epsilon and seed: generate on the training part, evaluate against the holdout, and measure "
               "fidelity, utility and attack success. The chosen point is the smallest epsilon at which every seed "
               "passes the fidelity and utility gates. With MST a generation and its evaluation take about half a "
               "minute on 16,000 rows (the real tables' own work is done once per sweep); DP-CTGAN takes minutes.")
    s1, s2, s3, s4 = st.columns([3, 1, 1, 2])
    epsilons = s1.multiselect("Epsilons", EPSILON_CHOICES, default=list(DEFAULT_EPSILONS), key="dp_sweep_epsilons")
    seeds = int(s2.number_input("Seeds", 1, 5, 3, key="dp_sweep_seeds"))
    sweep_rows = int(s3.number_input("Rows", 100, 1_000_000, min(int(review.tables["real"].rows), 5000), 500,
                                     key="dp_sweep_rows"))
    candidates = [c for c, t in metadata.items() if t in ("categorical", "boolean", "numerical")]
    target = s4.selectbox("Utility target", ["(none)"] + candidates, key="dp_sweep_target")
    sweep_method = st.radio("Method", DP_METHODS, horizontal=True, key="dp_sweep_method")
    try:
        sweep_declared, sweep_problem = declaration_editor("dp_sweep_bounds"), None
    except ReviewError as exc:
        sweep_declared, sweep_problem = {"public_bounds": {}, "declarations": {}}, exc
        st.error(plain(exc))
    sweep_binning = binning_choice("dp_sweep_binning") if sweep_method not in GAN_METHODS else "declared"
    total = len(epsilons) * seeds + seeds
    target_column = None if target == "(none)" else target
    sweep_key = content_key("dp_sweep", code_version(), review.table_key(), review.policy_text, sorted(epsilons),
                            seeds, sweep_rows, target_column, sweep_method, sweep_binning,
                            sorted(sweep_declared["public_bounds"].items()),
                            sorted((c, repr(d)) for c, d in sweep_declared["declarations"].items()))
    frames, policy = inputs.frames, parse_policy(review.policy_text)

    def run_sweep(progress):
        settings = DPSettings(method=sweep_method, binning=sweep_binning, **sweep_declared,
                              gan_max_rows=policy.dpctgan_max_rows, max_bins=policy.dp_max_bins)
        return sweep_epsilon(frames["real"], frames["holdout"], metadata, epsilons=sorted(epsilons),
                             seeds=range(seeds), target=target_column, rows=sweep_rows, settings=settings,
                             policy=policy, progress=progress)

    if st.button(f"Run the sweep ({total} generations)", type="primary", key="dp_sweep_run",
                 disabled=not epsilons or sweep_problem is not None):
        manager().submit(sweep_key, "Epsilon sweep", run_sweep, kind="dp_sweep", size=total)
        st.session_state[SWEEP_KEY] = sweep_key
    job = manager().status(st.session_state.get(SWEEP_KEY) or sweep_key)
    if job is not None and job.state not in ("done", "failed"):
        show_progress(job, analysis_settings(review).poll_seconds)  # runs in the background; pages stay usable
    elif job is not None and job.state == "failed":
        st.error(f"The sweep stopped: {plain(job.error or 'failed')}")
    elif job is not None:
        result = job.value
        chosen = result.chosen_epsilon
        st.metric("Chosen epsilon", "none" if chosen is None else f"{chosen:g}",
                  help="The smallest epsilon at which every seed passes the fidelity and utility gates.")
        st.plotly_chart(sweep_figure(result), width="stretch", key="dp_sweep_figure")
        st.dataframe(text_frame(summary_table(result).round(3)), hide_index=True, width="stretch")
        st.caption(f"{len(result.points)} generations in {result.seconds:.0f} s; method {result.method}, "
                   f"{result.rows:,} rows each, seeds {', '.join(map(str, result.seeds))}.")

with audit_tab:
    require_holdout(review, "The audit attacks membership with training rows against holdout rows")
    claimed, delta = claimed_privacy(review.notes.get("manifest"))
    st.caption("A DP generator with epsilon e cannot let any attack reach a true positive rate above "
               "exp(e) x its false positive rate (+ delta). From the membership attack's rates, with exact "
               "Clopper-Pearson bounds on a half the threshold was not chosen on, this gives a lower confidence "
               "bound on epsilon. It fails the gate when it exceeds the claimed epsilon.")
    st.write(f"Claimed epsilon: **{claimed:g}** (from the manifest)" if claimed is not None else
             "Claimed epsilon: none (the generation is not DP): the audit is informative only.")
    if st.button("Run the audit", key="dp_audit_run"):
        with st.spinner("Attacking membership..."):
            result = audit_membership(inputs.frames["real"], inputs.frames["synthetic"], inputs.frames["holdout"],
                                      metadata, claimed, delta, seed=0, encoded=encoded_tables(review))
        st.session_state[AUDIT_KEY] = (review.table_key(), result)
    stored = st.session_state.get(AUDIT_KEY)
    if stored and stored[0] == review.table_key():
        result = stored[1]
        audit = result.audit
        a1, a2, a3 = st.columns(3)
        bound = audit.epsilon_lower_bound
        a1.metric("Empirical epsilon (lower bound)", "inf" if math.isinf(bound) else f"{bound:.3f}")
        a2.metric("Claimed epsilon", "none" if claimed is None else f"{claimed:g}")
        a3.metric("Attack TPR / FPR", f"{audit.tpr:.3f} / {audit.fpr:.3f}")
        show_gates([empirical_epsilon_gate(result).to_dict()], key="dp_audit_gates")
