"""AppTest: sign-in, the Generation / Sign-off / History pages, and the register -> review -> approve flow on the demo.

Each test gets its own SQLite store through $DATABASE_URL; the cached engine and st.cache_data are cleared around it.
"""
from __future__ import annotations

import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from core.review import auth
from core.store import audit_events, read_session, session_scope, verify_chain

from tests.app.conftest import APP, TIMEOUT, _click, _joined_text as _texts, _ok, _open_page as _open

PASSWORD = "password123"
POLICY = "[review]\nmin_records_read = 1\nrequired_reviewers = 1\nallow_waivers = true\n"


@pytest.fixture
def store(temp_store, tmp_path, monkeypatch):
    """A temp store (migrated) and a small-review policy file as $REVIEW_DESK_POLICY."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    monkeypatch.setenv("REVIEW_DESK_POLICY", str(policy))
    return temp_store


def _users(url: str, **roles: str) -> None:
    with session_scope(url) as s:
        for name, role in roles.items():
            auth.create_user(s, name, PASSWORD, role)


def _new_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    return _ok(at.run())


def _sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    _open(at, "signin")
    if "signed_in_user" in at.session_state:
        at.button(key="auth_sign_out_page").click()
        _ok(at.run())
    at.text_input(key="auth_name").input(name)
    at.text_input(key="auth_password").input(password)
    at.button(key="auth_sign_in").click()
    return _ok(at.run())


def test_first_run_offers_the_first_admin_and_every_page_renders(store, monkeypatch):
    monkeypatch.setenv("REVIEW_DESK_SETUP_TOKEN", "token-printed-in-the-server-log")
    at = _new_app()
    for page in ("generation", "signoff", "history"):
        _open(at, page)
        assert not at.error
    _open(at, "signin")
    assert "First run" in _texts(at.warning)
    # The first visitor is not the first admin: without the server's setup token nothing is created.
    at.text_input(key="auth_admin_token").input("a guess")
    at.text_input(key="auth_admin_name").input("mallory")
    at.text_input(key="auth_admin_password").input(PASSWORD)
    at.text_input(key="auth_admin_password2").input(PASSWORD)
    at.button(key="auth_admin_create").click()
    _ok(at.run())
    assert "wrong setup token" in _texts(at.error) and "signed_in_user" not in at.session_state
    at.text_input(key="auth_admin_token").input("token-printed-in-the-server-log")
    at.text_input(key="auth_admin_name").input("ada")
    at.text_input(key="auth_admin_password").input(PASSWORD)
    at.text_input(key="auth_admin_password2").input(PASSWORD)
    at.button(key="auth_admin_create").click()
    _ok(at.run())
    assert at.session_state["signed_in_user"]["role"] == "admin"
    assert "Signed in as ada" in _texts(at.success)  # (AppTest drops the sidebar on reruns; checked in Chromium)
    with read_session(store) as s:
        assert auth.get_user(s, "ada").role == "admin"


def test_sign_in_refuses_a_wrong_password_then_signs_in_and_out(store):
    _users(store, rita="reviewer")
    at = _sign_in(_new_app(), "rita", "wrong password")
    assert "unknown user or wrong password" in _texts(at.error)
    assert "signed_in_user" not in at.session_state
    at.text_input(key="auth_name").input("rita")
    at.text_input(key="auth_password").input(PASSWORD)
    at.button(key="auth_sign_in").click()
    _ok(at.run())  # right password, but inside the 1 s delay that follows a failure: refused unchecked
    assert "wait" in _texts(at.error) and "signed_in_user" not in at.session_state
    time.sleep(1.1)
    at.button(key="auth_sign_in").click()
    _ok(at.run())
    assert at.session_state["signed_in_user"]["name"] == "rita"
    assert "Signed in as rita" in _texts(at.success)
    at.button(key="auth_sign_out_page").click()
    _ok(at.run())
    assert "signed_in_user" not in at.session_state
    assert at.button(key="auth_sign_in")


def test_viewer_cannot_write(store):
    _users(store, vera="viewer", maker="reviewer")
    at = _sign_in(_new_app(), "vera")
    _open(at, "generation")
    button = at.button(key="gen_register")
    assert button.disabled
    assert "needs 'reviewer'" in _texts(at.caption)
    # once registered by someone else, the viewer still can neither review nor sign
    at = _sign_in(at, "maker")
    _open(at, "generation").button(key="gen_register").click()
    _ok(at.run())
    at = _sign_in(at, "vera")
    _open(at, "records")  # shows real rows: closed to a viewer
    assert "needs 'reviewer'" in _texts(at.info) and not at.subheader
    assert not any(b.key == "records_review_submit" for b in at.button)
    _open(at, "signoff")
    assert at.button(key="signoff_sign").disabled
    assert "needs 'approver'" in _texts(at.caption)


def _no_raw_times(text: str) -> None:
    """No ISO time with its 'T' or microseconds in what the page shows (components.widgets.short_time's format)."""
    raw = re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}:\d{2}\.\d", text)
    assert raw is None, text[max(0, raw.start() - 80):raw.end() + 40]


