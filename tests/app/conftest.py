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


def _open_page(at, name: str):
    at.switch_page(f"pages/{name}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def open_page():
    """open_page(at, "records"): switch the app to pages/records.py, run it, and check it raised nothing."""
    return _open_page
