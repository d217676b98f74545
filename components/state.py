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

from core.review.records import FLAG_REASONS as _FLAG_REASONS

REVIEW_KEY = "review"
WORK_KEY = "review_work"  # {owner: {synthetic sha256: {"read": set, "flags": dict}}}
ANONYMOUS = ""  # the owner of work done before anyone signed in
USER_KEY = "signed_in_user"  # shared with components.store_access
ROLES = ("real", "synthetic", "holdout")
ENTRY_KEY = "_ran_through_app"
FLAG_REASONS = tuple(_FLAG_REASONS.values())  # labels; core.review.records.flag_key maps them to stored keys
# Widgets holding one person's review input: cleared on sign-out with the work itself.
PERSONAL_WIDGET_PREFIXES = ("records_review_comment", "records_flag_", "signoff_rule_", "signoff_comment",
                            "signoff_waiver_", "signoff_decision")


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
        """Content key of the tables, the overrides, the policy text and the declared sequence columns."""
        text = self.table_key() + "\n" + self.policy_text
        if self.sequence is not None:
            text += f"\nsequence={self.sequence.key}|{self.sequence.index}"
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def sequence(self):
        """The declared sequence key and index (core.checks.sequence.SequenceMetadata), or None."""
        from core.checks.sequence import SequenceMetadata

        key = self.notes.get("sequence_key") if isinstance(self.notes, dict) else None
        return SequenceMetadata(key, self.notes.get("sequence_index")) if key else None

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
    """Make `review` current (work is kept per synthetic table hash, so nothing needs resetting)."""
    st.session_state[REVIEW_KEY] = review


def work_owner() -> str:
    """Whose work reads and flags are stored against: the signed-in user's name, or ANONYMOUS."""
    user = st.session_state.get(USER_KEY)
    return user["name"] if user else ANONYMOUS


def _work(owner: str, synthetic_sha256: str) -> dict:
    per_owner = st.session_state.setdefault(WORK_KEY, {}).setdefault(owner, {})
    return per_owner.setdefault(synthetic_sha256, {"read": set(), "flags": {}})


def _current_sha() -> str:
    return get_review().tables["synthetic"].sha256


def record_flags() -> dict[int, dict]:
    """The signed-in user's flags on the synthetic table under review: {row position: {row_hash, reason, note}}."""
    return _work(work_owner(), _current_sha())["flags"]


def records_read() -> set[int]:
    """Distinct synthetic row positions the signed-in user (or the anonymous visitor) has looked at."""
    return _work(work_owner(), _current_sha())["read"]


def anonymous_work() -> dict[str, dict]:
    """Work done in this session before signing in, per synthetic table hash (non-empty entries only)."""
    found = st.session_state.get(WORK_KEY, {}).get(ANONYMOUS, {})
    return {sha: w for sha, w in found.items() if w["read"] or w["flags"]}


def adopt_anonymous_work() -> None:
    """The signed-in user takes over the work done before signing in (explicitly, from the offer)."""
    owner = work_owner()
    if owner == ANONYMOUS:
        return
    for sha, work in anonymous_work().items():
        mine = _work(owner, sha)
        mine["read"] |= work["read"]
        mine["flags"].update({p: f for p, f in work["flags"].items() if p not in mine["flags"]})
    discard_anonymous_work()


def discard_anonymous_work() -> None:
    """Drop the work done before signing in."""
    st.session_state.get(WORK_KEY, {}).pop(ANONYMOUS, None)


def clear_review_work() -> None:
    """Sign-out: forget every read, flag and half-typed review input of this session."""
    st.session_state.pop(WORK_KEY, None)
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(PERSONAL_WIDGET_PREFIXES):
            del st.session_state[key]


def mark_app_entry() -> None:
    """Called by app.py before it runs a page: the page is running inside the app's navigation."""
    st.session_state[ENTRY_KEY] = True


def require_app_entry() -> None:
    """A page opened by URL before app.py ever ran on a fresh server runs alone (Streamlit's legacy pages/
    mode, no navigation or layout); send it through app.py instead."""
    if not st.session_state.get(ENTRY_KEY):
        st.switch_page("app.py")


def page_settings(store_key: str, defaults: dict) -> dict:
    """A page's settings that outlive the page (Streamlit forgets a widget's value once its page is left): the
    stored values (defaults at first) put back under their widget keys before the widgets are drawn. The page
    updates the returned dict with the values its widgets return."""
    settings = st.session_state.setdefault(store_key, dict(defaults))
    for key, value in settings.items():
        if key not in st.session_state and value is not None:
            st.session_state[key] = value
    return settings


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
