"""In headless Chromium: the Drift page with and without the planted shift, and the Lineage page running its demo."""
from __future__ import annotations

import pytest

from tests.e2e.test_browser import assert_no_error, charts_drawn, go, shot, wait_idle

pytestmark = pytest.mark.e2e


def test_drift_toggle_and_lineage_demo(page, server_url):
    page.goto(server_url)
    wait_idle(page, 1500)
    page.get_by_role("heading", name="Data").first.wait_for()

    go(page, server_url, "Drift")
    assert_no_error(page, "drift")
    # the drift check runs as a background job: its verdict appears when the job ends
    page.get_by_text("No drift: recommendation keep").first.wait_for(timeout=240_000)
    page.get_by_text("Plant a shift in the new batch").click()
    wait_idle(page)
    page.get_by_text("DRIFTED: recommendation regenerate").first.wait_for(timeout=240_000)
    assert_no_error(page, "drift with planted shift")
    page.locator('[data-testid="stPlotlyChart"]').nth(2).wait_for(timeout=120_000)  # age, class_of_worker, wage
    wait_idle(page)
    charts_drawn(page)
    shot(page, "11-drift")

    go(page, server_url, "Lineage")
    assert_no_error(page, "lineage, empty store")
    page.get_by_role("button", name="Run the lineage demo").click()
    wait_idle(page, 2000)
    page.get_by_role("heading", name="Over cycles, both chains").wait_for(timeout=240_000)
    wait_idle(page)
    assert_no_error(page, "lineage")
    shot(page, "12-lineage")
    assert page.get_by_text("Recursive training without fresh real data.", exact=True).count() == 1
    assert page.get_by_text("No warnings: fresh real data in every cycle and no collapse.", exact=True).count() == 1
