"""Review desk for synthetic tabular data: the Streamlit entry point (navigation over explicit pages)."""
from __future__ import annotations

import streamlit as st

from components.state import get_review, mark_app_entry
from components.widgets import sidebar_summary

st.set_page_config(page_title="Synthetic data review desk", page_icon=":material/fact_check:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("pages/records.py", title="Records", icon=":material/table_rows:"),
    st.Page("pages/columns.py", title="Columns", icon=":material/bar_chart:"),
    st.Page("pages/correlations.py", title="Correlations", icon=":material/grid_on:"),
    st.Page("pages/summary.py", title="Summary", icon=":material/fact_check:"),
]

page = st.navigation(PAGES)
get_review()  # a fresh session starts on the bundled demo
sidebar_summary()
mark_app_entry()
page.run()
