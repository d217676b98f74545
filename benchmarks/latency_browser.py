"""Click-to-settled-page latency in headless Chromium on the real app (Playwright + Debian Chromium).

Times page change, column change, pair change, Next and Flag on the 16,000-row demo, and optionally on a
100,000-row review uploaded through the Data page. Each time runs from the click (the moment the browser sends its
rerun request on the app's websocket) to the settled page: the last script run finished (no new run within 300 ms)
and the page's DOM stopped changing, every Plotly chart drawn. All of it is read from the page's own clock: the
websocket is watched from inside the page. Each time is split into the server's share (click to the run's
"finished" message) and the browser's (that message to the last DOM change), with the bytes received.

The reference is the same measure on a light page (Sign in), taken in the same run, so the ratios carry over
between machines. The first load of each page is a warm-up, not timed.

    REVIEW_DESK_CACHE=/work/wt/cache python benchmarks/latency_browser.py --repeats 5 [--rows 100000]
        [--server-times]   # also the server's CPU and wall time per script run (benchmarks/streamlit_timed.py)
        [--app-root DIR]   # measure another checkout of the app (e.g. an older commit) with this benchmark

Prints a table (median and 90th percentile in ms, ratio of the median to the reference) and writes
test-artifacts/latency-browser[-ROWS][-LABEL].json.
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
QUIET_MS = 300  # a widget change may start a second run right after the first: wait this long for one


def _field_numbers() -> dict[str, int]:
    """Protobuf field numbers of the messages the watcher looks for (read from Streamlit's own protos)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    forward = {f.name: f.number for f in ForwardMsg.DESCRIPTOR.fields}
    back = {f.name: f.number for f in BackMsg.DESCRIPTOR.fields}
    return {"newSession": forward["new_session"], "finished": forward["script_finished"],
            "rerun": back["rerun_script"]}


# Installed before the app's own code: every frame of the app's websocket is logged with the page's clock, its
# size and its top-level protobuf fields (enough to tell a rerun request, a run start and a run end apart), and
# every DOM change is timed.
WATCHER = """(FIELDS) => {
  window.__wire = []; window.__lastMutation = 0;
  const fields = (data) => {
    const b = data instanceof ArrayBuffer ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const out = []; let i = 0;
    const varint = () => { let v = 0, s = 1, c; do { c = b[i++]; v += (c & 0x7f) * s; s *= 128; } while (c & 0x80); return v; };
    while (i < b.length) {
      const tag = varint(), kind = tag % 8; out.push(Math.floor(tag / 8));
      if (kind === 0) varint(); else if (kind === 2) { const n = varint(); i += n; } else if (kind === 1) i += 8;
      else if (kind === 5) i += 4; else break;
    }
    return out;
  };
  const Native = window.WebSocket;
  class Watched extends Native {
    constructor(...args) {
      super(...args);
      if (!String(args[0]).includes('_stcore/stream')) return;
      this.__watched = true;
      this.addEventListener('message', (e) => {
        const t = performance.now();
        if (typeof e.data === 'string') return;
        const f = fields(e.data);
        window.__wire.push({t, dir: 'in', bytes: e.data.byteLength, start: f.includes(FIELDS.newSession),
                            finished: f.includes(FIELDS.finished)});
      });
    }
    send(data) {
      if (this.__watched && typeof data !== 'string') {
        const f = fields(data);
        window.__wire.push({t: performance.now(), dir: 'out', bytes: data.byteLength, rerun: f.includes(FIELDS.rerun)});
      }
      return super.send(data);
    }
  }
  window.WebSocket = Watched;
  // Changes of the page's content only: not a tooltip popping up under the resting mouse pointer (a portal
  // outside the main area and sidebar), nor a data grid's hidden accessibility mirror (inside its canvas),
  // which is refreshed lazily after the grid is drawn.
  const counts = (node) => {
    const el = node.nodeType === 1 ? node : node.parentElement;
    return !!el && !!el.closest('[data-testid=stMain], [data-testid=stSidebar]') && !el.closest('canvas');
  };
  new MutationObserver((records) => {
    if (records.some(r => counts(r.target))) window.__lastMutation = performance.now();
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
}"""
# Settled: after the click's rerun request, a run finished, no run started since, and neither a message nor a DOM
# change for quietMs; every Plotly chart drawn and no skeleton left. Returns the click's timings, else null.
SETTLED = """([from, quietMs]) => {
  const wire = window.__wire.slice(from), now = performance.now();
  const click = wire.find(m => m.dir === 'out' && m.rerun);
  if (!click) return null;
  const after = wire.filter(m => m.dir === 'in' && m.t >= click.t);
  let finished = null, open = false;
  for (const m of after) { if (m.start) open = true; if (m.finished) { open = false; finished = m; } }
  if (!finished || open) return null;
  const last = Math.max(finished.t, window.__lastMutation, after[after.length - 1].t);
  if (now - last < quietMs) return null;
  const charts = [...document.querySelectorAll('[data-testid=stPlotlyChart]')];
  if (!charts.every(c => c.querySelector('.main-svg')) || document.querySelector('[data-testid=stSkeleton]')) return null;
  const settled = Math.max(finished.t, window.__lastMutation);
  return {total_ms: settled - click.t, server_ms: finished.t - click.t, browser_ms: settled - finished.t,
          kb_received: after.filter(m => m.t <= finished.t).reduce((s, m) => s + m.bytes, 0) / 1024,
          runs: after.filter(m => m.start).length};
}"""


class ServerTimes:
    """The server's own time per script run, from benchmarks/streamlit_timed.py's log (when it is used)."""

    def __init__(self, path: Path | None):
        self.path = path

    def between(self, start: float, end: float) -> dict[str, float]:
        """CPU and wall milliseconds of the runs that ended in [start, end] (wall-clock seconds)."""
        if self.path is None or not self.path.exists():
            return {}
        runs = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        runs = [r for r in runs if start <= r["end"] <= end]
        return {"server_cpu_ms": sum(r["cpu_ms"] for r in runs), "server_run_wall_ms": sum(r["wall_ms"] for r in runs)}


def timed(page, action, server: ServerTimes) -> dict[str, float]:
    """One click's timings (see SETTLED), with the server's run times when known."""
    mark = page.evaluate("() => window.__wire.length")
    wall = time.time()
    action()
    found = page.wait_for_function(SETTLED, arg=[mark, QUIET_MS], timeout=300_000, polling=50).json_value()
    time.sleep(0.05)  # the run's log line is written just after its last message
    return {**found, **server.between(wall, time.time())}


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


INTERACTIONS = ("reference (Sign in page)", "page change", "column change", "pair change", "Next", "Flag")


def measure(page, repeats: int, server: ServerTimes) -> dict[str, list[dict]]:
    """Every timed interaction, `repeats` times, after a warm-up visit of each page."""
    for title in ("Columns", "Correlations", "Records", "Summary", "Sign in"):
        open_page(page, title)  # first loads fill the caches: not timed
    times: dict[str, list[dict]] = {k: [] for k in INTERACTIONS}
    for _ in range(repeats):
        for title in ("Columns", "Correlations", "Records", "Summary"):
            times["page change"].append({**timed(page, nav(page, title), server), "page": title})
        times["reference (Sign in page)"].append(timed(page, nav(page, "Sign in"), server))
    open_page(page, "Columns")
    columns = options(page, "Column")
    for i in range(repeats):
        times["column change"].append(timed(page, choose(page, "Column", columns[(i + 1) % len(columns)]), server))
    open_page(page, "Correlations")
    pairs = options(page, "Pair")
    for i in range(repeats):
        times["pair change"].append(timed(page, choose(page, "Pair", pairs[(i + 1) % len(pairs)]), server))
    open_page(page, "Records")
    for _ in range(repeats):
        times["Next"].append(timed(page, lambda: page.get_by_role("button", name=re.compile(r"^Next")).first.click(),
                                   server))
        times["Flag"].append(timed(page, lambda: page.get_by_role("button", name=re.compile(r"^Flag")).first.click(),
                                   server))
    return times


def _median(rows: list[dict], field: str) -> float | None:
    values = [r[field] for r in rows if field in r]
    return round(statistics.median(values), 1) if values else None


def summary(times: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Per interaction: median and 90th percentile of the total, the median of each share, and the ratio of the
    median total to the reference's."""
    reference = statistics.median(r["total_ms"] for r in times["reference (Sign in page)"])
    out = {}
    for name, rows in times.items():
        ordered = sorted(r["total_ms"] for r in rows)
        median = statistics.median(ordered)
        out[name] = {"median_ms": round(median), "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]),
                     "ratio_to_reference": round(median / reference, 2), "n": len(rows),
                     **{f"median_{field}": _median(rows, field)
                        for field in ("server_ms", "browser_ms", "kb_received", "runs", "server_cpu_ms",
                                      "server_run_wall_ms")}}
        pages = sorted({r["page"] for r in rows if "page" in r})
        if pages:
            out[name]["median_ms_by_page"] = {p: round(statistics.median(r["total_ms"] for r in rows if r.get("page") == p))
                                              for p in pages}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=0, help="also measure on a review of this many rows per table")
    parser.add_argument("--skip-demo", action="store_true", help="with --rows: measure only the big review")
    parser.add_argument("--server-times", action="store_true",
                        help="run the server through benchmarks/streamlit_timed.py: CPU and wall time per script run")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose app.py is served")
    parser.add_argument("--label", default="", help="added to the JSON file's name")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="latency-"))
    from core.store import sqlite_url

    env = {"DATABASE_URL": sqlite_url(folder / "desk.sqlite3"), "REVIEW_DESK_LINEAGE_CACHE": str(folder / "t")}
    launcher: tuple[str, ...] = ("-m", "streamlit")
    server = ServerTimes(None)
    if args.server_times:
        env["RUN_TIMES_FILE"] = str(folder / "runs.jsonl")
        server = ServerTimes(folder / "runs.jsonl")
        launcher = (str(ROOT / "benchmarks" / "streamlit_timed.py"),)
    from core.review import auth
    from core.store import init_db, session_scope

    init_db(env["DATABASE_URL"])
    with session_scope(env["DATABASE_URL"]) as session:
        auth.create_user(session, USER, PASSWORD, "reviewer")
    results: dict = {"app_root": str(args.app_root), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    with streamlit_server(env, "latency-server.log", root=args.app_root, launcher=launcher) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        page.add_init_script(f"({WATCHER})({json.dumps(_field_numbers())})")
        started = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading", name="Data").first.wait_for(timeout=600_000)
        settle(page)
        results["first_usable_page_s"] = round(time.perf_counter() - started, 1)
        sign_in(page, USER, PASSWORD)
        if not (args.skip_demo and args.rows):
            results["demo (16,000 rows)"] = summary(measure(page, args.repeats, server))
        if args.rows:
            try:
                load_big_review(page, big_review_files(args.rows, folder))
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "latency-load-failure.png"), full_page=True)
                raise
            results[f"{args.rows:,} rows"] = summary(measure(page, args.repeats, server))
        page.screenshot(path=str(ARTIFACTS / "latency-last-page.png"), full_page=True)
        browser.close()
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    name = "latency-browser" + (f"-{args.rows}" if args.rows else "") + (f"-{args.label}" if args.label else "")
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(results, indent=2))
    print(f"app: {args.app_root}")
    print(f"load average (1, 5, 15 min): {results['load_average_at_start']} at start, "
          f"{results['load_average_at_end']} at end; {os.cpu_count()} cores")
    print(f"first usable page: {results['first_usable_page_s']} s (server just started, caches warm on disk)")
    for label, table in results.items():
        if not isinstance(table, dict):
            continue
        print(f"\n{label}: click to settled page, ms (target median < {TARGET_MS}); medians of each share")
        print(f"{'interaction':<26}{'median':>8}{'p90':>8}{'x ref':>7}{'server':>8}{'browser':>8}{'KB in':>7}"
              f"{'runs':>5}{'srv CPU':>8}{'n':>4}")
        for key, row in table.items():
            cpu = row["median_server_cpu_ms"]
            print(f"{key:<26}{row['median_ms']:>8}{row['p90_ms']:>8}{row['ratio_to_reference']:>7}"
                  f"{row['median_server_ms']:>8.0f}{row['median_browser_ms']:>8.0f}{row['median_kb_received']:>7.0f}"
                  f"{row['median_runs']:>5.0f}{'' if cpu is None else f'{cpu:.0f}':>8}{row['n']:>4}")
            if "median_ms_by_page" in row:
                print(f"{'':<4}by page: " + ", ".join(f"{p} {ms}" for p, ms in row["median_ms_by_page"].items()))


if __name__ == "__main__":
    main()
