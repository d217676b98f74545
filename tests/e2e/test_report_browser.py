"""The offline HTML report in headless Chromium: fits a 1,440 px viewport, every section shows, nothing leaves
the machine, and it prints to PDF. Screenshots of every section go to test-artifacts/report/."""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from core.checks.utility import BlendDesign, evaluate_utility
from core.data.io import prepare_inputs, table_from_frame
from core.demo import build_demo
from core.report import evaluate, run_privacy, with_results
from core.review import auth, signoff
from core.review.export import evidence_report_html
from core.store import (
    NoteInput,
    add_evaluation,
    export_evidence_bundle,
    init_db,
    make_engine,
    read_session,
    register_dataset,
    register_generation,
    register_holdout,
    session_scope,
    sqlite_url,
    submit_new_review,
)
from tests.e2e.conftest import ARTIFACTS

SHOTS = ARTIFACTS / "report"
TARGET = "income_gt_50k"
SECTIONS = ("summary", "gates", "column-shapes", "pair-trends", "validity", "privacy", "utility", "records",
            "generation", "signoff", "appendix")
VIEWPORT = 1440
PRINT_WIDTH = 1046  # 277 mm printable at 96 px per inch


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    """The demo (shrunk) evaluated with privacy and utility, stored with a review and a decision, as HTML."""
    files = build_demo()
    real = pd.read_csv(files.train).head(1500)
    synthetic = pd.read_csv(files.synthetic).head(1500)
    holdout = pd.read_csv(files.holdout).head(600)
    inputs = prepare_inputs(table_from_frame(real, "real_train.csv"), table_from_frame(synthetic, "synthetic.csv"),
                            table_from_frame(holdout, "holdout.csv"))
    evaluation = evaluate(inputs, privacy=False)
    privacy = run_privacy(inputs, seed=0)
    utility = evaluate_utility(inputs.frames["real"], inputs.frames["synthetic"], inputs.frames["holdout"],
                               inputs.metadata, TARGET, seeds=(0,),
                               design=BlendDesign(synthetic_shares=(0.0, 0.5, 1.0), augment_ratios=(1.0,)))
    evaluation = with_results(evaluation, privacy, utility, TARGET)

    auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    folder = tmp_path_factory.mktemp("report-store")
    engine = make_engine(sqlite_url(folder / "report.sqlite3"))
    init_db(engine)
    sha = lambda text: hashlib.sha256(text.encode()).hexdigest()
    with session_scope(engine) as s:
        auth.create_user(s, "maker", "password123", "reviewer")
        auth.create_user(s, "rita", "password123", "reviewer")
        auth.create_user(s, "ava", "password123", "approver")
        dataset = register_dataset(s, name="census demo", sha256=sha("real"), rows=len(real),
                                   schema={c: str(t) for c, t in real.dtypes.items()}, created_by="maker")
        held = register_holdout(s, dataset_id=dataset.id, sha256=sha("holdout"), seed=7, split_fraction=0.2,
                                created_by="maker", rows=len(holdout))
        generation = register_generation(s, {
            "method": "GaussianCopulaSynthesizer", "parameters": {}, "seed": 7, "library_versions": {"sdv": "x"},
            "source_dataset_id": dataset.id, "holdout_id": held.id, "synthetic_sha256": sha("synthetic"),
            "rows": len(synthetic), "training_mix": {"real_rows": len(real), "synthetic_rows": 0}}, created_by="maker")
        add_evaluation(s, generation.id, evaluation.to_dict(), tool_version="test", created_by="maker")
        submit_new_review(s, generation.id, reviewer="rita", records_read=10, comment="read ten rows", notes=[
            NoteInput(row_id="3", flag="implausible", note="odd age", row={"age": 200})])
        signoff.request_changes(s, generation.id, "ava", "capital gains look off")
        gid = generation.id
    with read_session(engine) as s:
        bundle = export_evidence_bundle(s, gid, include_real_records=True)
    engine.dispose()
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / "report.html"  # kept as an artifact beside the screenshots
    path.write_text(evidence_report_html(bundle, evaluation), encoding="utf-8")
    return path


def test_report_in_browser(browser, report_file):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": VIEWPORT, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(180_000)  # ~30 plotly figures; the 2 shared cores can be busy
    leaks: list[str] = []

    def guard(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            leaks.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report_file.as_uri())
    page.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length > 0")
    page.wait_for_timeout(500)
    assert leaks == [], f"requests left the machine: {leaks}"
    assert errors == [], errors
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT, f"page is {width} px wide at a {VIEWPORT} px viewport"
    # every figure rendered (plotly drew its svg), none wider than the page
    counts = page.evaluate("[document.querySelectorAll('.plotly-graph-div').length,"
                           " document.querySelectorAll('.plotly-graph-div .main-svg').length]")
    assert counts[0] >= 20 and counts[1] >= counts[0], counts
    for anchor in SECTIONS:
        section = page.locator(f"section#{anchor}")
        assert section.count() == 1, f"section {anchor} missing"
        box = page.evaluate(f"(() => {{ const r = document.querySelector('section#{anchor}').getBoundingClientRect();"
                            " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; })()")
        assert 0 < box["width"] <= VIEWPORT and box["height"] > 0
        # a clip of the full page: no wait for 'stable' elements (plotly keeps re-laying out hover layers)
        page.screenshot(path=str(SHOTS / f"{anchor}.png"), full_page=True, clip=box)
    assert page.locator("section#gates").inner_text().count("at least") >= 1
    assert "at most" in page.locator("section#gates").inner_text()
    page.screenshot(path=str(SHOTS / "full-page.png"), full_page=True)
    pdf = page.pdf(path=str(SHOTS / "report.pdf"), format="A4", landscape=True, print_background=True)
    assert pdf[:5] == b"%PDF-" and len(pdf) > 50_000
    # the print layout fits the printable width of A4 landscape with 10 mm margins (277 mm at 96 dpi)
    page.emulate_media(media="print")
    page.set_viewport_size({"width": PRINT_WIDTH, "height": 1000})
    page.wait_for_timeout(300)
    printed = page.evaluate("document.documentElement.scrollWidth")
    assert printed <= PRINT_WIDTH, f"print layout is {printed} px wide, A4 landscape leaves {PRINT_WIDTH}"
    assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    page.screenshot(path=str(SHOTS / "print-layout.png"), clip={"x": 0, "y": 0, "width": PRINT_WIDTH, "height": 3000},
                    full_page=True)
    assert leaks == []
    context.close()
