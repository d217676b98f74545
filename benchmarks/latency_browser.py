"""Click-to-settled-page latency in headless Chromium on the real app (Playwright + Debian Chromium).

Times page change, column change, pair change, Next and Flag from the click to the settled page (the script run
over, no second run starting, every Plotly chart drawn) on the 16,000-row demo, and optionally on a 100,000-row
review uploaded through the Data page. The reference is the same measure on a light page (Sign in), taken in the
same run, so the ratios carry over between machines. The first load of each page is a warm-up, not timed.

    REVIEW_DESK_CACHE=/work/wt/cache python benchmarks/latency_browser.py --repeats 5 [--rows 100000]

Prints a table (median and 90th percentile in ms, ratio of the median to the reference) and writes
test-artifacts/latency-browser.json (latency-browser-ROWS.json with --rows).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

TARGET_MS = 500
USER, PASSWORD = "latency-reviewer", "password123"  # a reviewer in the benchmark's own temp store
# Record when the script state flips, so a run that starts and ends between two polls is not missed.
WATCH = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  window.__runs = 0; window.__settled = null;
  if (window.__observer) window.__observer.disconnect();
  window.__observer = new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') { window.__runs += 1; window.__settled = null; }
    else if (state === 'notRunning' && window.__runs > 0) { window.__settled = performance.now(); }
  });
  window.__observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  return performance.now();
}"""
SETTLED = """(quietMs) => (window.__settled !== null && performance.now() - window.__settled > quietMs
  && [...document.querySelectorAll('[data-testid=stPlotlyChart]')].every(c => c.querySelector('.main-svg'))
  && !document.querySelector('[data-testid=stSkeleton]')) ? window.__settled : null"""
QUIET_MS = 250  # a widget change may start a second run right after the first: wait this long for one


def timed(page, action) -> float:
    """Milliseconds from just before `action()` (a click) to the settled page."""
    start = page.evaluate(WATCH)
    action()
    settled = page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=300_000, polling=20).json_value()
    return float(settled) - start


def nav(page, title: str):
    return lambda: page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()


def choose(page, label: str, option: str):
    def act():
        box = page.get_by_role("combobox", name=label).first
        box.click()
        box.fill(option)
        page.get_by_role("option", name=option, exact=True).first.click()
    return act


