"""Engine and session set-up: SQLite file by default (WAL, foreign keys, BEGIN IMMEDIATE), PostgreSQL by URL."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_PATH = "review-desk.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def database_url(url: str | None = None) -> str:
    """The store URL: the argument, else $DATABASE_URL, else a SQLite file at $REVIEW_DESK_DB or ./review-desk.sqlite3."""
    if url:
        return url
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    path = Path(os.environ.get("REVIEW_DESK_DB", DEFAULT_SQLITE_PATH)).expanduser().resolve()
    return f"sqlite:///{path}"


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def _setup_sqlite(engine: Engine) -> None:
    """WAL + foreign keys + busy timeout on every connection; transactions start with BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """A new engine for the store URL (see database_url); SQLite files get WAL, FKs ON and write-serializing BEGIN."""
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(url, **kwargs)
        _setup_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide cached engine for a URL (one pool per URL)."""
    url = database_url(url)
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def dispose_engines() -> None:
    """Dispose every cached engine (tests, forks)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _as_engine(target: Engine | str | None) -> Engine:
    return target if isinstance(target, Engine) else get_engine(target)


def session_factory(target: Engine | str | None = None) -> sessionmaker[Session]:
    """A sessionmaker bound to the engine (or URL); objects stay readable after commit."""
    return sessionmaker(bind=_as_engine(target), expire_on_commit=False)


@contextmanager
def session_scope(target: Engine | str | None = None) -> Iterator[Session]:
    """One write transaction: commits on success, rolls back on any error. On SQLite it holds the write lock."""
    session = session_factory(target)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


@contextmanager
def read_session(target: Engine | str | None = None) -> Iterator[Session]:
    """A read-only session that does not take the SQLite write lock (deferred BEGIN); never commits."""
    engine = _as_engine(target)
    if engine.dialect.name == "sqlite":
        engine = engine.execution_options(sqlite_begin="DEFERRED")
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()  # ends the transaction without commit; loaded objects stay readable (detached)


def alembic_config(target: Engine | str | None = None) -> Any:
    """An alembic Config built in code (no alembic.ini) pointing at core/store/migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if isinstance(target, Engine):
        cfg.attributes["engine"] = target
        url = target.url.render_as_string(hide_password=False)
    else:
        url = database_url(target)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(target: Engine | str | None = None, revision: str = "head") -> None:
    """Run the Alembic migrations up to `revision` (default head) on the store."""
    from alembic import command

    command.upgrade(alembic_config(_as_engine(target)), revision)


def downgrade(target: Engine | str | None = None, revision: str = "base") -> None:
    """Run the Alembic migrations down to `revision` (default base) on the store."""
    from alembic import command

    command.downgrade(alembic_config(_as_engine(target)), revision)


def current_revision(target: Engine | str | None = None) -> str | None:
    """The Alembic revision the store is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with _as_engine(target).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def init_db(target: Engine | str | None = None) -> Engine:
    """Create or upgrade the store schema to head and return its engine."""
    engine = _as_engine(target)
    upgrade(engine)
    return engine


def table_names(target: Engine | str | None = None) -> list[str]:
    """Tables present in the store (diagnostics)."""
    return sorted(inspect(_as_engine(target)).get_table_names())