def _comment_box(at: AppTest):
    """The Sign-off page's decision comment box."""
    return next(box for box in at.text_area if box.label == "Comment")


def _tick_and_waive(at: AppTest) -> None:
    for i in range(1, 11):
        at.checkbox(key=f"signoff_rule_{i}").check()
    for box in at.text_input:
        if box.key and box.key.startswith("signoff_waiver_"):
            box.input("demo generator; shapes reviewed by hand")


def test_register_review_approve_and_four_eyes(store):
    _users(store, maker="approver", rita="reviewer", alex="approver")
    at = _sign_in(_new_app(), "maker")
    _open(at, "generation")
    at.button(key="gen_register").click()
    _ok(at.run())
    assert not at.error
    assert "registered as generation #1" in _texts(at.success)
    assert "maker" in _texts(at.metric)

    at = _sign_in(at, "rita")
    _open(at, "records")
    at.text_input(key="records_flag_note").input("age 90 with a child's job")
    at.selectbox(key="records_flag_reason").set_value("implausible")
    _ok(_click(at, "records_flag_buttons", "flag"))
    at.text_area(key="records_review_comment").input("read the first record")
    at.button(key="records_review_submit").click()
    _ok(at.run())
    assert "submitted: 1 records read, 1 note(s)" in _texts(at.success)

    # the creator may not approve their own generation: refused by the four-eyes rule, shown with its name
    at = _sign_in(at, "maker")
    _open(at, "signoff")
    _tick_and_waive(at)
    _ok(at.run())
    at.button(key="signoff_sign").click()
    _ok(at.run())
    assert "Refused by rule 'four\\_eyes'" in _texts(at.error)
    assert "nobody approves their own generation" in _texts(at.error)

    at = _sign_in(at, "alex")
    _open(at, "signoff")
    _tick_and_waive(at)
    _ok(at.run())
    assert not at.button(key="signoff_sign").disabled
    _comment_box(at).input("approve for scale-up")
    at.button(key="signoff_sign").click()
    _ok(at.run())
    assert not at.error, _texts(at.error)
    assert "Frozen evidence sha256" in _texts(at.success)
    assert "approved" in _texts(at.markdown)  # the state badge
    with read_session(store) as s:
        assert verify_chain(s).ok
    # Revoke, now the only decision, opens on an empty comment: the approval's comment is not its reason
    # (it kept "approve for scale-up", so one more click revoked the approval with the approval's comment).
    assert at.radio(key="signoff_decision").value == "revoke"
    assert _comment_box(at).value == ""
    _comment_box(at).input("approve for scale-up")
    at.button(key="signoff_sign").click()
    _ok(at.run())
    assert "its own reason" in _texts(at.error)
    assert "approved" in _texts(at.markdown)
    _no_raw_times(_texts(at.info))  # "Decided: approved by alex at 2026-...T20:03:33.123456+00:00"
    _no_raw_times(" ".join(_texts(kind) for kind in (at.markdown, at.caption, at.success, at.warning))
                  + " ".join(d.value.to_csv() for d in at.dataframe))

    _open(at, "generation")
    assert "age 90 with a child's job" in " ".join(str(d.value.to_dict()) for d in at.dataframe)
    # times to the second, in UTC, as on History: the registered caption, the reviews' and decisions' tables
    _no_raw_times(_texts(at.caption) + " ".join(d.value.to_csv() for d in at.dataframe))
    assert "UTC" in _texts(at.caption)
    assert {"submitted (UTC)", "at (UTC)"} <= {c for d in at.dataframe for c in d.value.columns}
    _open(at, "history")
    at.button(key="history_verify").click()
    _ok(at.run())
    assert "Chain OK" in _texts(at.success)
    # The History tables fit the page (short digests and times); a selected row shows its values whole.
    generations = next(d.value for d in at.dataframe if "synthetic sha256" in d.value.columns)
    sha = at.session_state["review"].tables["synthetic"].sha256
    assert generations["synthetic sha256"].iloc[0] == sha[:12] + "…"
    assert len(generations["created (UTC)"].iloc[0]) == len("2026-01-01 00:00")
    audit = next(d.value for d in at.dataframe if "payload" in d.value.columns)
    assert list(audit.columns)[-1] == "payload" and audit["hash"].str.len().max() == 13
    at.session_state["history_generations"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.session_state["history_audit"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    _ok(at.run())
    codes = [c.value for c in at.code]
    assert sha in codes
    with read_session(store) as s:
        newest = audit_events(s)[-1]
    assert newest["hash"] in codes and newest["prev_hash"] in codes


def test_export_wording_says_what_a_report_without_real_records_holds(store):
    # Generation: the box said real records include "category values of real data", but the report exported
    # without them still names real categories in its charts (shares of rows, never a row).
    _users(store, maker="approver")
    at = _sign_in(_new_app(), "maker")
    _open(at, "generation").button(key="gen_register").click()
    _ok(at.run())
    box = at.checkbox(key="gen_export_real")
    assert "category values of real data" not in box.label
    assert box.label.startswith("Include real records (rows of the real data")
    shown = _texts(at.caption)
    assert "**excludes** real records" in shown
    assert "charts still name the real data's categories with their shares of rows; no real row is included" in shown
