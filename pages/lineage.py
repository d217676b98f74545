"""Lineage: chains of generations fitted on earlier generations; training mix and tail health per cycle."""
from __future__ import annotations

import uuid

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from components.analysis_cache import manager, preload, show_progress

from components.lineage_views import (
    column_tails_table,
    cycles_table,
    metrics_figure,
    store_url,
    stored_chain,
    stored_tips,
)
from components.state import get_review, require_app_entry
from components.widgets import plain
from core.errors import ReviewError
from core.checks.lineage import lineage_gate
from core.jobs import content_key
from core.policy import parse_policy

POLL_SECONDS = 1.0
DEMO_SECONDS = 65  # measured on 2 cores: two chains of 5 SDV fits

require_app_entry()
st.title("Lineage")
st.caption("Rule: no recursive training without fresh real data. Each cycle's synthetic share of the training mix, "
           "the fresh real rows added, and how much of the original real data's tails (rare categories, extreme "
           "quantiles, variance, distinct values) the generation still holds.")
url = store_url()


DEMO_JOB_KEY = "lineage_demo_job"  # session: key of this session's lineage demo job


def start_demo() -> None:
    """Start the lineage demo (scripts/lineage_demo.py's work) as a background job; the page polls its progress."""
    from core.demo.lineage import run_and_register_demo_chains

    with st.spinner("Loading SDV..."):
        preload("sdv")  # never first imported in a worker thread (see components.analysis_cache.preload)
    key = content_key("lineage-demo", url, uuid.uuid4().hex)  # each run adds chains: never reuse a result
    manager().submit(key, "Lineage demo: two chains of 5 cycles with SDV",
                     lambda progress: run_and_register_demo_chains(url, progress=progress),
                     kind="lineage_demo", size=1, persist=False)
    st.session_state[DEMO_JOB_KEY] = key


def demo_status() -> bool:
    """Draw this session's demo job: progress while it runs (True), its outcome once (then False)."""
    key = st.session_state.get(DEMO_JOB_KEY)
    job = None if key is None else manager().status(key)
    if job is None:
        st.session_state.pop(DEMO_JOB_KEY, None)
        return False
    if job.state == "done":
        st.session_state.pop(DEMO_JOB_KEY, None)
        ids = job.value.generation_ids
        st.success(f"Lineage demo recorded: generations {ids['recursive']} and {ids['with_fresh_data']}.",
                   icon=":material/check_circle:")
        return False
    if job.state == "failed":
        st.session_state.pop(DEMO_JOB_KEY, None)
        st.error(f"The demo failed: {plain(job.error or 'failed')}")
        return False
    show_progress(job, POLL_SECONDS)
    return True


running = demo_status()
try:
    tips = stored_tips(url)
except (ReviewError, SQLAlchemyError) as exc:
    st.error(f"The store cannot be read: {plain(str(exc).splitlines()[0])}")
    st.stop()

if not tips:
    st.info("The store has no chains of generations yet (a generation with a parent). Register generations with "
            "parent_generation_id in their manifest, or run the demo: the census table regenerated recursively five "
            "times with no fresh real data, and a second chain fed fresh real rows each cycle "
            "(the same as `python scripts/lineage_demo.py`).")
    if not running and st.button("Run the lineage demo", key="lineage_run_demo", icon=":material/play_arrow:",
                                 type="primary", help=f"About {DEMO_SECONDS} s in the background; other pages stay "
                                 "usable meanwhile."):
        start_demo()
        st.rerun()
    st.stop()

try:
    policy = parse_policy(get_review().policy_text, "review policy")
except ReviewError as exc:
    st.error(f"The review policy cannot be read: {plain(exc)}")
    st.stop()

