"""End to end in headless Chromium: every page renders on the demo, the main interactions work, no error box."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.e2e
IDLE = ("() => { const app = document.querySelector('[data-testid=stApp]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'"
        " && app.getAttribute('data-test-connection-state') === 'CONNECTED'; }")


def wait_idle(page, settle_ms: int = 800) -> None:
    """Wait until the script run is over (twice, as a widget change may start a second run)."""
    for _ in range(2):
        page.wait_for_timeout(settle_ms)
        page.wait_for_function(IDLE, timeout=180_000)


def assert_no_error(page, where: str) -> None:
    """Neither an exception box nor an st.error box is on the page."""
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"{where}: exception shown: {exceptions.first.inner_text()}"
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"{where}: error shown: {errors.first.inner_text()}"


def go(page, url: str, title: str) -> None:
    """Open a page from the sidebar navigation and wait for its title."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    wait_idle(page)
    page.get_by_role("heading", name=title).first.wait_for()


def shot(page, name: str) -> None:
    """Save a screenshot of the whole app (the viewport is tall enough for a page)."""
    charts_drawn(page)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def choose(page, label: str, option: str) -> None:
    """Pick an option of the selectbox (a combobox) with this label."""
    box = page.get_by_role("combobox", name=label).first
    box.click()
    box.fill(option)  # long option lists are virtualised: filter first
    page.get_by_role("option", name=option, exact=True).first.click()
    wait_idle(page)


def charts_drawn(page) -> None:
    """Wait until every Plotly chart on the page has drawn its SVG."""
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
                           ".every(c => c.querySelector('.main-svg'))", timeout=60_000)


def _signed_in_reviewer(page, server_url, server_env, name="e2e-reviewer") -> None:
    """Records shows real rows to signed-in reviewers only: create one in the server's store and sign in."""
    from core.review import auth
    from core.store import init_db, session_scope
    from core.store.models import User

    init_db(server_env["DATABASE_URL"])
    with session_scope(server_env["DATABASE_URL"]) as s:
        if s.query(User).filter_by(name=name).first() is None:
            auth.create_user(s, name, "password123", "reviewer")
    go(page, server_url, "Sign in")
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password", exact=True).fill("password123")
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_idle(page)
    page.get_by_text(f"Signed in as {name}").first.wait_for()


def test_every_page_and_main_interactions(page, server_url, server_env):
    page.goto(server_url)
    wait_idle(page, 1500)
    page.get_by_role("heading", name="Data").first.wait_for()
    assert page.get_by_text("real (training part)").count() >= 1
    assert_no_error(page, "data")
    shot(page, "1-data")

    _signed_in_reviewer(page, server_url, server_env)
    go(page, server_url, "Records")
    assert_no_error(page, "records")
    first = page.get_by_role("heading", name=re.compile(r"Synthetic record [\d,]+")).first.inner_text()
    page.get_by_text("Most suspicious first").click()
    wait_idle(page)
    assert_no_error(page, "records suspicious")
    page.get_by_role("button", name="Next").click()
    wait_idle(page)
    second = page.get_by_role("heading", name=re.compile(r"Synthetic record [\d,]+")).first.inner_text()
    assert second != first
    page.get_by_role("textbox", name="Note").fill("age and education do not fit")
    page.get_by_role("button", name=re.compile(r"^Flag")).first.click()  # its name includes the shortcut
    wait_idle(page)
    assert page.get_by_text("(flagged: implausible)").count() == 1
    assert_no_error(page, "records flag")
    shot(page, "2-records")

    go(page, server_url, "Columns")
    assert_no_error(page, "columns")
    choose(page, "Column", "education")
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    assert_no_error(page, "columns choice")
    shot(page, "3-columns")

    go(page, server_url, "Correlations")
    assert_no_error(page, "correlations")
    choose(page, "Pair", "age / weeks_worked_in_year")
    assert page.get_by_text("grid of equal-width bins shared by both tables").count() >= 1
    choose(page, "Pair", "education / marital_stat")
    assert_no_error(page, "correlations pair")
    shot(page, "4-correlations")

    go(page, server_url, "Summary")
    assert_no_error(page, "summary")
    assert page.get_by_text("Verdict").count() >= 1
    assert page.get_by_role("button", name=re.compile("Download the JSON report")).count() == 1
    shot(page, "5-summary")


