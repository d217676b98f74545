"""Review desk for synthetic tabular data: the Streamlit entry point (navigation over explicit pages)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

# A local favicon: an emoji or material icon makes the browser fetch one from a CDN (a console error offline).
FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"
st.set_page_config(page_title="Synthetic data review desk", page_icon=str(FAVICON), layout="wide")

PAGES = {
    "Review": [
        st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
        st.Page("pages/records.py", title="Records", icon=":material/table_rows:"),
        st.Page("pages/columns.py", title="Columns", icon=":material/bar_chart:"),
        st.Page("pages/correlations.py", title="Correlations", icon=":material/grid_on:"),
        st.Page("pages/privacy.py", title="Privacy", icon=":material/shield:"),
        st.Page("pages/utility.py", title="Utility", icon=":material/model_training:"),
        st.Page("pages/structure.py", title="Structure", icon=":material/hub:"),
        st.Page("pages/relations.py", title="Relations", icon=":material/schema:"),
        st.Page("pages/sequences.py", title="Sequences", icon=":material/timeline:"),
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
# First paint before the heavy imports (pandas, scipy, SDV: seconds on a cold start), so a first visitor sees
# what is happening instead of a blank page.
loading = st.empty()
if "review" not in st.session_state:
    loading.caption("Opening the review desk: loading the analysis libraries and the demo tables...")

from components.state import get_review, mark_app_entry  # noqa: E402  (imported after the first paint)
from components.widgets import sidebar_summary  # noqa: E402
from components.auth_views import sidebar_user  # noqa: E402
from components.store_access import setup_token_sha256  # noqa: E402
from components.process import freeze_long_lived_objects  # noqa: E402
from components.figures import use_app_template  # noqa: E402

use_app_template()  # every chart's toolbar keeps four buttons, clear of titles and legends

get_review()  # a fresh session starts on the bundled demo
if not st.session_state.get("_setup_token_checked"):
    setup_token_sha256()  # on an empty store, prints the one-time first-admin token to the server's stdout
    st.session_state["_setup_token_checked"] = True
sidebar_summary()
from components.relations_views import relational_sidebar  # noqa: E402

relational_sidebar()  # the table picker when relational data is loaded
sidebar_user()  # signed-in user and sign-out (components/auth_views.py)
mark_app_entry()
loading.empty()
freeze_long_lived_objects()  # the libraries a page imported last run stay out of later garbage collections
page.run()
