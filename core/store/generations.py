"""Generations aggregate: manifests, frozen evaluations, review rounds and the state a generation is in."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from core.errors import InputError, UsageError
from core.store.audit import append_event, canonical_json, lock_chain, sha256_text
from core.store.common import check_int, check_sha256, get_row, iso
from core.store.errors import StateError
from core.store.models import DatasetVersion, Decision, Evaluation, Generation, Holdout, Review
from core.store.users import acting_user


GENERATION_STATES = ("draft", "in_review", "approved", "rejected", "changes_requested", "revoked")


OPEN_STATES = ("draft", "in_review", "changes_requested")


MANIFEST_REQUIRED = ("method", "parameters", "seed", "library_versions", "source_dataset_id", "synthetic_sha256",
                     "rows", "training_mix")


def validate_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as plain JSON with defaults (holdout_id, parent_generation_id None); InputError naming the key."""
    if not isinstance(manifest, Mapping):
        raise InputError("manifest must be a JSON object")
    missing = [k for k in MANIFEST_REQUIRED if k not in manifest]
    if missing:
        raise InputError(f"manifest is missing {', '.join(missing)}")
    try:
        clean = json.loads(canonical_json(dict(manifest)))
    except (TypeError, ValueError) as exc:
        raise InputError(f"manifest is not plain JSON ({exc})") from None
    clean.setdefault("holdout_id", None)
    clean.setdefault("parent_generation_id", None)
    if not isinstance(clean["method"], str) or not clean["method"]:
        raise InputError("manifest method must be a non-empty string")
    for key in ("parameters", "library_versions", "training_mix"):
        if not isinstance(clean[key], dict):
            raise InputError(f"manifest {key} must be an object")
    check_int(clean["seed"], "manifest seed", None)
    check_int(clean["rows"], "manifest rows")
    check_int(clean["source_dataset_id"], "manifest source_dataset_id", 1)
    clean["synthetic_sha256"] = check_sha256(clean["synthetic_sha256"], "manifest synthetic_sha256")
    for key in ("real_rows", "synthetic_rows"):
        if key not in clean["training_mix"]:
            raise InputError(f"manifest training_mix is missing {key}")
        check_int(clean["training_mix"][key], f"manifest training_mix.{key}")
    for key in ("holdout_id", "parent_generation_id"):
        if clean[key] is not None:
            check_int(clean[key], f"manifest {key}", 1)
    return clean


def register_generation(session: Session, manifest: Mapping[str, Any], *, created_by: str) -> Generation:
    """Record a generation from its manifest (method, parameters, seed, versions, sources, hash, rows, mix)."""
    lock_chain(session)
    acting_user(session, created_by, "reviewer")
    clean = validate_manifest(manifest)
    get_row(session, DatasetVersion, clean["source_dataset_id"], "dataset")
    if clean["holdout_id"] is not None:
        holdout = get_row(session, Holdout, clean["holdout_id"], "holdout")
        if holdout.dataset_id != clean["source_dataset_id"]:
            raise InputError(f"manifest holdout {holdout.id} belongs to dataset {holdout.dataset_id}, "
                             f"not {clean['source_dataset_id']}")
    if clean["parent_generation_id"] is not None:
        get_row(session, Generation, clean["parent_generation_id"], "parent generation")
    text = canonical_json(clean)
    generation = Generation(
        dataset_id=clean["source_dataset_id"], holdout_id=clean["holdout_id"], parent_id=clean["parent_generation_id"],
        method=clean["method"], seed=clean["seed"], synthetic_sha256=clean["synthetic_sha256"], rows=clean["rows"],
        real_rows_seen=clean["training_mix"]["real_rows"], synthetic_rows_seen=clean["training_mix"]["synthetic_rows"],
        manifest_json=text, manifest_sha256=sha256_text(text), created_by=created_by,
    )
    session.add(generation)
    session.flush()
    append_event(session, actor=created_by, action="generation.register", entity="generation",
                 entity_id=generation.id, generation_id=generation.id,
                 payload={"manifest_sha256": generation.manifest_sha256, "manifest": clean})
    return generation


def parse_report(report_text: str) -> dict[str, Any]:
    """The evaluation report as a dict, checking "gates" is a list of {name: str, passed: bool, ...}."""
    try:
        report = json.loads(report_text)
    except ValueError as exc:
        raise InputError(f"evaluation report is not valid JSON ({exc})") from None
    if not isinstance(report, dict):
        raise InputError("evaluation report must be a JSON object")
    gates = report.get("gates", [])
    if not isinstance(gates, list) or not all(
        isinstance(g, dict) and isinstance(g.get("name"), str) and isinstance(g.get("passed"), bool) for g in gates
    ):
        raise InputError('evaluation report "gates" must be a list of {"name": str, "passed": bool, ...}')
    return report


def add_evaluation(
    session: Session, generation_id: int, report: str | Mapping[str, Any], *, tool_version: str, created_by: str
) -> Evaluation:
    """Freeze an evaluation report (exact text kept; a dict is stored as canonical JSON) with its sha256."""
    lock_chain(session)
    acting_user(session, created_by, "reviewer")
    get_row(session, Generation, generation_id, "generation")
    state = generation_state(session, generation_id)
    if state not in OPEN_STATES:
        raise StateError(f"generation {generation_id} is {state}; evaluations can no longer be added")
    text = report if isinstance(report, str) else canonical_json(dict(report))
    parsed = parse_report(text)
    evaluation = Evaluation(generation_id=generation_id, report_json=text, report_sha256=sha256_text(text),
                            tool_version=tool_version, created_by=created_by)
    session.add(evaluation)
    session.flush()
    append_event(session, actor=created_by, action="evaluation.add", entity="evaluation", entity_id=evaluation.id,
                 generation_id=generation_id,
                 payload={"report_sha256": evaluation.report_sha256, "tool_version": tool_version,
                          "gates": [{"name": g["name"], "passed": g["passed"]} for g in parsed.get("gates", [])]})
    return evaluation