def options(page, label: str) -> list[str]:
    """The option texts of the selectbox with this label (opened and closed again)."""
    box = page.get_by_role("combobox", name=label).first
    box.scroll_into_view_if_needed()
    box.click()
    page.get_by_role("option").first.wait_for(timeout=60_000)  # the list renders after the click
    texts = [t.strip() for t in page.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    return texts


def settle(page, timeout_ms: int = 600_000) -> None:
    page.wait_for_timeout(800)
    page.wait_for_function("() => document.querySelector('[data-testid=stApp]')"
                           ".getAttribute('data-test-script-state') === 'notRunning'", timeout=timeout_ms)


def open_page(page, title: str) -> None:
    nav(page, title)()
    settle(page)
    page.get_by_role("heading", name=title).first.wait_for(timeout=600_000)
    settle(page)


def big_review_files(rows: int, folder: Path) -> dict[str, Path]:
    """Real, synthetic and holdout CSVs of `rows` rows resampled (seeded) from the demo's tables."""
    import pandas as pd

    from core.demo import build_demo

    files = build_demo()
    out = {}
    for role, path, n in (("real", files.train, rows), ("synthetic", files.synthetic, rows),
                          ("holdout", files.holdout, max(rows // 4, 1000))):
        frame = pd.read_csv(path).sample(n, replace=True, random_state=7).reset_index(drop=True)
        out[role] = folder / f"latency-{role}-{rows}.csv"
        frame.to_csv(out[role], index=False)
    return out


def load_big_review(page, paths: dict[str, Path]) -> None:
    """Upload the three files on the Data page and load them (not timed: preparing 100k rows takes a while)."""
    import pandas as pd

    open_page(page, "Data")
    page.get_by_role("tab", name="Upload files").click()
    inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    for i, role in enumerate(("real", "synthetic", "holdout")):
        inputs.nth(i).set_input_files(str(paths[role]))
        settle(page)
    page.get_by_role("button", name="Load these files").click()
    settle(page)
    # The sidebar names the tables under review by size (the Data page's table of files is a canvas grid).
    rows = len(pd.read_csv(paths["real"], usecols=[0]))
    page.locator('[data-testid="stSidebar"]').get_by_text(f"real: {rows:,} rows").first.wait_for(timeout=900_000)
    settle(page)


def sign_in(page, name: str, password: str) -> None:
    """Records shows real rows to signed-in reviewers only: sign in on the Sign in page (not timed)."""
    open_page(page, "Sign in")
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    settle(page)
    page.get_by_text(f"Signed in as {name}").first.wait_for(timeout=120_000)


def measure(page, repeats: int) -> dict[str, list[float]]:
    """Every timed interaction, `repeats` times, after a warm-up visit of each page."""
    for title in ("Columns", "Correlations", "Records", "Summary", "Sign in"):
        open_page(page, title)  # first loads fill the caches: not timed
    times: dict[str, list[float]] = {k: [] for k in ("reference (Sign in page)", "page change", "column change",
                                                     "pair change", "Next", "Flag")}
    for _ in range(repeats):
        for title in ("Columns", "Correlations", "Records", "Summary"):
            times["page change"].append(timed(page, nav(page, title)))
        times["reference (Sign in page)"].append(timed(page, nav(page, "Sign in")))
    open_page(page, "Columns")
    columns = options(page, "Column")
    for i in range(repeats):
        times["column change"].append(timed(page, choose(page, "Column", columns[(i + 1) % len(columns)])))
    open_page(page, "Correlations")
    pairs = options(page, "Pair")
    for i in range(repeats):
        times["pair change"].append(timed(page, choose(page, "Pair", pairs[(i + 1) % len(pairs)])))
    open_page(page, "Records")
    for _ in range(repeats):
        times["Next"].append(timed(page, lambda: page.get_by_role("button", name="Next").first.click()))
        times["Flag"].append(timed(page, lambda: page.get_by_role("button", name=re.compile(r"^Flag")).first.click()))
    return times


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    reference = statistics.median(times["reference (Sign in page)"])
    out = {}
    for name, values in times.items():
        ordered = sorted(values)
        median = statistics.median(ordered)
        out[name] = {"median_ms": round(median), "p90_ms": round(ordered[min(len(ordered) - 1,
                                                                           int(0.9 * len(ordered)))]),
                     "ratio_to_reference": round(median / reference, 2), "n": len(values)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=0, help="also measure on a review of this many rows per table")
    parser.add_argument("--skip-demo", action="store_true", help="with --rows: measure only the big review")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="latency-"))
    from core.store import sqlite_url

    env = {"DATABASE_URL": sqlite_url(folder / "desk.sqlite3"), "REVIEW_DESK_LINEAGE_CACHE": str(folder / "t")}
    from core.review import auth
    from core.store import init_db, session_scope

    init_db(env["DATABASE_URL"])
    with session_scope(env["DATABASE_URL"]) as session:
        auth.create_user(session, USER, PASSWORD, "reviewer")
    results = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    with streamlit_server(env, "latency-server.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        started = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading", name="Data").first.wait_for(timeout=600_000)
        settle(page)
        results["first_usable_page_s"] = round(time.perf_counter() - started, 1)
        sign_in(page, USER, PASSWORD)
        if not (args.skip_demo and args.rows):
            results["demo (16,000 rows)"] = summary(measure(page, args.repeats))
        if args.rows:
            try:
                load_big_review(page, big_review_files(args.rows, folder))
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "latency-load-failure.png"), full_page=True)
                raise
            results[f"{args.rows:,} rows"] = summary(measure(page, args.repeats))
        page.screenshot(path=str(ARTIFACTS / "latency-last-page.png"), full_page=True)
        browser.close()
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    (ARTIFACTS / f"latency-browser{'-' + str(args.rows) if args.rows else ''}.json").write_text(json.dumps(results, indent=2))
    print(f"load average (1, 5, 15 min): {results['load_average_at_start']} at start, "
          f"{results['load_average_at_end']} at end; {os.cpu_count()} cores")
    print(f"first usable page: {results['first_usable_page_s']} s (server already up, caches warm on disk)")
    for label, table in results.items():
        if not isinstance(table, dict):
            continue
        print(f"\n{label}: click to settled page, ms (target median < {TARGET_MS})")
        print(f"{'interaction':<26}{'median':>8}{'p90':>8}{'x ref':>8}{'n':>4}")
        for name, row in table.items():
            print(f"{name:<26}{row['median_ms']:>8}{row['p90_ms']:>8}{row['ratio_to_reference']:>8}{row['n']:>4}")


if __name__ == "__main__":
    main()
