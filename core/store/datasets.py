"""Datasets aggregate: real source table versions and their holdout splits (each write with its audit event)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InputError
from core.store.audit import append_event, canonical_json, lock_chain
from core.store.common import check_int, check_sha256, get_row, iso
from core.store.models import DatasetVersion, Holdout
from core.store.users import acting_user


def register_dataset(
    session: Session, *, name: str, sha256: str, rows: int, schema: Mapping[str, Any], created_by: str
) -> DatasetVersion:
    """Record a real source table version (idempotent on name + sha256)."""
    lock_chain(session)
    acting_user(session, created_by, "reviewer")
    sha256 = check_sha256(sha256, "dataset sha256")
    existing = session.execute(
        select(DatasetVersion).where(DatasetVersion.name == name, DatasetVersion.sha256 == sha256)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    schema = json.loads(canonical_json(dict(schema)))
    dataset = DatasetVersion(name=name, sha256=sha256, rows=check_int(rows, "dataset rows"), schema_json=schema,
                             created_by=created_by)
    session.add(dataset)
    session.flush()
    append_event(session, actor=created_by, action="dataset.register", entity="dataset", entity_id=dataset.id,
                 payload={"name": name, "sha256": sha256, "rows": rows, "schema": schema})
    return dataset


def register_holdout(
    session: Session,
    *,
    dataset_id: int,
    sha256: str,
    seed: int,
    split_fraction: float,
    created_by: str,
    stratify_column: Optional[str] = None,
    rows: Optional[int] = None,
) -> Holdout:
    """Record a holdout split of a dataset version (seeded, optionally stratified)."""
    lock_chain(session)
    acting_user(session, created_by, "reviewer")
    dataset = get_row(session, DatasetVersion, dataset_id, "dataset")
    if not isinstance(split_fraction, (int, float)) or not 0.0 < float(split_fraction) < 1.0:
        raise InputError(f"holdout split_fraction must be in (0, 1), got {split_fraction!r}")
    if stratify_column is not None and stratify_column not in (dataset.schema_json or {}):
        raise InputError("stratify column is not in the dataset schema", column=stratify_column)
    holdout = Holdout(dataset_id=dataset_id, sha256=check_sha256(sha256, "holdout sha256"), seed=check_int(seed, "seed", None),
                      split_fraction=float(split_fraction), stratify_column=stratify_column,
                      rows=None if rows is None else check_int(rows, "holdout rows"), created_by=created_by)
    session.add(holdout)
    session.flush()
    append_event(session, actor=created_by, action="holdout.register", entity="holdout", entity_id=holdout.id,
                 payload={"dataset_id": dataset_id, "sha256": holdout.sha256, "seed": seed,
                          "split_fraction": holdout.split_fraction, "stratify_column": stratify_column,
                          "rows": rows})
    return holdout


def dataset_record(d: DatasetVersion) -> dict[str, Any]:
    """A dataset version as plain JSON."""
    return {"id": d.id, "name": d.name, "sha256": d.sha256, "rows": d.rows, "schema": d.schema_json,
            "created_by": d.created_by, "created_at": iso(d.created_at)}


def holdout_record(h: Holdout) -> dict[str, Any]:
    """A holdout as plain JSON."""
    return {"id": h.id, "dataset_id": h.dataset_id, "sha256": h.sha256, "seed": h.seed,
            "split_fraction": h.split_fraction, "stratify_column": h.stratify_column, "rows": h.rows,
            "created_by": h.created_by, "created_at": iso(h.created_at)}
