"""History: every registered generation with its state, and the tamper-evident audit log."""
from __future__ import annotations

import streamlit as st

from components.signoff_views import history_view
from components.state import require_app_entry

require_app_entry()
st.title("History")
history_view()