def test_bad_upload_shows_a_message_not_a_traceback(page, server_url, tmp_path):
    bad = tmp_path / "real.csv"
    bad.write_bytes(b"a,b\n1,2\n\xff\xfe,3\n")
    page.goto(server_url)
    wait_idle(page, 1500)
    page.get_by_role("tab", name="Upload files").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(bad))
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for()
    assert "not UTF-8" in error.inner_text()
    shot(page, "6-data-bad-upload")
    go(page, server_url, "Summary")
    assert_no_error(page, "summary after bad upload")


def _record_number(page) -> int:
    """The 1-based position shown as 'Record N of M' on the Records page."""
    text = page.get_by_text(re.compile(r"^Record \d+ of \d+$")).first.inner_text()
    return int(re.match(r"Record (\d+) of", text).group(1))


def test_next_clicks_each_advance_exactly_one_record(page, server_url, server_env):
    # Previous / Next / Flag are a click log (components.click_log): the browser sends every click not yet applied,
    # with a sequence number, as the component's state, so clicks that Streamlit merges into one rerun still move
    # one record each. Paced clicks, quick clicks and quick key presses all move exactly one record per click.
    page.goto(server_url)
    wait_idle(page, 1500)
    _signed_in_reviewer(page, server_url, server_env, name="e2e-quick")
    go(page, server_url, "Records")
    assert_no_error(page, "records")
    start = _record_number(page)
    for i in range(1, 4):
        page.get_by_role("button", name=re.compile(r"^Next")).first.click()
        wait_idle(page, 300)
        assert _record_number(page) == start + i
    page.locator("body").press("n")
    wait_idle(page, 300)
    assert _record_number(page) == start + 4
    page.get_by_role("button", name=re.compile(r"^Previous")).first.click()
    wait_idle(page, 300)
    assert _record_number(page) == start + 3
    for _ in range(10):  # quicker than a run: Streamlit merges these reruns
        page.get_by_role("button", name=re.compile(r"^Next")).first.click()
        page.wait_for_timeout(100)
    wait_idle(page)
    assert _record_number(page) == start + 13
    for _ in range(6):
        page.locator("body").press("p")
    wait_idle(page)
    assert _record_number(page) == start + 7
    # Typing in the note does not move the record (n and p are letters there).
    page.get_by_role("textbox", name="Note").fill("no pun intended")
    page.get_by_role("textbox", name="Note").press("n")
    page.get_by_role("textbox", name="Note").press("Tab")
    wait_idle(page)
    assert _record_number(page) == start + 7
    # Flag from the keyboard flags the record on screen, once, with the note typed.
    page.locator("body").press("f")
    wait_idle(page)
    assert page.get_by_text("(flagged: implausible)").count() == 1
    metric = page.locator('[data-testid="stMetric"]', has_text="Flagged (this sample)")
    assert metric.inner_text().strip().endswith("1")
    assert page.get_by_role("textbox", name="Note").input_value() == ""  # the note went with the flag
    assert_no_error(page, "records next clicks")


def test_keys_work_after_choosing_the_sample_method(page, server_url, server_env):
    # A click on the method radio leaves the focus on that radio input: N / P / F must still move and flag
    # (a radio takes no letters), while a text box still keeps them.
    page.goto(server_url)
    wait_idle(page, 1500)
    _signed_in_reviewer(page, server_url, server_env, name="e2e-keys")
    go(page, server_url, "Records")
    page.get_by_text("Stratified by a column").first.click()
    wait_idle(page)
    assert page.evaluate("() => document.activeElement.type") == "radio"
    start = _record_number(page)
    page.keyboard.press("n")
    wait_idle(page)
    assert _record_number(page) == start + 1
    page.get_by_role("textbox", name="Note").fill("n")
    page.keyboard.press("n")
    wait_idle(page)
    assert _record_number(page) == start + 1
    assert_no_error(page, "records keys after the method radio")