def current_round(session: Session, generation_id: int) -> int:
    """Review round: 1 + number of changes_requested decisions on the generation."""
    n = session.execute(
        select(func.count()).select_from(Decision)
        .where(Decision.generation_id == generation_id, Decision.kind == "changes_requested")
    ).scalar_one()
    return 1 + int(n)


def generation_states(session: Session, generation_ids: Optional[Iterable[int]] = None) -> dict[int, str]:
    """State of each generation (all, or those given) in three set-based queries; see generation_state."""
    ids = None if generation_ids is None else sorted(set(generation_ids))
    if ids == []:
        return {}
    last_id = select(Decision.generation_id, func.max(Decision.id).label("last_id")).group_by(Decision.generation_id)
    max_round = select(Review.generation_id, func.max(Review.round).label("max_round")).group_by(Review.generation_id)
    if ids is not None:
        last_id, max_round = last_id.where(Decision.generation_id.in_(ids)), max_round.where(Review.generation_id.in_(ids))
    last_sub, round_sub = last_id.subquery(), max_round.subquery()
    query = (
        select(Generation.id, Decision.kind, Decision.round, round_sub.c.max_round)
        .outerjoin(last_sub, last_sub.c.generation_id == Generation.id)
        .outerjoin(Decision, Decision.id == last_sub.c.last_id)
        .outerjoin(round_sub, round_sub.c.generation_id == Generation.id)
    )
    if ids is not None:
        query = query.where(Generation.id.in_(ids))
    out: dict[int, str] = {}
    for gid, kind, decided_round, reviewed_round in session.execute(query):
        if kind is None:
            out[gid] = "in_review" if reviewed_round is not None else "draft"
        elif kind == "changes_requested":
            out[gid] = "in_review" if (reviewed_round or 0) > decided_round else "changes_requested"
        else:
            out[gid] = kind
    return out


def generation_state(session: Session, generation_id: int) -> str:
    """draft / in_review / approved / rejected / changes_requested / revoked, from decisions and reviews.

    The last decision decides; after changes_requested a review of a later round puts it back in review."""
    states = generation_states(session, [generation_id])
    if generation_id not in states:
        get_row(session, Generation, generation_id, "generation")  # raises NotFoundError
    return states[generation_id]


def latest_evaluation(session: Session, generation_id: int) -> Optional[Evaluation]:
    """The most recently added evaluation of the generation, or None."""
    return session.execute(
        select(Evaluation).where(Evaluation.generation_id == generation_id).order_by(Evaluation.id.desc()).limit(1)
    ).scalar_one_or_none()


def evaluation_record(e: Evaluation, with_report: bool = True) -> dict[str, Any]:
    """An evaluation as plain JSON (report parsed; its sha256 is of the stored text)."""
    out = {"id": e.id, "generation_id": e.generation_id, "sha256": e.report_sha256, "tool_version": e.tool_version,
           "created_by": e.created_by, "created_at": iso(e.created_at)}
    if with_report:
        out["report"] = json.loads(e.report_json)
    return out


def lineage(session: Session, generation_id: int) -> list[int]:
    """Ancestor generation ids, parent first."""
    out: list[int] = []
    g = get_row(session, Generation, generation_id, "generation")
    while g.parent_id is not None and g.parent_id not in out:
        out.append(g.parent_id)
        g = get_row(session, Generation, g.parent_id, "generation")
    return out


@dataclass(frozen=True)
class GenerationSummary:
    """One row of the generations list."""

    id: int
    dataset_id: int
    dataset_name: str
    holdout_id: Optional[int]
    parent_id: Optional[int]
    method: str
    seed: int
    rows: int
    synthetic_sha256: str
    created_by: str
    created_at: str
    state: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output and tables."""
        return asdict(self)


def summary_of(session: Session, g: Generation, state: Optional[str] = None) -> GenerationSummary:
    """The list row of one generation (its state computed unless given)."""
    return GenerationSummary(
        id=g.id, dataset_id=g.dataset_id, dataset_name=g.dataset.name, holdout_id=g.holdout_id, parent_id=g.parent_id,
        method=g.method, seed=g.seed, rows=g.rows, synthetic_sha256=g.synthetic_sha256, created_by=g.created_by,
        created_at=iso(g.created_at), state=state or generation_state(session, g.id))


def list_generations(
    session: Session, dataset_id: Optional[int] = None, state: Optional[str] = None
) -> list[GenerationSummary]:
    """Generations, newest first, optionally only of one dataset and/or in one state."""
    if state is not None and state not in GENERATION_STATES:
        raise UsageError(f"unknown state '{state}'; expected one of {', '.join(GENERATION_STATES)}")
    query = select(Generation).options(joinedload(Generation.dataset)).order_by(Generation.id.desc())
    if dataset_id is not None:
        query = query.where(Generation.dataset_id == dataset_id)
    generations = list(session.execute(query).scalars())
    states = generation_states(session, [g.id for g in generations] if dataset_id is not None else None)
    out = [summary_of(session, g, states[g.id]) for g in generations]
    return [s for s in out if state is None or s.state == state]
