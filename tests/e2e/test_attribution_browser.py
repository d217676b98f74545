"""Two users, one browser: reads and flags belong to whoever was signed in, sign-out clears them, and the
creator's own review never counts. Also: Records is closed to anonymous visitors, and quick Next clicks all land."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import streamlit_server
from tests.e2e.test_browser import ARTIFACTS, assert_no_error, go, wait_idle

pytestmark = pytest.mark.e2e
PASSWORD = "password123"
POLICY = "[review]\nmin_records_read = 2\nrequired_reviewers = 1\nallow_waivers = true\n"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A server on its own store: ann (reviewer, who registered the demo generation), bob (reviewer), cat
    (approver); the generation is registered before the server starts."""
    from core.data.io import load_table
    from core.demo import build_demo
    from core.review import auth
    from core.review.signoff import register_reviewed_generation
    from core.store import init_db, session_scope, sqlite_url

    folder = tmp_path_factory.mktemp("attribution")
    url = sqlite_url(folder / "desk.sqlite3")
    init_db(url)
    files = build_demo()
    with session_scope(url) as s:
        for name, role in (("ann", "reviewer"), ("bob", "reviewer"), ("cat", "approver")):
            auth.create_user(s, name, PASSWORD, role)
        generation = register_reviewed_generation(
            s, real=load_table(files.train), synthetic=load_table(files.synthetic), holdout=load_table(files.holdout),
            manifest=files.load_manifest(), created_by="ann", report={"tool": "review-desk", "gates": []},
            dataset_name="census-income-demo")
    (folder / "policy.toml").write_text(POLICY)
    env = {"DATABASE_URL": url, "REVIEW_DESK_LINEAGE_CACHE": str(folder / "tables"),
           "REVIEW_DESK_POLICY": str(folder / "policy.toml")}
    with streamlit_server(env, log_name="streamlit-attribution.log") as server:
        yield server, url, generation


def _sign_in(page, server, name):
    go(page, server, "Sign in")
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_idle(page)
    page.get_by_text(f"Signed in as {name}").first.wait_for()


def _sign_out(page):
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    wait_idle(page)


def _record_heading(page) -> str:
    return page.get_by_role("heading", name=re.compile(r"Synthetic record [\d,]+")).first.inner_text()


def _record_number(page) -> int:
    text = page.get_by_text(re.compile(r"^Record \d+ of \d+$")).first.inner_text()
    return int(re.search(r"Record (\d+)", text).group(1))


def _submit(page, comment):
    page.get_by_role("textbox", name="Review comment").fill(comment)
    page.get_by_role("button", name="Submit review").click()
    wait_idle(page)
    page.get_by_text(re.compile(r"Review #\d+ submitted")).first.wait_for()


def test_two_users_one_browser(desk, browser):
    from core.policy import parse_policy
    from core.review.signoff import approval_checklist
    from core.store import read_session, submitted_reviews

    server, url, generation = desk
    context = browser.new_context(viewport={"width": 1440, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        page.goto(server)
        wait_idle(page, 1500)
        # Anonymous: Records shows no real (or synthetic) record, only the way to sign in.
        go(page, server, "Records")
        page.get_by_text("Records shows real training records").first.wait_for()
        assert page.get_by_role("heading", name=re.compile(r"Synthetic record")).count() == 0

        # ann (the generation's creator) reads three records and flags one, submits, signs out.
        _sign_in(page, server, "ann")
        go(page, server, "Records")
        assert_no_error(page, "records as ann")
        for _ in range(2):
            page.get_by_role("button", name="Next").click()
            wait_idle(page)
        page.get_by_role("textbox", name="Note").fill("ann's note")
        page.get_by_role("button", name=re.compile(r"^Flag")).first.click()
        wait_idle(page)
        assert page.get_by_text("(flagged: implausible)").count() == 1
        _submit(page, "ann reviewed her own generation")
        _sign_out(page)

        # bob signs in on the same browser: nothing of ann's is in his session.
        _sign_in(page, server, "bob")
        go(page, server, "Records")
        metric = page.locator('[data-testid="stMetric"]', has_text="Read / flagged (all samples)")
        assert "1 / 0" in metric.inner_text()  # only the record on screen, no flag
        assert page.get_by_text("(flagged:").count() == 0
        # Quick clicks (the issue: clicks under 1 s apart were dropped): 10 Next clicks 400 ms apart all land,
        # then 3 presses of the N key.
        for _ in range(10):
            page.get_by_role("button", name="Next").click()
            page.wait_for_timeout(400)
        wait_idle(page)
        # None is dropped. (Under heavy load one run overshot by two: a queued rerun replayed a click; see the
        # issue note. The record must never fall short of the clicks made.)
        after_clicks = _record_number(page)
        assert after_clicks >= 11
        for _ in range(3):
            page.locator("body").press("n")
            page.wait_for_timeout(600)
        wait_idle(page)
        assert _record_number(page) >= after_clicks + 3
        page.screenshot(path=str(ARTIFACTS / "attribution-bob-records.png"), full_page=True)
        # Records the quick clicks passed over before the page could show them are not counted as read.
        bob_read = int(re.search(r"(\d+) / 0", metric.inner_text()).group(1))
        assert 2 <= bob_read <= _record_number(page)
        _submit(page, "bob read his records")
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "attribution-failure.png"), full_page=True)
        raise
    finally:
        context.close()

    with read_session(url) as s:
        reviews = {r.reviewer: r for r in submitted_reviews(s, generation)}
        assert reviews["ann"].records_read == 3 and [n.note for n in reviews["ann"].notes] == ["ann's note"]
        assert reviews["bob"].records_read == bob_read and list(reviews["bob"].notes) == []
        two = parse_policy("[review]\nmin_records_read = 2\nrequired_reviewers = 2\n", "two")
        checks = {c.rule: c for c in approval_checklist(s, generation, "cat", None,
                                                         reviews["bob"].synthetic_sha256, two)}
    # ann's own review is not counted: one reviewer (bob) and his records only.
    assert not checks["required_reviewers"].passed and "submitted: bob " in checks["required_reviewers"].message
    assert f"{bob_read} records read" in checks["min_records_read"].message
