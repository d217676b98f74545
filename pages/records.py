"""Records: read synthetic records by hand, each beside its nearest real training record, and flag the bad ones."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from components.click_log import Button, Click, click_buttons, new_clicks
from components.cache import (MAX_DISTANCE_ROWS, nearest_real, quick_suspicion, record_sample, record_scores,
                              sample_overview)
from components.records_view import record_comparison_cells, sample_hashes
from components.state import (FLAG_REASONS, close_synthetic_row, opened_synthetic_row, record_flags, records_read,
                              page_settings, require_app_entry)
from components.store_access import PAGE_SIGNIN, write_permission
from components.widgets import plain, review_or_stop, style_comparison, text_frame
from core.policy import parse_policy
from core.review.records import noticed_reasons, reason_label, row_hashes

METHOD_LABELS = {"random": "Random", "stratified": "Stratified by a column", "suspicious": "Most suspicious first"}

require_app_entry()
st.title("Records")
# The page shows real training rows: only signed-in reviewers (and above) read it.
allowed, why = write_permission("reviewer")
if not allowed:
    st.info(f"Records shows real training records beside synthetic ones. {plain(why)}", icon=":material/lock:")
    st.page_link(PAGE_SIGNIN, label="Sign in", icon=":material/login:")
    st.stop()
review, inputs, result = review_or_stop(need_evaluation=False)
real, synthetic, metadata = inputs.frames["real"], inputs.frames["synthetic"], inputs.metadata
st.caption("Read records by hand: a reproducible sample of synthetic records, each shown beside the nearest real "
           "training record (mixed-type distance: numbers scaled by the real range, categories 0 or 1 apart). "
           "Keys: N next, P previous, F flag.")

# Sample settings outlive the page (Streamlit forgets a widget's value when its page is left), and the record
# shown is a server-side cursor: a click moves it by one whatever the browser's copy of a widget says.
SETTINGS_KEY, CURSOR_KEY = "_records_settings", "_records_cursor"
SETTING_DEFAULTS = {"records_method": "random", "records_stratify": None, "records_size": 200, "records_seed": 0}
settings = page_settings(SETTINGS_KEY, SETTING_DEFAULTS)


def _settings_changed() -> None:
    for key in SETTING_DEFAULTS:
        if key in st.session_state:
            settings[key] = st.session_state[key]
    st.session_state[CURSOR_KEY] = 0  # a new sample starts at its first record
    close_synthetic_row()


c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
method = c1.radio("Sample", list(METHOD_LABELS), format_func=METHOD_LABELS.get, horizontal=True,
                  key="records_method", on_change=_settings_changed)
discrete = [c for c, t in metadata.items() if t in ("categorical", "boolean")] or list(metadata)
if st.session_state.get("records_stratify") not in discrete:
    st.session_state["records_stratify"] = discrete[0]
stratify = c2.selectbox("Stratify by", discrete, key="records_stratify", disabled=method != "stratified",
                        on_change=_settings_changed)
size = int(c3.number_input("Records", min_value=10, max_value=500, step=10, key="records_size",
                           on_change=_settings_changed))
seed = int(c4.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="records_seed",
                           on_change=_settings_changed))
settings.update({"records_method": method, "records_stratify": stratify, "records_size": size,
                 "records_seed": seed})

sample = record_sample(review, method, size, seed, stratify if method == "stratified" else None)
positions = sample.positions
nearest = nearest_real(review, tuple(int(p) for p in positions))
note = f"Sample of {len(positions)} records, method '{sample.method}', seed {sample.seed}"
if sample.stratify:
    note += f", stratified by {sample.stratify}"
if method == "suspicious" and len(synthetic) > MAX_DISTANCE_ROWS:
    note += (f". Nearness to real records was checked on a seeded {MAX_DISTANCE_ROWS:,}-row subset of the "
             f"{len(synthetic):,} synthetic rows; the other checks on every row")
st.caption(note + ".")

scores_key, scores = record_scores(review, method, seed)
sample_key = (method, size, seed, stratify if method == "stratified" else None, scores_key)
quick = quick_suspicion(review)
minimum = int(parse_policy(review.policy_text, "policy").review.get("min_records_read", 0))
n = len(positions)


def _step(delta: int) -> None:
    close_synthetic_row()
    st.session_state[CURSOR_KEY] = min(max(int(st.session_state.get(CURSOR_KEY, 0)) + delta, 0), max(n - 1, 0))


def _jump() -> None:
    close_synthetic_row()
    st.session_state[CURSOR_KEY] = min(max(int(st.session_state.get("records_goto", 1)) - 1, 0), max(n - 1, 0))


def _row_hash(row_position: int, hashes) -> str:
    """The row hash of synthetic row `row_position` (from the sample's hashes when it is sampled)."""
    found = (positions == row_position).nonzero()[0]
    return str(hashes[found[0]]) if len(found) else str(row_hashes(synthetic.iloc[[row_position]])[0])


def _apply_flag_click(click: Click, hashes) -> None:
    """Flag or unflag the row that was on screen when the button was clicked (its context), whatever the
    cursor says now: a Next clicked just before is applied first but does not move the flag."""
    row = click.context.get("row")
    if not isinstance(row, int) or not 0 <= row < len(synthetic):
        return
    if click.name == "unflag":
        record_flags().pop(row, None)
        return
    record_flags()[row] = {"row_hash": _row_hash(row, hashes), "reason": st.session_state.get("records_flag_reason"),
                           "note": st.session_state.get("records_flag_note", ""),
                           "synthetic_sha256": review.tables["synthetic"].sha256}
    st.session_state["records_flag_note"] = ""  # the note belonged to that flag


NAV_KEY, FLAG_KEY = "records_nav", "records_flag_buttons"  # components.click_log: every click counts, in order


# Everything below depends on the record shown and the reviewer's work: one fragment, so Next, Previous, Go and
# Flag rerun only this part (the sample, its scores and the settings above are not touched by a click).
@st.fragment
def _record_view() -> None:
    """The record on screen, its counters, navigation, flag form, the sample overview and the submission panel."""
    hashes = sample_hashes(review, sample_key, positions)
    for click in new_clicks(NAV_KEY):  # quick clicks merged into one rerun still move one record each
        _step(1 if click.name == "next" else -1)
    for click in new_clicks(FLAG_KEY):
        _apply_flag_click(click, hashes)
    flags, read = record_flags(), records_read()  # the signed-in user's own work (components.state)
    cursor = min(max(int(st.session_state.get(CURSOR_KEY, 0)), 0), max(n - 1, 0))
    st.session_state[CURSOR_KEY] = cursor
    index = cursor
    row_position = int(positions[index])
    real_position = int(nearest.positions[index])
    distance = float(nearest.distances[index])
    reasons = noticed_reasons(quick, row_position, distance)

    # A row opened from another page (Privacy's near copies) is shown instead of the sample's current record.
    opened = opened_synthetic_row(review)
    if opened is not None and not 0 <= opened["synthetic"] < len(synthetic):
        opened = None
    if opened is not None:
        row_position = opened["synthetic"]
        if opened["real"] is not None and 0 <= opened["real"] < len(real):
            real_position = opened["real"]
            distance = opened["distance"] if opened["distance"] is not None else float("nan")
        else:
            found = nearest_real(review, (row_position,))
            real_position, distance = int(found.positions[0]), float(found.distances[0])
        reasons = noticed_reasons(quick, row_position, distance)  # the same "Noticed" as in the sample
    read.add(row_position)  # before the counters, so they include the record on screen

    read_in_sample = sum(int(p) in read for p in positions)
    flagged_in_sample = sum(int(p) in flags for p in positions)
    m1, m2, m3 = st.columns(3)
    m1.metric("Records read (this sample)", f"{read_in_sample} / {n}",
              help=f"The review policy asks for at least {minimum} records read before sign-off.")
    m2.metric("Flagged (this sample)", str(flagged_in_sample))
    m3.metric("Read / flagged (all samples)", f"{len(read)} / {len(flags)}")

    nav, goto = st.columns([4, 4], vertical_alignment="bottom")
    with nav:
        click_buttons(NAV_KEY, [Button("previous", "Previous", shortcut="p", help="Key: P", disabled=n == 0),
                                f"Record {index + 1} of {n}",
                                Button("next", "Next", shortcut="n", help="Key: N", disabled=n == 0)])
    st.session_state["records_goto"] = index + 1  # a form widget: the browser sends it only on Go
    with goto.form("records_goto_form", border=False, enter_to_submit=True):
        g1, g2 = st.columns([2, 1], vertical_alignment="bottom")
        g1.number_input("Go to record", min_value=1, max_value=max(n, 1), step=1, key="records_goto")
        g2.form_submit_button("Go", on_click=_jump, key="records_go")

    if opened is not None:
        banner = st.columns([5, 1], vertical_alignment="center")
        banner[0].info(f"Showing synthetic row {row_position:,} opened from the {opened['source'] or 'another'} page, "
                       f"beside training row {real_position:,}. Previous / Next return to the sample.",
                       icon=":material/open_in_new:")
        banner[1].button("Back to the sample", key="records_close_opened", on_click=close_synthetic_row,
                         width="stretch")

    st.subheader(f"Synthetic record {row_position:,}")
    info = st.columns([3, 1])
    with info[0]:
        if reasons:
            # Coloured text, not badges: a badge does not wrap, and a combination naming four columns was cut.
            st.markdown("**Noticed:** " + "; ".join(f":orange[{plain(reason_label(quick, row_position, r))}]"
                                                    for r in reasons))
        else:
            st.markdown("**Noticed:** :green-badge[nothing]")
        counterpart = ("Nearest real training record" if not opened or opened["real"] is None
                       else "Real training record it copies" if distance == 0
                       else "Real training record it nearly copies")
        st.caption(f"{counterpart}: row {real_position:,} of {len(real):,}. "
                   "Yellow: the synthetic value differs from the real one; red: the value failed a check.")
    info[1].metric("Distance to nearest real" if not opened else "Distance to that real record", f"{distance:.4f}")

    comparison, different, suspicious = record_comparison_cells(review, scores_key, scores, row_position,
                                                                real_position)
    st.dataframe(style_comparison(comparison, different, suspicious),
                 hide_index=True, width="stretch", height=38 + 35 * len(comparison), key="records_comparison",
                 # Widths that fit 1,440 px: every column name and the check column visible without scrolling.
                 # Every column has one: the page stretches them in proportion, and a check column left to
                 # size itself got ~100 px ("same; unseen co").
                 column_config={"column": st.column_config.TextColumn("column", width=230),
                                "type": st.column_config.TextColumn("type", width=80),
                                "synthetic": st.column_config.TextColumn("synthetic", width=235),
                                "nearest real": st.column_config.TextColumn("nearest real", width=235),
                                "check": st.column_config.TextColumn("check", width=195)})

    current = flags.get(row_position)
    with st.container(border=True, key="records_flag_box"):
        st.markdown("**Flag this record**" + (f" (flagged: {current['reason']})" if current else ""))
        f1, f2 = st.columns([1, 3])
        f1.selectbox("Reason", FLAG_REASONS, key="records_flag_reason")
        f2.text_input("Note", key="records_flag_note", placeholder="what looks wrong")
        buttons, _ = st.columns([2, 4])
        with buttons:  # a click carries the row on screen, and is applied at the top of the next run
            click_buttons(FLAG_KEY, [Button("flag", "Flag", shortcut="f", help="Key: F", primary=True),
                                     Button("unflag", "Remove flag", disabled=current is None)],
                          context={"row": row_position})

    st.subheader("The sample")
    overview = pd.DataFrame({
        "#": range(1, n + 1),
        "synthetic row": [str(int(p)) for p in positions],
        "noticed": sample_overview(review, sample_key, positions, nearest.distances),
        "distance": nearest.distances,
        "read": ["yes" if int(p) in read else "" for p in positions],
        "flag": [flags[int(p)]["reason"] if int(p) in flags else "" for p in positions],
    })
    st.dataframe(overview, hide_index=True, width="stretch", height=300, key="records_overview",
                 column_config={"distance": st.column_config.NumberColumn("distance to nearest real", format="%.4f"),
                                "noticed": st.column_config.TextColumn("noticed", width="large")})
    if flags:
        with st.expander(f"Flagged records ({len(flags)})", expanded=False):
            flagged = pd.DataFrame([{"synthetic row": str(p), "reason": f["reason"], "note": f["note"],
                                     "row hash": f["row_hash"]} for p, f in sorted(flags.items())])
            st.dataframe(flagged, hide_index=True, width="stretch", key="records_flagged")
            st.dataframe(text_frame(synthetic.iloc[sorted(flags)]), width="stretch", key="records_flagged_rows")

    # Sign-off: persist this session's records read and flags as the signed-in reviewer's review of the
    # generation (inside the fragment: its counts follow every click).
    st.divider()
    review_submission_panel(review, synthetic)


from components.signoff_views import review_submission_panel  # noqa: E402

_record_view()

# Relational data: a synthetic parent with its children beside the nearest real parent with its children.
from components.relations_views import relational_records_section  # noqa: E402

relational_records_section()
