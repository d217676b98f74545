"""What changed since the last approval, drawn from core.review.changes (fields and gate verdicts as text)."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from components.store_access import store_engine
from components.widgets import plain
from core.review.changes import changes_since_last_approval
from core.store import read_session


def _text(value) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, default=str)


def _number(value) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def changes_view(generation_id: int, key: str) -> None:
    """The diff against the last approved generation of the same dataset: changed fields, then every gate."""
    with read_session(store_engine()) as session:
        changes = changes_since_last_approval(session, generation_id)
    st.caption(plain(changes.summary))
    if changes.base_generation_id is None:
        return
    if changes.fields:
        st.dataframe(pd.DataFrame([{"field": c.field, f"approved #{changes.base_generation_id}": _text(c.before),
                                    f"this #{generation_id}": _text(c.after)} for c in changes.fields]),
                     hide_index=True, width="stretch", key=f"{key}_fields")
    if changes.gates:
        verdict = {True: "pass", False: "FAIL", None: "-"}
        st.dataframe(pd.DataFrame([{"gate": g.name, "value before": _number(g.value_before),
                                    "value now": _number(g.value_after), "verdict before": verdict[g.passed_before],
                                    "verdict now": verdict[g.passed_after],
                                    "changed": "yes" if g.verdict_changed else ""} for g in changes.gates]),
                     hide_index=True, width="stretch", key=f"{key}_gates")
    st.caption(f"Unchanged: {', '.join(changes.unchanged_fields)}" if changes.unchanged_fields else "")
