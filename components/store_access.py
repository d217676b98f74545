"""The sign-off store as the dashboard sees it: one cached engine per store URL, the signed-in user, write checks.

The engine is created (and the schema migrated with init_db) on first use and kept by st.cache_resource, keyed
on core.store.database_url() so a changed $DATABASE_URL gets its own engine. The signed-in user is kept in
st.session_state as a plain dict {name, role, email, via}; every write re-reads the account from the store, so a
role changed or an account disabled since sign-in takes effect at once (core checks the role again).
"""
from __future__ import annotations

from typing import Any

import streamlit as st
from sqlalchemy import Engine, func, select

from core.store import database_url, init_db, read_session
from core.store.models import Generation, User
from core.store.roles import ROLE_RANK

USER_KEY = "signed_in_user"
GENERATION_KEY = "signoff_generation_id"
PAGE_SIGNIN = "pages/signin.py"


@st.cache_resource(show_spinner="Opening the sign-off store...")
def _engine(url: str) -> Engine:
    return init_db(url)


def store_engine() -> Engine:
    """The migrated engine of the store at core.store.database_url()."""
    return _engine(database_url())


def clear_store_cache() -> None:
    """Forget the cached engine (tests switch $DATABASE_URL between runs)."""
    _engine.clear()


def user_count() -> int:
    """Number of accounts in the store (0 on a first run)."""
    with read_session(store_engine()) as session:
        return int(session.execute(select(func.count()).select_from(User)).scalar_one())


def current_user() -> dict[str, Any] | None:
    """The signed-in user as {name, role, email, via}, or None."""
    return st.session_state.get(USER_KEY)


def sign_in_as(user: User, via: str) -> None:
    """Remember `user` as the session's signed-in user (via: 'password' or 'identity provider'); another user's
    work left in the session (there should be none: sign-out clears it) is dropped first."""
    from components.state import ANONYMOUS, WORK_KEY

    work = st.session_state.get(WORK_KEY, {})
    for owner in [o for o in work if o not in (ANONYMOUS, user.name)]:
        work.pop(owner)
    st.session_state[USER_KEY] = {"name": user.name, "role": user.role, "email": user.email, "via": via}


def sign_out() -> None:
    """Forget the signed-in user of this session and all review work done in it."""
    from components.state import clear_review_work

    st.session_state.pop(USER_KEY, None)
    clear_review_work()


def client_id() -> str:
    """The client address sign-in throttling counts failures against."""
    try:
        return str(st.context.ip_address or "unknown")
    except Exception:  # outside a browser session (AppTest)
        return "unknown"


SETUP_TOKEN_ENV = "REVIEW_DESK_SETUP_TOKEN"


@st.cache_resource(show_spinner=False)
def _setup_token(url: str) -> str:
    import os
    import sys

    from core.review.auth import new_setup_token

    token = os.environ.get(SETUP_TOKEN_ENV) or new_setup_token()
    if not os.environ.get(SETUP_TOKEN_ENV):
        print(f"review desk: the store has no accounts yet. Setup token for the first administrator: {token}\n"
              f"  (or create one from the command line: python -m core users add NAME --role admin)",
              file=sys.stdout, flush=True)
    return token


def setup_token_sha256() -> str | None:
    """The sha256 of this server's one-time setup token while the store has no account (printed to the
    server's stdout on first use; $REVIEW_DESK_SETUP_TOKEN sets it), else None."""
    from core.review.auth import setup_token_sha256 as digest

    if user_count() > 0:
        return None
    return digest(_setup_token(database_url()))


def write_permission(role: str) -> tuple[bool, str]:
    """(allowed, reason): whether the signed-in user may do something that needs `role`, and why not."""
    user = current_user()
    if user is None:
        return False, f"Sign in first (this needs role '{role}' or higher)."
    if ROLE_RANK.get(user["role"], -1) < ROLE_RANK[role]:
        return False, f"You are signed in as '{user['name']}' with role '{user['role']}'; this needs '{role}' or higher."
    return True, ""


def generation_for_hash(synthetic_sha256: str) -> int | None:
    """The newest stored generation whose synthetic file hash is this one, or None."""
    # One indexed query, not list_generations (which computes every generation's state): the Records page asks
    # on every click until the table is registered.
    with read_session(store_engine()) as session:
        found = session.execute(select(Generation.id).where(Generation.synthetic_sha256 == synthetic_sha256)
                                .order_by(Generation.id.desc()).limit(1)).scalar_one_or_none()
    return None if found is None else int(found)


def current_generation_id(synthetic_sha256: str) -> int | None:
    """The generation the session works on: the one registered for the synthetic table under review, if any."""
    remembered = st.session_state.get(GENERATION_KEY)
    if remembered is not None and remembered.get("sha256") == synthetic_sha256:
        return remembered["id"]
    found = generation_for_hash(synthetic_sha256)
    if found is not None:
        remember_generation(found, synthetic_sha256)
    return found


def remember_generation(generation_id: int, synthetic_sha256: str) -> None:
    """Note that the synthetic table with this hash is stored as `generation_id`."""
    st.session_state[GENERATION_KEY] = {"id": int(generation_id), "sha256": synthetic_sha256}
