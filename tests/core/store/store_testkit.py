"""Test kit for the store tests: database creation per backend and a small world of users and generations."""
from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.review import auth
from core.store import (
    add_evaluation,
    register_dataset,
    register_generation,
    register_holdout,
    session_scope,
    sqlite_url,
    submit_new_review,
)

PG_SKIP = "TEST_DATABASE_URL is not set: PostgreSQL variant skipped (CI sets it)"
PASSWORD = "correct horse battery"


def sha(text_: str) -> str:
    """Hex sha256 of a text (test helper)."""
    return hashlib.sha256(text_.encode()).hexdigest()


def create_database(backend: str, tmp_dir: Path) -> str:
    """A new empty database: a SQLite file, or a uniquely named PostgreSQL database."""
    if backend == "sqlite":
        return sqlite_url(tmp_dir / f"store-{uuid.uuid4().hex[:8]}.sqlite3")
    admin = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"review_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_database(backend: str, url: str) -> None:
    """Drop a database made by create_database (SQLite files go with tmp_path)."""
    if backend != "postgresql":
        return
    import time

    from sqlalchemy.exc import DBAPIError

    name = make_url(url).database
    engine = create_engine(make_url(os.environ["TEST_DATABASE_URL"]), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(10):  # a backend of another role (autovacuum, a closing app-role pool) may linger
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except DBAPIError:
                if attempt == 9:
                    raise
                time.sleep(0.5)
    finally:
        engine.dispose()


@dataclass
class World:
    """Users, a dataset, a holdout and a generation with a passing evaluation, all unique to one test."""

    engine: object
    tag: str
    creator: str
    reviewer: str
    reviewer2: str
    approver: str
    viewer: str
    admin: str
    dataset_id: int
    holdout_id: int
    generation_id: int
    synthetic_sha256: str

    def manifest(self, **overrides: object) -> dict:
        """A valid manifest on the world's dataset."""
        base = {
            "method": "gaussian_copula", "parameters": {"default_distribution": "beta"}, "seed": 7,
            "library_versions": {"sdv": "2.0.0"}, "source_dataset_id": self.dataset_id,
            "holdout_id": self.holdout_id, "synthetic_sha256": sha(f"synthetic-{uuid.uuid4()}"), "rows": 500,
            "parent_generation_id": None, "training_mix": {"real_rows": 800, "synthetic_rows": 0},
        }
        base.update(overrides)
        return base

    def review(self, reviewer: str, records_read: int = 200, notes: int = 2, generation_id: int | None = None):
        """Submit a review with `notes` notes; returns its id."""
        with session_scope(self.engine) as s:
            r = submit_new_review(s, generation_id or self.generation_id, reviewer=reviewer, records_read=records_read,
                                  notes=[{"row_id": i, "flag": "implausible", "note": f"odd {i}",
                                          "row": {"age": 200 + i}} for i in range(notes)])
            return r.id

    def evaluate(self, gates: list[tuple[str, bool]], generation_id: int | None = None) -> int:
        """Add an evaluation report with the given gates; returns its id."""
        report = {"tool": "review-desk", "gates": [{"name": n, "passed": p, "value": 0.1} for n, p in gates]}
        with session_scope(self.engine) as s:
            return add_evaluation(s, generation_id or self.generation_id, report, tool_version="0.1",
                                  created_by=self.creator).id

    def new_generation(self, **overrides: object) -> tuple[int, str]:
        """Register another generation by the creator; returns (id, synthetic sha256)."""
        m = self.manifest(**overrides)
        with session_scope(self.engine) as s:
            return register_generation(s, m, created_by=self.creator).id, m["synthetic_sha256"]


def make_world(engine) -> World:
    """Build a World on an engine (unique names per call)."""
    tag = uuid.uuid4().hex[:8]
    names = {role: f"{role}-{tag}" for role in ("creator", "reviewer", "reviewer2", "approver", "viewer", "admin")}
    roles = {"creator": "reviewer", "reviewer": "reviewer", "reviewer2": "reviewer", "approver": "approver",
             "viewer": "viewer", "admin": "admin"}
    with session_scope(engine) as s:
        for key, name in names.items():
            auth.create_user(s, name, PASSWORD, roles[key], email=f"{name}@example.org")
        ds = register_dataset(s, name=f"adult-{tag}", sha256=sha(f"real-{tag}"), rows=1000,
                              schema={"age": "numerical", "income": "categorical"}, created_by=names["creator"])
        ho = register_holdout(s, dataset_id=ds.id, sha256=sha(f"holdout-{tag}"), seed=1, split_fraction=0.2,
                              stratify_column="income", rows=200, created_by=names["creator"])
        ds_id, ho_id = ds.id, ho.id
    world = World(engine=engine, tag=tag, dataset_id=ds_id, holdout_id=ho_id, generation_id=0, synthetic_sha256="",
                  **names)
    world.generation_id, world.synthetic_sha256 = world.new_generation()
    world.evaluate([("privacy", True), ("fidelity", True)])
    return world


def raw(engine, sql: str) -> None:
    """Execute raw SQL in its own transaction."""
    with engine.begin() as conn:
        conn.execute(text(sql))
