"""Local accounts: argon2 hashes, one error for every failed login, role order, OIDC email mapping."""
from __future__ import annotations

import uuid

import pytest

from core.review.auth import (
    AuthenticationError,
    PermissionDenied,
    authenticate,
    create_user,
    has_role,
    require_role,
    set_role,
    user_from_oidc_claims,
)
from core.errors import InputError
from core.store import audit_events, read_session, session_scope
from store_testkit import PASSWORD


def test_password_is_salted_argon2_and_login_works(world):
    with session_scope(world.engine) as s:
        a = create_user(s, f"a-{world.tag}", PASSWORD, "reviewer")
        b = create_user(s, f"b-{world.tag}", PASSWORD, "reviewer")
        assert a.password_hash.startswith("$argon2id$") and a.password_hash != b.password_hash
        assert PASSWORD not in a.password_hash
    with read_session(world.engine) as s:
        assert authenticate(s, f"a-{world.tag}", PASSWORD).name == f"a-{world.tag}"
        events = audit_events(s, action="user.create", entity_id=a.id)
        assert events and "password" not in str(events[0]["payload"]).replace("local_password", "")


def test_wrong_password_and_unknown_user_give_the_same_error(world):
    with read_session(world.engine) as s:
        with pytest.raises(AuthenticationError) as wrong:
            authenticate(s, world.reviewer, "wrong password!")
        with pytest.raises(AuthenticationError) as unknown:
            authenticate(s, f"nobody-{uuid.uuid4()}", PASSWORD)
    assert str(wrong.value) == str(unknown.value) == "unknown user or wrong password"


def test_roles_are_ordered(world):
    with read_session(world.engine) as s:
        from core.store import get_user

        viewer, approver, admin = (get_user(s, n) for n in (world.viewer, world.approver, world.admin))
    assert has_role(admin, "approver") and has_role(approver, "reviewer") and not has_role(viewer, "reviewer")
    require_role(approver, "approver")
    with pytest.raises(PermissionDenied, match="needs role 'approver'"):
        require_role(viewer, "approver")


def test_only_admin_sets_roles_and_bad_input_is_refused(world):
    with session_scope(world.engine) as s, pytest.raises(PermissionDenied):
        set_role(s, world.viewer, "admin", actor=world.approver)
    with session_scope(world.engine) as s:
        assert set_role(s, world.viewer, "reviewer", actor=world.admin).role == "reviewer"
    with session_scope(world.engine) as s, pytest.raises(InputError, match="already exists"):
        create_user(s, world.viewer, PASSWORD, "viewer")
    with session_scope(world.engine) as s, pytest.raises(InputError, match="at least 8"):
        create_user(s, f"short-{world.tag}", "abc", "viewer")


def test_oidc_claims_map_to_existing_user(world):
    with read_session(world.engine) as s:
        user = user_from_oidc_claims(s, {"email": f"{world.approver}@EXAMPLE.org", "email_verified": True})
        assert (user.name, user.role) == (world.approver, "approver")
        with pytest.raises(AuthenticationError, match="no active account"):
            user_from_oidc_claims(s, {"email": "stranger@example.org"})
        with pytest.raises(AuthenticationError, match="not verified"):
            user_from_oidc_claims(s, {"email": f"{world.approver}@example.org", "email_verified": False})
