"""Identity in the dashboard: the sign-in form, first-run admin creation, OIDC when configured, the sidebar badge."""
from __future__ import annotations

import streamlit as st

from components.state import adopt_anonymous_work, anonymous_work, default_policy_text, discard_anonymous_work
from components.store_access import (
    PAGE_SIGNIN,
    client_id,
    current_user,
    setup_token_sha256,
    sign_in_as,
    sign_out,
    store_engine,
    user_count,
)
from components.widgets import plain
from core.review import auth
from core.errors import ReviewError
from core.store import read_session, session_scope

OIDC_SESSION_KEY = "_oidc_email_seen"


def oidc_configured() -> bool:
    """True when the deployment's secrets have an [auth] section (Streamlit's st.login is then usable)."""
    try:
        return st.secrets.load_if_toml_exists() and "auth" in st.secrets
    except Exception:  # an unreadable secrets file: no identity provider
        return False


def _oidc_user_email() -> str | None:
    try:
        if st.user.is_logged_in:
            return st.user.get("email")
    except Exception:
        return None
    return None


def sync_oidc_user() -> None:
    """After st.login, map the identity provider's email to an existing account (once per email and session)."""
    if not oidc_configured() or current_user() is not None:
        return
    email = _oidc_user_email()
    if not email or st.session_state.get(OIDC_SESSION_KEY) == email:
        return
    st.session_state[OIDC_SESSION_KEY] = email
    claims = {k: st.user.get(k) for k in ("email", "email_verified")}
    try:
        with read_session(store_engine()) as session:
            user = auth.user_from_oidc_claims(session, claims)
    except ReviewError as exc:
        st.session_state["_oidc_refused"] = str(exc)
        return
    sign_in_as(user, "identity provider")


def sidebar_user() -> None:
    """The signed-in user and a sign-out button (or a link to sign in), in the sidebar of every page."""
    sync_oidc_user()
    user = current_user()
    with st.sidebar:
        if user is None:
            st.caption("Not signed in: pages can be read, nothing can be saved or signed.")
            st.page_link(PAGE_SIGNIN, label="Sign in", icon=":material/login:")
            return
        st.markdown(f"**Signed in:** {plain(user['name'])} · role `{user['role']}`")
        st.caption(f"via {user['via']}" + (f" · {plain(user['email'])}" if user.get("email") else ""))
        if st.button("Sign out", key="auth_sign_out", icon=":material/logout:"):
            _sign_out(user)
        _offer_anonymous_work()


def _offer_anonymous_work() -> None:
    """Work done before signing in is the signed-in user's only if they take it, explicitly."""
    pending = anonymous_work()
    if not pending:
        return
    read = sum(len(w["read"]) for w in pending.values())
    flags = sum(len(w["flags"]) for w in pending.values())
    st.info(f"Before you signed in, this session read {read} record(s) and flagged {flags}. Count them as yours?",
            icon=":material/history_edu:")
    c1, c2 = st.columns(2)
    if c1.button("Take them", key="auth_adopt_work"):
        adopt_anonymous_work()
        st.rerun()
    if c2.button("Discard", key="auth_discard_work"):
        discard_anonymous_work()
        st.rerun()


def _sign_out(user: dict) -> None:
    sign_out()
    if user["via"] == "identity provider":
        st.logout()  # ends the identity provider's session cookie too (and reruns)
    st.rerun()


def first_admin_form() -> None:
    """First run: the store has no accounts; the first admin needs the setup token printed in the server's log."""
    st.warning("First run: the store has no accounts yet. Create the first **administrator** account with the "
               "one-time setup token printed in the server's log at start (or run `python -m core users add NAME "
               "--role admin` on the server).", icon=":material/admin_panel_settings:")
    digest = setup_token_sha256()
    with st.form("auth_first_admin_form"):
        token = st.text_input("Setup token (from the server's log)", type="password", key="auth_admin_token")
        name = st.text_input("Administrator name", key="auth_admin_name")
        email = st.text_input("Email (optional, for identity-provider sign-in)", key="auth_admin_email")
        password = st.text_input("Password (at least 8 characters)", type="password", key="auth_admin_password")
        again = st.text_input("Password again", type="password", key="auth_admin_password2")
        created = st.form_submit_button("Create the first administrator account", type="primary",
                                        key="auth_admin_create")
    if created:
        if password != again:
            st.error("The two passwords differ.")
            return
        try:
            with session_scope(store_engine()) as session:
                user = auth.create_first_admin(session, name, password, token=token, token_sha256=digest or "",
                                               email=email or None)
        except ReviewError as exc:
            st.error(f"Not created: {plain(exc)}")
            return
        sign_in_as(user, "password")
        st.rerun()


