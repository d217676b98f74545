"""The app runs under a PostgreSQL role that reads and inserts but cannot truncate, alter triggers or update
immutable rows; the owner migrates. .ci/run creates both roles."""
from __future__ import annotations

import os

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from core.review.signoff import approve, gate_check
from core.store import make_engine, read_session, session_scope, verify_store
from core.store.pgroles import app_role_grants, grant_app_role
from store_testkit import make_world, raw
from tests.conftest import skip_or_fail

APP_ROLE_SKIP = "TEST_APP_DATABASE_ROLE (name:password of the app role) is not set: app-role test skipped"

REFUSED_TO_APP = [
    ("TRUNCATE review CASCADE", "permission denied"),
    ("TRUNCATE audit_event", "permission denied"),
    ("ALTER TABLE decision DISABLE TRIGGER USER", "must be owner"),
    ("DROP TRIGGER users_guard ON users", "must be owner"),
    ("UPDATE decision SET kind = 'rejected'", "permission denied"),
    ("DELETE FROM audit_event", "permission denied"),
    ("UPDATE generation SET rows = 1", "permission denied"),
    ("UPDATE users SET role = 'admin'", "immutable"),
    ("UPDATE audit_head SET last_event_id = 0", "immutable"),
]


@pytest.fixture
def app_engine(backend, fresh_engine):
    """An engine logged in as the app role on a store the owner migrated and granted."""
    if backend != "postgresql":
        pytest.skip("app roles exist only on PostgreSQL")
    spec = os.environ.get("TEST_APP_DATABASE_ROLE")
    if not spec:
        skip_or_fail(APP_ROLE_SKIP)
    name, _, password = spec.partition(":")
    grant_app_role(fresh_engine, name)
    url = fresh_engine.url.set(username=name, password=password)
    engine = make_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()


def test_grants_are_plain_sql():
    statements = app_role_grants("review_app")
    assert not any("TRUNCATE" in s or "ALL PRIVILEGES" in s for s in statements)
    with pytest.raises(Exception, match="plain PostgreSQL role"):
        app_role_grants("x; DROP TABLE users")


def test_app_role_runs_the_desk_and_cannot_undo_it(app_engine, policy):
    world = make_world(app_engine)
    world.review(world.reviewer, records_read=300, notes=3)
    with session_scope(app_engine) as s:
        approve(s, world.generation_id, world.approver, "ok", None, world.synthetic_sha256, policy,
                attested_rules=range(1, 11))
    from core.review import auth

    with session_scope(app_engine) as s:  # a role change through core passes the users trigger
        auth.set_role(s, world.viewer, "reviewer", actor=world.admin)
    for sql, message in REFUSED_TO_APP:
        with pytest.raises(DBAPIError, match=message):
            raw(app_engine, sql)
    with read_session(app_engine) as s:
        assert verify_store(s).ok
        assert gate_check(s, world.generation_id, world.synthetic_sha256)[0]
    assert make_url(str(app_engine.url)).username != "review"
