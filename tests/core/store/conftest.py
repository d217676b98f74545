"""Fixtures: a migrated store per backend (SQLite file, and PostgreSQL when TEST_DATABASE_URL is set) and a world."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from core.review import auth  # noqa: E402
from core.policy import Policy, parse_policy  # noqa: E402
from core.store import dispose_engines, make_engine, upgrade  # noqa: E402
from tests.conftest import skip_or_fail  # noqa: E402
from store_testkit import PG_SKIP, World, create_database, drop_database, make_world  # noqa: E402

auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast argon2 for tests only


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Engine kind under test; PostgreSQL is skipped without TEST_DATABASE_URL."""
    if request.param == "postgresql" and not os.environ.get("TEST_DATABASE_URL"):
        skip_or_fail(PG_SKIP)
    return request.param


@pytest.fixture(scope="session")
def db_url(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """URL of a store migrated to head, shared by the session's tests, dropped at the end."""
    url = create_database(backend, tmp_path_factory.mktemp(backend))
    upgrade(url)
    yield url
    dispose_engines()
    drop_database(backend, url)


@pytest.fixture(scope="session")
def engine(db_url: str):
    """Engine on the shared store."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def empty_url(backend: str, tmp_path: Path):
    """URL of a brand-new empty database for this test only (dropped after)."""
    url = create_database(backend, tmp_path)
    yield url
    drop_database(backend, url)


@pytest.fixture
def fresh_engine(empty_url: str):
    """Engine on a store of its own, migrated to head (for tests that break the chain or kill writers)."""
    eng = make_engine(empty_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def world(engine) -> World:
    """A fresh world on the shared store."""
    return make_world(engine)


@pytest.fixture
def policy() -> Policy:
    """Policy asking for 200 records read and one reviewer."""
    return parse_policy("[review]\nmin_records_read = 200\nrequired_reviewers = 1\nallow_waivers = true\n"
                        "[gates.distance_to_closest_record]\nthreshold = 0.05\n", "test policy")


