"""Review desk for synthetic tabular data: the Streamlit entry point (navigation over explicit pages)."""
from __future__ import annotations

import streamlit as st

from components.state import get_review, mark_app_entry
from components.widgets import sidebar_summary
from components.auth_views import sidebar_user

st.set_page_config(page_title="Synthetic data review desk", page_icon=":material/fact_check:", layout="wide")

PAGES = {
    "Review": [
        st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
        st.Page("pages/records.py", title="Records", icon=":material/table_rows:"),
        st.Page("pages/columns.py", title="Columns", icon=":material/bar_chart:"),
        st.Page("pages/correlations.py", title="Correlations", icon=":material/grid_on:"),
        st.Page("pages/privacy.py", title="Privacy", icon=":material/shield:"),
        st.Page("pages/utility.py", title="Utility", icon=":material/model_training:"),
        st.Page("pages/privacy_dial.py", title="Privacy dial", icon=":material/tune:"),
        st.Page("pages/summary.py", title="Summary", icon=":material/fact_check:"),
    ],
    "Sign-off": [
        st.Page("pages/generation.py", title="Generation", icon=":material/inventory:"),
        st.Page("pages/signoff.py", title="Sign-off", icon=":material/verified:"),
        st.Page("pages/history.py", title="History", icon=":material/history:"),
        st.Page("pages/signin.py", title="Sign in", icon=":material/login:"),
    ],
    "Over time": [
        st.Page("pages/drift.py", title="Drift", icon=":material/compare_arrows:"),
        st.Page("pages/lineage.py", title="Lineage", icon=":material/account_tree:"),
    ],
}

page = st.navigation(PAGES, expanded=True)  # every page in view: no "View more"
get_review()  # a fresh session starts on the bundled demo
sidebar_summary()
sidebar_user()  # signed-in user and sign-out (components/auth_views.py)
mark_app_entry()
page.run()
