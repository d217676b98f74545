"""End to end in headless Chromium on the demo: Privacy and Utility run their checks as background jobs (the demo
is above the policy's auto-run size, so a Run button starts them), the other pages stay usable meanwhile, the
results show their numbers and gates, and the Summary then includes the privacy and utility gates."""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_browser import assert_no_error, charts_drawn, go, shot, wait_idle

pytestmark = pytest.mark.e2e


def metric(page, label: str) -> str:
    """The shown value of the st.metric whose label starts with `label`."""
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_privacy_and_utility_pages(page, server_url):
    page.set_viewport_size({"width": 1440, "height": 3400})  # these pages are long; the screenshot shows the viewport
    page.goto(server_url)
    wait_idle(page, 1500)
    page.get_by_role("heading", name="Data").first.wait_for()

    go(page, server_url, "Privacy")
    run = page.get_by_role("button", name="Run privacy checks")  # 36,000 rows: above auto_run_max_rows
    if run.count():  # absent only when the result cache (shared folder) already holds this result
        run.click()
        page.get_by_text("Privacy checks:").first.wait_for(timeout=60_000)  # the job's progress box
        assert page.get_by_text("Other pages stay usable meanwhile").count() >= 1
        go(page, server_url, "Columns")  # navigation is free while the job runs
        assert_no_error(page, "columns while privacy runs")
        go(page, server_url, "Privacy")
    page.get_by_role("heading", name="Distance to the closest training record").wait_for(timeout=600_000)
    wait_idle(page)
    assert_no_error(page, "privacy")
    for gate in ("exact_copies", "distance_to_closest_record", "membership_inference"):
        assert page.get_by_text(gate, exact=True).count() >= 1, gate
    assert metric(page, "Closer to train than holdout").endswith("%")
    assert re.fullmatch(r"\d+\.\d{2}", metric(page, "Median DCR ratio"))
    assert re.fullmatch(r"0\.\d{3}", metric(page, "Membership AUC"))
    assert page.get_by_text(re.compile(r"95% CI 0\.\d{3}-[01]\.\d{3}")).count() >= 1
    # the membership gate says its bound's spread is at least a chance classifier's (core.gates.judge min_sd)
    assert page.get_by_text(re.compile(r"spread at least a chance classifier's \(0\.\d{4}\)")).count() >= 1
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 3
    charts_drawn(page)
    shot(page, "7-privacy")

    go(page, server_url, "Utility")  # the default target is income_gt_50k
    run = page.get_by_role("button", name="Run utility checks")
    if run.count():
        run.click()
    page.get_by_role("heading", name="Blend-ratio sweep").wait_for(timeout=600_000)
    wait_idle(page)
    assert_no_error(page, "utility")
    assert page.get_by_text("Classification of income_gt_50k (2 classes)").count() == 1  # the default target
    assert re.fullmatch(r"0\.\d{4}", metric(page, "TSTR ROC-AUC"))
    assert re.fullmatch(r"0\.\d{4}", metric(page, "TRTR ROC-AUC"))
    assert re.fullmatch(r"\d+\.\d%", metric(page, "Skill kept (utility gate)"))
    assert re.fullmatch(r"-?\d\.\d{3}", metric(page, "Spearman rank correlation"))
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 3
    assert page.locator(".main-svg text", has_text="best").count() >= 1  # the sweep marks its best mix
    shot(page, "8-utility")

    go(page, server_url, "Summary")
    assert_no_error(page, "summary")
    assert page.get_by_text("Privacy not run yet").count() == 0
    assert page.get_by_text("Utility not run yet").count() == 0
    for gate in ("membership_inference", "utility"):
        assert page.get_by_text(gate, exact=True).count() >= 1, gate
