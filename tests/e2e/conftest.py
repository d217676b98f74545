"""Browser fixtures: the app served by `streamlit run` on a free port, and headless Chromium (Debian's)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server_env(tmp_path_factory) -> dict[str, str]:
    """Environment the server runs with on top of ours: its own temp SQLite store and folder of lineage tables."""
    from core.store import sqlite_url

    folder = tmp_path_factory.mktemp("server-store")
    return {"DATABASE_URL": sqlite_url(folder / "desk.sqlite3"), "REVIEW_DESK_LINEAGE_CACHE": str(folder / "tables")}


@contextmanager
def streamlit_server(env: dict[str, str], log_name: str = "streamlit-server.log", root: Path = ROOT,
                     launcher: tuple[str, ...] = ("-m", "streamlit")):
    """`streamlit run app.py` (in `root`) on a free port with extra environment; yields its URL, stops it by PID.

    `launcher` is what follows the interpreter in place of `-m streamlit` (the latency benchmark passes a script
    that times every script run)."""
    from core.demo import build_demo

    build_demo()  # build the demo files before the server needs them
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / log_name, "wb")
    process = subprocess.Popen(
        [sys.executable, *launcher, "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],  # no watching of the venv: the test does not edit files
        cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not become healthy; see {ARTIFACTS / log_name}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the group holds only this server (new session)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def server_url(server_env):
    """The app on its own temp store, for the whole browser session."""
    with streamlit_server(server_env) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from the Debian package (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import skip_or_fail

    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser page (new Streamlit session) at a desktop size."""
    context = browser.new_context(viewport={"width": 1440, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()
