"""Generation: register the generation under review, then its manifest, evaluation, notes, decisions, lineage, audit."""
from __future__ import annotations

import streamlit as st

from components.signoff_views import export_panel, generation_detail_view, pick_generation, register_panel
from components.state import get_review, require_app_entry

require_app_entry()
st.title("Generation")
review = get_review()
st.caption("A generation is a documented artifact: its manifest (method, parameters, seed, library versions, "
           "training mix), the hashes of its files, the evaluation it was judged on, its reviews and decisions.")
register_panel(review)
st.divider()
generation_id = pick_generation(review, key="generation_pick")
if generation_id is None:
    st.info("No generation is registered yet.")
    st.stop()
generation_detail_view(generation_id)
st.divider()
export_panel(generation_id)
