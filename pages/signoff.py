"""Sign-off: the approver's checklist, waivers for failed gates, the ten rules, and the signed decision."""
from __future__ import annotations

import streamlit as st

from components.signoff_views import PAGE_GENERATION, pick_generation, signoff_panel
from components.state import get_review, require_app_entry

require_app_entry()
st.title("Sign-off")
review = get_review()
st.caption("Approve, request changes or reject a registered generation; revoke an approval. Decisions are "
           "immutable, name the evidence they rest on (frozen as a sha256), and are refused when a rule is broken.")
generation_id = pick_generation(review, key="signoff_pick")
if generation_id is None:
    st.info("No generation is registered yet.")
    st.page_link(PAGE_GENERATION, label="Register the generation under review", icon=":material/inventory:")
    st.stop()
signoff_panel(generation_id, review)
