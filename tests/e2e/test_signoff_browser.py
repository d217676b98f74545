"""End to end in headless Chromium: register the demo generation, review it, refuse the creator, approve, verify.

The app runs in its own server with a temp store ($DATABASE_URL) holding the users, and a review policy
($REVIEW_DESK_POLICY) asking for only 3 records read, so the flow fits in a test.
"""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS, streamlit_server
from tests.e2e.test_browser import assert_no_error, go, wait_idle

pytestmark = pytest.mark.e2e
PASSWORD = "password123"
POLICY = "[review]\nmin_records_read = 3\nrequired_reviewers = 1\nallow_waivers = true\n"


@pytest.fixture(scope="module")
def signoff_url(tmp_path_factory):
    """A server on a temp store with users maker (creator), rita (reviewer) and alex (approver)."""
    from core.review import auth
    from core.store import dispose_engines, init_db, session_scope, sqlite_url

    folder = tmp_path_factory.mktemp("signoff-store")
    url = sqlite_url(folder / "desk.sqlite3")
    init_db(url)
    with session_scope(url) as s:
        # maker is an approver: with a reviewer creator the role rule refuses first and four eyes is never reached
        for name, role in (("maker", "approver"), ("rita", "reviewer"), ("alex", "approver")):
            auth.create_user(s, name, PASSWORD, role)
    dispose_engines()
    policy = folder / "policy.toml"
    policy.write_text(POLICY)
    with streamlit_server({"DATABASE_URL": url, "REVIEW_DESK_POLICY": str(policy),
                  "REVIEW_DESK_LINEAGE_CACHE": str(folder / "tables")}) as server:
        yield server


def _sign_in(page, name: str) -> None:
    sign_out = page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out")
    if sign_out.count():
        sign_out.click()
        wait_idle(page)
    go(page, "", "Sign in")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Sign in").click()
    wait_idle(page)
    page.locator('[data-testid="stSidebar"]').get_by_text(f"Signed in: {name}").wait_for()


def _tick_rules_and_waive(page) -> None:
    for i in range(10):
        page.locator('[data-testid="stCheckbox"] label').nth(i).click()
        wait_idle(page, 300)
    waivers = page.get_by_label(re.compile(r"^Waive '"))
    for i in range(waivers.count()):
        waivers.nth(i).fill("demo generator; the column shapes were read by hand")
        waivers.nth(i).press("Enter")
        wait_idle(page, 300)


def _shot(page, name: str) -> None:
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_register_review_refuse_creator_approve_and_verify(browser, signoff_url):
    context = browser.new_context(viewport={"width": 1440, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(180_000)
    try:
        page.goto(signoff_url)
        wait_idle(page)

        # maker registers the demo generation
        _sign_in(page, "maker")
        go(page, signoff_url, "Generation")
        page.get_by_role("button", name="Register this generation for review").click()
        wait_idle(page)
        page.get_by_text("is registered as generation #1").wait_for()
        assert_no_error(page, "generation")

        # rita reads three records, flags one and submits her review
        _sign_in(page, "rita")
        go(page, signoff_url, "Records")
        page.get_by_label("Note").fill("income too high for the age")
        page.get_by_role("button", name=re.compile(r"^Flag")).first.click()  # its name includes the shortcut
        wait_idle(page)
        for _ in range(2):
            page.get_by_role("button", name=re.compile(r"^Next")).first.click()
            wait_idle(page)
        page.get_by_label("Review comment").fill("three records read; one implausible")
        page.get_by_label("Review comment").press("Control+Enter")
        wait_idle(page)
        page.get_by_role("button", name="Submit review").click()
        wait_idle(page)
        page.get_by_text("submitted: 3 records read, 1 note(s)").wait_for()
        assert_no_error(page, "records")

        # maker, the creator, may not approve: refused by the four-eyes rule with its message
        _sign_in(page, "maker")
        go(page, signoff_url, "Sign-off")
        _tick_rules_and_waive(page)
        page.get_by_role("button", name="Sign", exact=True).click()
        wait_idle(page)
        error = page.locator('[data-testid="stAlertContentError"]').first
        error.wait_for()
        assert "Refused by rule 'four_eyes'" in error.inner_text()
        assert "nobody approves their own generation" in error.inner_text()

        # alex approves with waivers for the demo's failed gates
        _sign_in(page, "alex")
        go(page, signoff_url, "Sign-off")
        _tick_rules_and_waive(page)
        _shot(page, "9a-signoff-checklist")  # the ten rules in full and the waived gates, before signing
        page.get_by_role("button", name="Sign", exact=True).click()
        wait_idle(page)
        page.get_by_text("Frozen evidence sha256").wait_for()
        assert_no_error(page, "sign-off")
        _shot(page, "9-signoff")

        # alex exports with real records: the audit log's widest action (export.include_real_records) pushed the
        # auto-sized History audit table past the page.
        go(page, signoff_url, "Generation")
        page.get_by_text("Include real records").click()
        wait_idle(page)
        with page.expect_download():
            page.get_by_role("button", name="Download evidence bundle (JSON)").click()
        wait_idle(page)

        go(page, signoff_url, "History")
        page.get_by_role("button", name="Verify chain").click()
        wait_idle(page)
        page.get_by_text("Chain OK").wait_for()
        assert_no_error(page, "history")
        # Both tables fit 1,440 px (no sideways scrolling); selecting a row shows its full digest.
        for key in ("history_generations", "history_audit"):
            scroller = page.locator(f".st-key-{key} [data-testid=stDataFrameResizable] .dvn-scroller")
            assert scroller.evaluate("s => s.scrollWidth <= s.clientWidth"), f"{key} scrolls sideways"
        box = page.locator(".st-key-history_generations [data-testid=stDataFrameResizable]").bounding_box()
        page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the first row's selection box
        wait_idle(page)
        page.locator(".st-key-history_generation_details").get_by_text("Synthetic table sha256").wait_for()
        _shot(page, "10-history")
    finally:
        context.close()