labels = {gid: f"generation {gid} ({length} cycles)" for gid, _, length in tips}
by_id = {gid: (gid, sha, length) for gid, sha, length in tips}
ids = list(by_id)
defaults = [ids[1], ids[0]] if len(ids) >= 2 else [ids[0], ids[0]]
chains = []
columns = st.columns(2, gap="large")
for side, (column, default) in enumerate(zip(columns, defaults)):
    with column:
        chosen = st.selectbox(f"Chain {side + 1} (up to its last generation)", ids, index=ids.index(default),
                              format_func=labels.get, key=f"lineage_chain_{side}")
        try:
            chain = stored_chain(url, *by_id[chosen][:2])
        except (ReviewError, SQLAlchemyError) as exc:
            st.error(f"Chain {side + 1} cannot be rebuilt: {plain(str(exc).splitlines()[0])}")
            st.stop()
        chains.append((f"chain {side + 1}: to generation {chosen}", chain))
        st.markdown(f"**{chain.name}**")
        result = chain.result
        gate = lineage_gate(result, policy)
        g1, g2, g3 = st.columns(3)
        g1.metric("lineage gate", f"{gate.value:.3f}", delta=("pass" if gate.passed else "FAIL") +
                  f" (at least {gate.threshold:.2f})", delta_color="normal" if gate.passed else "inverse",
                  delta_arrow="off")
        g2.metric("tail health, last cycle", f"{result.cycles[-1].tail_health_score:.3f}",
                  delta=f"{result.cycles[-1].tail_health_score - result.cycles[0].tail_health_score:+.3f} vs cycle 1",
                  delta_arrow="off", delta_color="off")
        g3.metric("warnings", len(result.warnings))
        if result.recursive_training:
            st.warning("Recursive training without fresh real data.", icon=":material/warning:")
        if result.collapse_in_progress:
            st.warning("Collapse in progress: tail health fell two cycles in a row.", icon=":material/trending_down:")
        for warning in result.warnings:
            st.caption(f"⚠ {plain(warning)}")
        if not result.warnings:
            st.success("No warnings: fresh real data in every cycle and no collapse.", icon=":material/check_circle:")

# Each chain's cycle table page-wide: in its half-width column the twelve columns scrolled sideways (942 px in
# 456), the tail-health numbers the page is about out of view.
for side, (title, chain) in enumerate(chains):
    st.markdown(f"**Cycles of {plain(title)}**")
    st.dataframe(cycles_table(chain), hide_index=True, width="stretch", key=f"lineage_cycles_{side}",
                 column_config={
                     "synthetic share": st.column_config.NumberColumn(format="percent"),
                     **{k: st.column_config.NumberColumn(format="%.3f")
                        for k in ("rare coverage", "tail mass", "variance", "distinct", "tail health")}})

st.subheader("Over cycles, both chains")
st.plotly_chart(metrics_figure(chains), key="lineage_metrics", config={"displaylogo": False})
st.caption("Every score compares a generation's synthetic table with the chain's original real table: 1 keeps all "
           "of its tails. The tail-health score is the mean of rare-category coverage, tail mass kept, variance and "
           "distinct-values scores. The lineage gate is the last tail-health score, 0 after recursive training.")

with st.expander("One column across the cycles"):
    names = list(chains[0][1].result.cycles[0].columns)
    column = st.selectbox("Column", names, key="lineage_column")
    left, right = st.columns(2)
    for (label, chain), box, side in zip(chains, (left, right), (0, 1)):
        box.markdown(f"**{label}**")
        if column in chain.result.cycles[0].columns:
            box.dataframe(column_tails_table(chain, column), hide_index=True, width="stretch",
                          key=f"lineage_column_{side}")

with st.expander("Run the lineage demo again (adds two more chains to the store)"):
    if running:
        st.caption("The demo is running (progress at the top of the page).")
    elif st.button("Run the lineage demo", key="lineage_run_demo_again", icon=":material/play_arrow:"):
        start_demo()
        st.rerun()
st.caption(f"Store: {url.split('@')[-1]} · tables read from the cache folder by sha256.")
