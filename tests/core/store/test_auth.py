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


# ----------------------------------------------------------------------------------------------- throttling


def _attempt(world, name, password, client="10.0.0.1", policy=None, now=None):
    from core.review.auth import sign_in

    with session_scope(world.engine) as s:
        result = sign_in(s, name, password, client=client, policy=policy, now=now)
        return result.ok, result.message, result.retry_after_seconds, result.locked


def _auth_policy(text: str):
    from core.policy import parse_policy

    return parse_policy(text, "auth.toml")


def test_failed_sign_ins_slow_down_then_lock_and_are_audited(world):
    from datetime import datetime, timedelta, timezone

    policy = _auth_policy("[auth]\nmax_failed_attempts = 4\nbase_delay_seconds = 2\nlockout_minutes = 10\n")
    later = lambda seconds: datetime.now(timezone.utc) + timedelta(seconds=seconds)  # noqa: E731
    waits = []
    # Attempts are stamped with the real clock; each one comes just after the previous one's delay ran out.
    for offset in (0, 3, 5, 9):
        ok, message, wait, locked = _attempt(world, world.reviewer, "wrong password!", policy=policy,
                                             now=later(offset))
        assert not ok and message.startswith("unknown user or wrong password")
        waits.append(wait)
    assert waits[:3] == [2.0, 4.0, 8.0] and locked and waits[3] == 600  # growing delay, then the lockout
    # Locked: even the right password is refused, without being checked, until the lockout ends.
    ok, message, wait, locked = _attempt(world, world.reviewer, PASSWORD, policy=policy, now=later(60))
    assert not ok and locked and "locked after 4 failed sign-ins" in message
    ok, *_ = _attempt(world, world.reviewer, PASSWORD, policy=policy, now=later(11 * 60))
    assert ok
    with read_session(world.engine) as s:
        actions = [e["action"] for e in audit_events(s) if e["entity"] == "sign_in" and e["entity_id"] == world.reviewer]
    assert actions == ["auth.failed"] * 4 + ["auth.throttled", "auth.sign_in"]


def test_an_attempt_inside_the_delay_is_refused_even_with_the_right_password(world):
    from datetime import datetime, timedelta, timezone

    policy = _auth_policy("[auth]\nbase_delay_seconds = 30\n")
    now = datetime.now(timezone.utc)
    assert not _attempt(world, world.reviewer2, "wrong password!", policy=policy, now=now)[0]
    ok, message, wait, _ = _attempt(world, world.reviewer2, PASSWORD, policy=policy, now=now + timedelta(seconds=5))
    assert not ok and "wait" in message and 20 < wait <= 30
    assert _attempt(world, world.reviewer2, PASSWORD, policy=policy, now=now + timedelta(seconds=31))[0]


def test_one_client_trying_many_accounts_is_locked_out(world):
    from datetime import datetime, timedelta, timezone

    policy = _auth_policy("[auth]\nclient_max_failed_attempts = 3\nbase_delay_seconds = 0\n")
    now = datetime.now(timezone.utc)
    for i in range(3):
        assert not _attempt(world, f"guess-{i}-{world.tag}", "wrong password!", client=f"c-{world.tag}",
                            policy=policy, now=now + timedelta(seconds=i))[0]
    ok, message, _, locked = _attempt(world, world.approver, PASSWORD, client=f"c-{world.tag}", policy=policy,
                                      now=now + timedelta(seconds=5))
    assert not ok and locked and "from this client" in message
    assert _attempt(world, world.approver, PASSWORD, client=f"other-{world.tag}", policy=policy,
                    now=now + timedelta(seconds=5))[0]


def test_admin_unlock_and_auth_policy_is_validated(world):
    from datetime import datetime, timezone

    from core.errors import PolicyError
    from core.review.auth import ThrottlePolicy, unlock

    policy = _auth_policy("[auth]\nmax_failed_attempts = 1\nbase_delay_seconds = 0\n")
    assert not _attempt(world, world.viewer, "wrong password!", policy=policy)[0]
    second = _attempt(world, world.viewer, PASSWORD, policy=policy)
    assert second[3], second  # locked
    with session_scope(world.engine) as s, pytest.raises(PermissionDenied):
        unlock(s, world.viewer, actor=world.reviewer)
    with session_scope(world.engine) as s:
        unlock(s, world.viewer, actor=world.admin)
    assert _attempt(world, world.viewer, PASSWORD, policy=policy, now=datetime.now(timezone.utc))[0]
    with pytest.raises(PolicyError, match=r"\[auth\] has unknown key"):
        ThrottlePolicy.from_policy(_auth_policy("[auth]\nmax_tries = 3\n"))
    with pytest.raises(PolicyError, match="max_failed_attempts must be a number >= 1"):
        ThrottlePolicy.from_policy(_auth_policy("[auth]\nmax_failed_attempts = 0\n"))


def test_first_admin_needs_the_setup_token(fresh_engine):
    from core.review.auth import create_first_admin, new_setup_token, setup_token_sha256

    token = new_setup_token()
    digest = setup_token_sha256(token)
    with session_scope(fresh_engine) as s, pytest.raises(AuthenticationError, match="wrong setup token"):
        create_first_admin(s, "mallory", PASSWORD, token="guess", token_sha256=digest)
    with session_scope(fresh_engine) as s:
        assert create_first_admin(s, "ada", PASSWORD, token=token, token_sha256=digest).role == "admin"
    with session_scope(fresh_engine) as s, pytest.raises(AuthenticationError, match="already has accounts"):
        create_first_admin(s, "eve", PASSWORD, token=token, token_sha256=digest)
