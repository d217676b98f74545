"""AppTest and unit checks of defects found walking the app in a browser as two new users (admin, approver).

Each test names the page and what a user saw before the fix.
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.review import auth
from core.store import session_scope

from tests.app.conftest import APP, TIMEOUT, _joined_text as _texts, _ok, _open_page as _open

PASSWORD = "password123"


def _signed_in(url: str, name: str, role: str) -> AppTest:
    """A fresh app session signed in as a new account `name` with `role`."""
    with session_scope(url) as s:
        auth.create_user(s, name, PASSWORD, role)
    at = _ok(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    _open(at, "signin")
    at.text_input(key="auth_name").input(name)
    at.text_input(key="auth_password").input(PASSWORD)
    at.button(key="auth_sign_in").click()
    return _ok(at.run())


def test_create_account_keeps_what_was_typed_when_refused(temp_store):
    # Sign in: a refused account (short password) emptied the form, so the resubmit said "user name must not
    # be empty" and the role fell back to reviewer.
    at = _signed_in(temp_store, "admin1", "admin")
    at.text_input(key="auth_new_name").input("bob")
    at.selectbox(key="auth_new_role").select("approver")
    at.text_input(key="auth_new_password").input("short")
    at.button(key="auth_new_create").click()
    _ok(at.run())
    assert "at least 8 characters" in _texts(at.error)
    assert at.text_input(key="auth_new_name").value == "bob"
    assert at.selectbox(key="auth_new_role").value == "approver"
    at.text_input(key="auth_new_password").input("longenough1")
    at.button(key="auth_new_create").click()
    _ok(at.run())
    assert not at.error
    assert "Account 'bob' created with role approver." in _texts(at.success)
    assert at.text_input(key="auth_new_name").value == ""  # ready for the next account
    with session_scope(temp_store) as s:
        assert auth.get_user(s, "bob").role == "approver"


def test_the_data_inputs_table_gets_a_new_key_when_its_files_change(app):
    # Data: after loading other files the inputs table kept the old column widths, cutting "penguins.csv (trai"
    # (st.dataframe measures its columns once per key).
    from components.widgets import inputs_table, table_widget_key

    frame = inputs_table(app.session_state["review"])
    renamed = frame.assign(file=["penguins.csv (training part)", "penguins_syn.csv", "penguins.csv (holdout)"])
    assert table_widget_key("data_inputs", frame) == table_widget_key("data_inputs", frame.copy())
    assert table_widget_key("data_inputs", frame) != table_widget_key("data_inputs", renamed)


def test_records_reasons_fit_their_cells(app):
    # Records at 1,440 px: the comparison's check column read "differs; combinati..." and the "Noticed" badge of an
    # unseen combination was cut before its last column names (a badge does not wrap). Table cells now say the
    # reason in a few words; the Noticed line says it in full, as wrapping text.
    from core.review.records import REASON_TEXT

    app.session_state["signed_in_user"] = {"name": "rita", "role": "reviewer", "email": None, "via": "password"}
    _open(app, "records")
    comparison = next(d.value for d in app.dataframe if "check" in d.value.columns)
    reasons = [c.split("; ", 1)[1] for c in comparison["check"] if "; " in c]
    assert reasons and not set(reasons) & set(REASON_TEXT.values())
    assert max(len(c) for c in comparison["check"]) <= 30
    noticed = next(m.value for m in app.markdown if m.value.startswith("**Noticed:**"))
    assert "-badge[" not in noticed and any(text in noticed for text in REASON_TEXT.values())
    # Every comparison column has a width: a check column left to size itself got ~100 px of the stretched table.
    import json

    config = json.loads(next(d.proto.columns for d in app.dataframe if "check" in d.value.columns))
    assert all(config.get(name, {}).get("width") for name in comparison.columns)
    overview = next(d.value for d in app.dataframe if "noticed" in d.value.columns)
    assert not any(text in cell for cell in overview["noticed"] for text in REASON_TEXT.values())


def test_every_chart_keeps_a_small_toolbar(app):
    # The plot toolbar (nine buttons, shown on hover at the top right) covered titles and annotations of
    # half-width charts (Drift's column titles, the Correlations difference heatmap's title, Privacy's gate bound).
    # Every figure now carries the app template that removes all but four buttons, whichever page drew it.
    import json

    from components.figures import MODEBAR_REMOVE

    _open(app, "correlations")
    charts = app.get("plotly_chart")
    assert charts
    for chart in charts:
        layout = json.loads(chart.proto.spec)["layout"]
        assert layout["template"]["layout"]["modebar"]["remove"] == MODEBAR_REMOVE


def test_a_job_without_an_estimate_does_not_say_about_unknown_left():
    # Lineage's first run read "Running in the background for 0 s, about unknown left."
    from components.analysis_cache import progress_caption

    assert "about unknown" not in progress_caption("running", 0.0, None)
    assert "the time left is not known yet" in progress_caption("running", 0.0, None)
    assert progress_caption("queued", 3.0, 75.0).startswith("Queued in the background for 3 s; about 75 s left.")
