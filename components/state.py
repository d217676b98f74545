"""Session state of the review desk: which tables are under review, with the demo loaded on a fresh session.

Everything a page needs hangs off one `Review` in st.session_state["review"]; heavy results are looked up in
components.cache by the review's content key, so they are shared across pages, reruns and sessions.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import streamlit as st

from core.data.io import LoadedTable
from core.policy import DEFAULT_POLICY_TOML

REVIEW_KEY = "review"
FLAGS_KEY = "record_flags"
READ_KEY = "records_read"
ROLES = ("real", "synthetic", "holdout")
ENTRY_KEY = "_ran_through_app"
FLAG_REASONS = ("implausible", "privacy risk", "format error", "other")


@dataclass
class Review:
    """The tables under review (real = training part), column type overrides, policy text and provenance."""

    tables: dict[str, LoadedTable]
    overrides: dict[str, str] = field(default_factory=dict)
    source: str = "demo"  # demo | upload | generated
    notes: dict = field(default_factory=dict)  # manifest of the demo / generator / holdout split
    policy_text: str = field(default_factory=lambda: default_policy_text())

    def table_key(self) -> str:
        """Content key of the tables and the type overrides (sha256 of their hashes)."""
        record = {role: (self.tables[role].sha256 if role in self.tables else None) for role in ROLES}
        record["overrides"] = dict(sorted(self.overrides.items()))
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()

    def evaluation_key(self) -> str:
        """Content key of the tables, the overrides and the policy text."""
        return hashlib.sha256((self.table_key() + "\n" + self.policy_text).encode()).hexdigest()

    @property
    def has_holdout(self) -> bool:
        """True when a locked holdout is part of the review."""
        return "holdout" in self.tables


POLICY_ENV = "REVIEW_DESK_POLICY"


def default_policy_text() -> str:
    """The policy TOML a new review starts with: the file at $REVIEW_DESK_POLICY when set, else the defaults."""
    import os
    from pathlib import Path

    path = os.environ.get(POLICY_ENV)
    if not path:
        return DEFAULT_POLICY_TOML
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        from core.errors import PolicyError

        raise PolicyError(f"file {path} (from ${POLICY_ENV}): cannot read the policy ({exc.strerror})") from None


def demo_review() -> Review:
    """A review of the bundled census income demo (built once, then read from the cache folder)."""
    from components.cache import demo_tables

    tables, manifest = demo_tables()
    return Review(dict(tables), source="demo", notes={"manifest": manifest})


def get_review() -> Review:
    """The current review; loads the demo when the session has none yet."""
    if REVIEW_KEY not in st.session_state:
        st.session_state[REVIEW_KEY] = demo_review()
    return st.session_state[REVIEW_KEY]


def set_review(review: Review) -> None:
    """Make `review` current; record flags belong to the synthetic table, so they are reset when it changes."""
    old = st.session_state.get(REVIEW_KEY)
    if old is None or old.tables["synthetic"].sha256 != review.tables["synthetic"].sha256:
        st.session_state[FLAGS_KEY] = {}
        st.session_state[READ_KEY] = set()
    st.session_state[REVIEW_KEY] = review


def record_flags() -> dict[int, dict]:
    """Flags on synthetic records: {synthetic row position: {row_hash, reason, note}}."""
    return st.session_state.setdefault(FLAGS_KEY, {})


def records_read() -> set[int]:
    """Synthetic row positions the reviewer has looked at."""
    return st.session_state.setdefault(READ_KEY, set())


def mark_app_entry() -> None:
    """Called by app.py before it runs a page: the page is running inside the app's navigation."""
    st.session_state[ENTRY_KEY] = True


def require_app_entry() -> None:
    """A page opened by URL before app.py ever ran on a fresh server runs alone (Streamlit's legacy pages/
    mode, no navigation or layout); send it through app.py instead."""
    if not st.session_state.get(ENTRY_KEY):
        st.switch_page("app.py")


# --- Opening one synthetic row on the Records page (from the Privacy page's near-copy pairs) ---------------
OPEN_ROW_KEY = "records_open_row"


def open_synthetic_row(review: Review, synthetic: int, real: int | None = None, distance: float | None = None,
                       source: str = "") -> None:
    """Ask the Records page to show synthetic row `synthetic` (0-based) beside real training row `real`
    (its nearest real row when None), instead of its sample; `source` says where the request came from."""
    st.session_state[OPEN_ROW_KEY] = {"synthetic": int(synthetic), "real": None if real is None else int(real),
                                      "distance": None if distance is None else float(distance), "source": source,
                                      "synthetic_sha256": review.tables["synthetic"].sha256}


def opened_synthetic_row(review: Review) -> dict | None:
    """The row the Records page was asked to show, if it belongs to the current synthetic table (row positions
    are those of the prepared frames; the caller checks them against its frames)."""
    opened = st.session_state.get(OPEN_ROW_KEY)
    if not opened or opened.get("synthetic_sha256") != review.tables["synthetic"].sha256:
        return None
    return opened


def close_synthetic_row() -> None:
    """Back to the Records page's sample."""
    st.session_state.pop(OPEN_ROW_KEY, None)