def auth_user_count(session) -> int:
    """Accounts in the store, inside an open session."""
    from sqlalchemy import func, select

    from core.store.models import User

    return int(session.execute(select(func.count()).select_from(User)).scalar_one())


def sign_in_form() -> None:
    """Local account sign-in, and the identity provider button when the deployment configures one."""
    refused = st.session_state.pop("_oidc_refused", None)
    if refused:
        st.error(f"Identity provider sign-in refused: {plain(refused)}")
    if oidc_configured():
        if st.button("Sign in with your identity provider", key="auth_oidc", icon=":material/key:"):
            st.login()
        st.caption("Your identity provider's email must belong to an account an administrator created.")
        st.divider()
    with st.form("auth_sign_in_form"):
        name = st.text_input("User name", key="auth_name")
        password = st.text_input("Password", type="password", key="auth_password")
        submitted = st.form_submit_button("Sign in", type="primary", key="auth_sign_in")
    if submitted:
        try:
            from core.policy import parse_policy

            # The server's policy (never the session's editable one) sets the throttling.
            policy = parse_policy(default_policy_text(), "server policy")
            with session_scope(store_engine()) as session:
                result = auth.sign_in(session, name, password, client=client_id(), policy=policy)
                if result.ok:
                    sign_in_as(result.user, "password")
        except ReviewError as exc:
            st.error(f"Not signed in: {plain(exc)}")
            return
        if not result.ok:
            st.error(f"Not signed in: {plain(result.message)}")
            return
        st.rerun()


CREATE_USER_FIELDS = ("auth_new_name", "auth_new_email", "auth_new_password")
CREATED_KEY = "_auth_created"


def create_user_form() -> None:
    """Admins create accounts (name, role, password and/or email for the identity provider).

    A refused account keeps what was typed (the admin fixes one field); a created one empties the form."""
    created_message = st.session_state.pop(CREATED_KEY, None)
    if created_message:  # before the widgets are drawn: the next account starts from an empty form
        for key in CREATE_USER_FIELDS:
            st.session_state[key] = ""
    with st.expander("Create an account (administrators)", expanded=created_message is not None):
        if created_message:
            st.success(created_message)
        with st.form("auth_create_user_form"):
            c1, c2 = st.columns(2)
            name = c1.text_input("Name", key="auth_new_name")
            role = c2.selectbox("Role", auth.ROLES, index=1, key="auth_new_role")
            email = c1.text_input("Email (optional)", key="auth_new_email")
            password = c2.text_input("Password (empty: identity provider only)", type="password",
                                     key="auth_new_password")
            created = st.form_submit_button("Create account", key="auth_new_create")
        if created:
            admin = current_user()
            try:
                with session_scope(store_engine()) as session:
                    auth.require_role(auth.get_user(session, admin["name"]), "admin")
                    auth.create_user(session, name.strip(), password or None, role, email=email or None,
                                     actor=admin["name"])
            except ReviewError as exc:
                st.error(f"Not created: {plain(exc)}")
            else:
                st.session_state[CREATED_KEY] = f"Account '{plain(name.strip())}' created with role {role}."
                st.rerun()


def signin_page() -> None:
    """The whole sign-in page."""
    st.title("Sign in")
    user = current_user()
    if user_count() == 0:
        first_admin_form()
        return
    if user is not None:
        st.success(f"Signed in as {plain(user['name'])} (role {user['role']}).", icon=":material/verified_user:")
        if user["role"] == "admin":
            create_user_form()
        if st.button("Sign out (to switch accounts)", key="auth_sign_out_page", icon=":material/logout:"):
            _sign_out(user)
        return
    st.caption("Reading needs no account; saving a review, registering a generation and signing need one. Roles: "
               "viewer (read only) < reviewer (register, review) < approver (sign) < admin (accounts).")
    sign_in_form()
