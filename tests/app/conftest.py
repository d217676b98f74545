"""AppTest fixtures: the demo is built once per session; Streamlit caches are cleared between tests."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
TIMEOUT = 120


@pytest.fixture(scope="session", autouse=True)
def demo_files():
    """Build (or reuse) the demo files under the project's cache folder before any app test."""
    from core.demo import build_demo

    return build_demo()


@pytest.fixture(autouse=True)
def clear_streamlit_caches():
    """Cached values leak across AppTests; start and end every test with empty st.cache_data."""
    import streamlit as st

    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def app():
    """A fresh app session, run once on the default page (Data) with the demo loaded."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _ok(at):
    """The AppTest after checking its run raised nothing."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def _open_page(at, name: str):
    at.switch_page(f"pages/{name}.py")
    return _ok(at.run())


def _joined_text(elements) -> str:
    """Every element's value as one string, for "is this said on the page" checks."""
    return " ".join(str(e.value) for e in elements)


@pytest.fixture
def open_page():
    """open_page(at, "records"): switch the app to pages/records.py, run it, and check it raised nothing."""
    return _open_page


@pytest.fixture
def temp_store(tmp_path, monkeypatch):
    """An empty migrated SQLite store as $DATABASE_URL (fast argon2), a temp folder for lineage tables, and
    the app's cached engine forgotten before and after."""
    import streamlit as st

    from components.store_access import clear_store_cache
    from core.review import auth
    from core.store import dispose_engines, init_db, sqlite_url

    url = sqlite_url(tmp_path / "desk.sqlite3")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REVIEW_DESK_LINEAGE_CACHE", str(tmp_path / "tables"))
    auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    clear_store_cache()
    st.cache_data.clear()
    init_db(url)
    yield url
    clear_store_cache()
    st.cache_data.clear()
    dispose_engines()


def _click(at, key: str, name: str):
    """Click button `name` of the click log mounted under `key` (components.click_log) as the browser does: append
    a click, with the context the page shows now, to the log the component sends as its state. Then run."""
    import json

    element = next(e for e in at.get("bidi_component") if e.proto.id.endswith(f"-{key}"))
    context = json.loads(element.proto.json)["context"]
    current = at.session_state[key] if key in at.session_state else None
    log = (current or {}).get("clicks") or {"nonce": "apptest", "events": []}
    seq = max((event[0] for event in log["events"]), default=0) + 1
    at.session_state[key] = {"clicks": {"nonce": log["nonce"], "events": [*log["events"], [seq, name, context]]}}
    return at.run()


@pytest.fixture
def click():
    """click(at, "records_nav", "next"): a click on a components.click_log button, then a run."""
    return _click
