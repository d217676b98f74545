"""In headless Chromium: load the relational demo on the Data page, run the Relations page's checks, pick a table
in the sidebar, and read a synthetic parent with its children beside the nearest real one on Records."""
from __future__ import annotations

import pytest

from tests.e2e.test_browser import _signed_in_reviewer, assert_no_error, charts_drawn, choose, go, shot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def relational_demo_files():
    """Build (or reuse) the relational demo before the server needs it (the HMA fit: minutes)."""
    from core.demo.relational import build_relational_demo

    return build_relational_demo()


def test_relational_demo_relations_and_records(page, server_url, server_env, relational_demo_files):
    from core.data.relational import load_relational_metadata, read_table_folder

    metadata = load_relational_metadata(relational_demo_files.metadata)
    real = read_table_folder(relational_demo_files.train, metadata)
    page.goto(server_url)
    wait_idle(page, 1500)
    page.get_by_role("heading", name="Data").first.wait_for()
    _signed_in_reviewer(page, server_url, server_env, name="e2e-relations")

    go(page, server_url, "Data")
    page.get_by_role("tab", name="Relational").click()
    page.get_by_role("button", name="Load relational demo").click()
    wait_idle(page, 1500)
    page.locator('[data-testid="stSidebar"]').get_by_text("Table shown on the other pages").wait_for(timeout=240_000)
    assert_no_error(page, "relational demo loaded")

    # "Correlations" contains "Relations": the link is found by its address, the heading exactly
    page.locator('[data-testid="stSidebarNav"] a[href$="/relations"]').first.click()
    wait_idle(page)
    page.get_by_role("heading", name="Relations", exact=True).first.wait_for()
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=120_000)  # the schema
    charts_drawn(page)
    schema = page.locator('[data-testid="stPlotlyChart"] text', has_text=f"real {len(real['flights']):,} rows")
    assert schema.count() >= 1  # the flights box of the schema figure
    run = page.get_by_role("button", name="Run", exact=True)
    if run.is_enabled():  # disabled when this cache folder already holds the result (a second run of the test)
        run.click()
    wait_idle(page, 2000)
    page.get_by_text("Relational gates failed").first.wait_for(timeout=600_000)
    wait_idle(page)
    assert_no_error(page, "relations")
    assert page.get_by_text("referential_integrity").count() >= 1
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=60_000)
    charts_drawn(page)
    shot(page, "h2-relations")

    go(page, server_url, "Records")
    choose(page, "Parent table", "planes")
    page.get_by_text("Nearest real planes", exact=False).first.wait_for(timeout=120_000)
    assert page.get_by_text("flights.tailnum:", exact=False).count() == 2  # children on both sides
    assert_no_error(page, "records, parents with children")
    shot(page, "h2-records-parents")

    # the sidebar picker moves the single-table pages to another table
    sidebar = page.locator('[data-testid="stSidebar"]')
    box = sidebar.get_by_role("combobox", name="Table shown on the other pages")
    box.click()
    box.fill("planes")
    page.get_by_role("option", name=f"planes ({len(real['planes']):,} real rows)", exact=True).click()
    wait_idle(page, 1500)
    page.get_by_text(f"real: {len(real['planes']):,} rows", exact=False).first.wait_for(timeout=120_000)
    assert_no_error(page, "records on the planes table")
