"""Repository: every write the desk makes (each with its audit event, in the caller's transaction) and the reads."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InputError, UsageError
from core.store.audit import append_event, canonical_json, lock_chain, sha256_json, sha256_text, verify_chain
from core.store.errors import NotFoundError, StateError
from core.store.models import (
    NOTE_FLAGS,
    NOTE_SOURCES,
    AuditEvent,
    DatasetVersion,
    Decision,
    Evaluation,
    Generation,
    Holdout,
    RecordNote,
    Review,
    User,
    utcnow,
)
from core.store.roles import require_role

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
GENERATION_STATES = ("draft", "in_review", "approved", "rejected", "changes_requested", "revoked")
OPEN_STATES = ("draft", "in_review", "changes_requested")
BUNDLE_FORMAT = "review-desk-evidence/1"
# Keys of an evaluation report whose values are real records; redacted from exported bundles by default.
REAL_RECORD_KEYS = frozenset({"real_records", "real_rows", "closest_real_records"})


# ----------------------------------------------------------------------------------------------- helpers


def get_user(session: Session, name: str) -> User:
    """The user with that name, or NotFoundError."""
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFoundError("user", name)
    return user


def _acting(session: Session, name: str, role: str) -> User:
    user = get_user(session, name)
    require_role(user, role)
    return user


def _get(session: Session, model: type, key: int, label: str) -> Any:
    obj = session.get(model, key)
    if obj is None:
        raise NotFoundError(label, key)
    return obj


def _sha(value: Any, what: str) -> str:
    if not isinstance(value, str) or not SHA256_RE.match(value.lower()):
        raise InputError(f"{what} must be a 64-character hex sha256, got {value!r}")
    return value.lower()


def _int(value: Any, what: str, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InputError(f"{what} must be >= {minimum}, got {value}")
    return value


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


# ----------------------------------------------------------------------------------------------- registrations


def register_dataset(
    session: Session, *, name: str, sha256: str, rows: int, schema: Mapping[str, Any], created_by: str
) -> DatasetVersion:
    """Record a real source table version (idempotent on name + sha256)."""
    lock_chain(session)
    _acting(session, created_by, "reviewer")
    sha256 = _sha(sha256, "dataset sha256")
    existing = session.execute(
        select(DatasetVersion).where(DatasetVersion.name == name, DatasetVersion.sha256 == sha256)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    schema = json.loads(canonical_json(dict(schema)))
    dataset = DatasetVersion(name=name, sha256=sha256, rows=_int(rows, "dataset rows"), schema_json=schema,
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
    _acting(session, created_by, "reviewer")
    dataset = _get(session, DatasetVersion, dataset_id, "dataset")
    if not isinstance(split_fraction, (int, float)) or not 0.0 < float(split_fraction) < 1.0:
        raise InputError(f"holdout split_fraction must be in (0, 1), got {split_fraction!r}")
    if stratify_column is not None and stratify_column not in (dataset.schema_json or {}):
        raise InputError("stratify column is not in the dataset schema", column=stratify_column)
    holdout = Holdout(dataset_id=dataset_id, sha256=_sha(sha256, "holdout sha256"), seed=_int(seed, "seed", None),
                      split_fraction=float(split_fraction), stratify_column=stratify_column,
                      rows=None if rows is None else _int(rows, "holdout rows"), created_by=created_by)
    session.add(holdout)
    session.flush()
    append_event(session, actor=created_by, action="holdout.register", entity="holdout", entity_id=holdout.id,
                 payload={"dataset_id": dataset_id, "sha256": holdout.sha256, "seed": seed,
                          "split_fraction": holdout.split_fraction, "stratify_column": stratify_column,
                          "rows": rows})
    return holdout


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
    _int(clean["seed"], "manifest seed", None)
    _int(clean["rows"], "manifest rows")
    _int(clean["source_dataset_id"], "manifest source_dataset_id", 1)
    clean["synthetic_sha256"] = _sha(clean["synthetic_sha256"], "manifest synthetic_sha256")
    for key in ("real_rows", "synthetic_rows"):
        if key not in clean["training_mix"]:
            raise InputError(f"manifest training_mix is missing {key}")
        _int(clean["training_mix"][key], f"manifest training_mix.{key}")
    for key in ("holdout_id", "parent_generation_id"):
        if clean[key] is not None:
            _int(clean[key], f"manifest {key}", 1)
    return clean


def register_generation(session: Session, manifest: Mapping[str, Any], *, created_by: str) -> Generation:
    """Record a generation from its manifest (method, parameters, seed, versions, sources, hash, rows, mix)."""
    lock_chain(session)
    _acting(session, created_by, "reviewer")
    clean = validate_manifest(manifest)
    _get(session, DatasetVersion, clean["source_dataset_id"], "dataset")
    if clean["holdout_id"] is not None:
        holdout = _get(session, Holdout, clean["holdout_id"], "holdout")
        if holdout.dataset_id != clean["source_dataset_id"]:
            raise InputError(f"manifest holdout {holdout.id} belongs to dataset {holdout.dataset_id}, "
                             f"not {clean['source_dataset_id']}")
    if clean["parent_generation_id"] is not None:
        _get(session, Generation, clean["parent_generation_id"], "parent generation")
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
    _acting(session, created_by, "reviewer")
    _get(session, Generation, generation_id, "generation")
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


# ----------------------------------------------------------------------------------------------- state


def current_round(session: Session, generation_id: int) -> int:
    """Review round: 1 + number of changes_requested decisions on the generation."""
    n = session.execute(
        select(func.count()).select_from(Decision)
        .where(Decision.generation_id == generation_id, Decision.kind == "changes_requested")
    ).scalar_one()
    return 1 + int(n)


def generation_state(session: Session, generation_id: int) -> str:
    """draft / in_review / approved / rejected / changes_requested / revoked, from decisions and reviews."""
    _get(session, Generation, generation_id, "generation")
    last = session.execute(
        select(Decision).where(Decision.generation_id == generation_id).order_by(Decision.id.desc()).limit(1)
    ).scalar_one_or_none()
    if last is None:
        any_review = session.execute(select(Review.id).where(Review.generation_id == generation_id).limit(1)).first()
        return "in_review" if any_review else "draft"
    if last.kind == "changes_requested":
        newer = session.execute(
            select(Review.id).where(Review.generation_id == generation_id, Review.round > last.round).limit(1)
        ).first()
        return "in_review" if newer else "changes_requested"
    return last.kind


# ----------------------------------------------------------------------------------------------- reviews


@dataclass(frozen=True)
class NoteInput:
    """A flag on one sampled row: row_hash given, or computed from `row` (the row as shown, a dict)."""

    row_id: str | int
    flag: str
    note: str = ""
    row_hash: Optional[str] = None
    source: str = "synthetic"
    row: Optional[dict[str, Any]] = None


def _note(value: NoteInput | Mapping[str, Any], index: int) -> RecordNote:
    n = value if isinstance(value, NoteInput) else NoteInput(**dict(value))
    where = f"note {index}"
    if n.flag not in NOTE_FLAGS:
        raise InputError(f"{where}: flag {n.flag!r} is not one of {', '.join(NOTE_FLAGS)}")
    if n.source not in NOTE_SOURCES:
        raise InputError(f"{where}: source {n.source!r} is not one of {', '.join(NOTE_SOURCES)}")
    row_json = canonical_json(n.row) if n.row is not None else None
    if n.row_hash is None and row_json is None:
        raise InputError(f"{where}: give row_hash or row")
    row_hash = _sha(n.row_hash, f"{where} row_hash") if n.row_hash is not None else sha256_text(row_json or "")
    return RecordNote(row_id=str(n.row_id), row_hash=row_hash, flag=n.flag, note=n.note or "", source=n.source,
                      row_json=row_json)


def _review_for(session: Session, review_id: int, reviewer: str) -> Review:
    review = _get(session, Review, review_id, "review")
    session.refresh(review)
    if review.reviewer != reviewer:
        raise UsageError(f"review {review_id} belongs to '{review.reviewer}', not '{reviewer}'")
    if review.status != "draft":
        raise StateError(f"review {review_id} is submitted and can no longer change")
    return review


def _replace_notes(session: Session, review: Review, notes: Iterable[NoteInput | Mapping[str, Any]]) -> int:
    new = [_note(n, i) for i, n in enumerate(notes)]
    for old in list(review.notes):
        session.delete(old)
    session.flush()
    for n in new:
        n.review_id = review.id
    session.add_all(new)
    session.flush()
    session.expire(review, ["notes"])
    return len(new)


def start_review(session: Session, generation_id: int, reviewer: str) -> Review:
    """Open (or return the open) draft review of this reviewer for the generation's current round."""
    lock_chain(session)
    _acting(session, reviewer, "reviewer")
    generation = _get(session, Generation, generation_id, "generation")
    state = generation_state(session, generation_id)
    if state not in OPEN_STATES:
        raise StateError(f"generation {generation_id} is {state}; it cannot be reviewed")
    rnd = current_round(session, generation_id)
    existing = session.execute(
        select(Review).where(Review.generation_id == generation_id, Review.reviewer == reviewer, Review.round == rnd)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.status == "submitted":
            raise StateError(f"'{reviewer}' already submitted a review of generation {generation_id} in round {rnd}")
        return existing
    review = Review(generation_id=generation_id, reviewer=reviewer, round=rnd, status="draft", records_read=0,
                    synthetic_sha256=generation.synthetic_sha256, comment="", created_at=utcnow())
    session.add(review)
    session.flush()
    append_event(session, actor=reviewer, action="review.start", entity="review", entity_id=review.id,
                 generation_id=generation_id, payload={"round": rnd})
    return review


def _update_review(session: Session, review: Review, records_read: Optional[int],
                   notes: Optional[Iterable[NoteInput | Mapping[str, Any]]], comment: Optional[str]) -> int:
    """Set the fields given (None leaves one as it is; notes given replace the old ones); returns the note count."""
    if records_read is not None:
        review.records_read = _int(records_read, "records_read")
    if comment is not None:
        review.comment = comment
    session.flush()
    return _replace_notes(session, review, notes) if notes is not None else len(review.notes)


def save_draft(
    session: Session,
    review_id: int,
    *,
    reviewer: str,
    records_read: Optional[int] = None,
    notes: Optional[Iterable[NoteInput | Mapping[str, Any]]] = None,
    comment: Optional[str] = None,
) -> Review:
    """Update a draft review: records_read, comment, and (when given) replace its notes."""
    lock_chain(session)
    _acting(session, reviewer, "reviewer")
    review = _review_for(session, review_id, reviewer)
    count = _update_review(session, review, records_read, notes, comment)
    append_event(session, actor=reviewer, action="review.save_draft", entity="review", entity_id=review.id,
                 generation_id=review.generation_id, payload={"records_read": review.records_read, "notes": count})
    return review


def review_record(review: Review) -> dict[str, Any]:
    """A review with its notes as plain JSON (the form hashed into evidence)."""
    return {
        "id": review.id, "generation_id": review.generation_id, "reviewer": review.reviewer, "round": review.round,
        "status": review.status, "records_read": review.records_read, "synthetic_sha256": review.synthetic_sha256,
        "comment": review.comment, "submitted_at": _iso(review.submitted_at),
        "notes": [{"row_id": n.row_id, "row_hash": n.row_hash, "flag": n.flag, "note": n.note, "source": n.source,
                   "row": json.loads(n.row_json) if n.row_json else None} for n in review.notes],
    }


def submit_review(
    session: Session,
    review_id: int,
    *,
    reviewer: str,
    records_read: Optional[int] = None,
    notes: Optional[Iterable[NoteInput | Mapping[str, Any]]] = None,
    comment: Optional[str] = None,
) -> Review:
    """Submit a draft review (optionally setting its final records_read/notes/comment); it is immutable after."""
    lock_chain(session)
    _acting(session, reviewer, "reviewer")
    review = _review_for(session, review_id, reviewer)
    state = generation_state(session, review.generation_id)
    if state not in OPEN_STATES or review.round != current_round(session, review.generation_id):
        raise StateError(f"generation {review.generation_id} is {state}; review {review_id} can no longer be submitted")
    _update_review(session, review, records_read, notes, comment)
    review.status = "submitted"
    review.submitted_at = utcnow()
    session.flush()
    record = review_record(review)
    append_event(session, actor=reviewer, action="review.submit", entity="review", entity_id=review.id,
                 generation_id=review.generation_id,
                 payload={"round": review.round, "records_read": review.records_read, "notes": len(record["notes"]),
                          "review_sha256": sha256_json(record)})
    return review


def submit_new_review(
    session: Session,
    generation_id: int,
    *,
    reviewer: str,
    records_read: int,
    notes: Iterable[NoteInput | Mapping[str, Any]] = (),
    comment: str = "",
) -> Review:
    """start_review + submit_review in one transaction (all of it lands, or none of it)."""
    review = start_review(session, generation_id, reviewer)
    return submit_review(session, review.id, reviewer=reviewer, records_read=records_read, notes=list(notes),
                         comment=comment)


def submitted_reviews(session: Session, generation_id: int, round: Optional[int] = None) -> list[Review]:
    """Submitted reviews of the generation (of one round when given), oldest first."""
    query = select(Review).where(Review.generation_id == generation_id, Review.status == "submitted")
    if round is not None:
        query = query.where(Review.round == round)
    return list(session.execute(query.order_by(Review.id)).scalars())


def latest_evaluation(session: Session, generation_id: int) -> Optional[Evaluation]:
    """The most recently added evaluation of the generation, or None."""
    return session.execute(
        select(Evaluation).where(Evaluation.generation_id == generation_id).order_by(Evaluation.id.desc()).limit(1)
    ).scalar_one_or_none()


# ----------------------------------------------------------------------------------------------- evidence


def evidence_document(
    session: Session,
    generation_id: int,
    *,
    evaluation_id: Optional[int],
    review_ids: list[int],
    policy_toml: str,
    waivers: list[dict[str, Any]],
) -> dict[str, Any]:
    """What a decision rests on: manifest, evaluation report, submitted reviews with notes, policy and waivers."""
    generation = _get(session, Generation, generation_id, "generation")
    evaluation = _get(session, Evaluation, evaluation_id, "evaluation") if evaluation_id is not None else None
    reviews = [_get(session, Review, rid, "review") for rid in review_ids]
    return {
        "manifest": json.loads(generation.manifest_json),
        "evaluation": None if evaluation is None else {
            "id": evaluation.id, "sha256": evaluation.report_sha256, "tool_version": evaluation.tool_version,
            "report": json.loads(evaluation.report_json)},
        "reviews": [review_record(r) for r in reviews],
        "policy": {"toml": policy_toml, "sha256": sha256_text(policy_toml)},
        "waivers": waivers,
    }


def evidence_sha256(document: Mapping[str, Any]) -> str:
    """sha256 over the canonical JSON of an evidence document."""
    return sha256_json(document)


def record_decision(
    session: Session,
    generation_id: int,
    *,
    kind: str,
    signer: str,
    comment: str,
    waivers: list[dict[str, Any]],
    policy_toml: str,
    evaluation_id: Optional[int],
    review_ids: list[int],
) -> Decision:
    """Insert a decision with its evidence hash and audit event (rules are checked by core.review.signoff, not here)."""
    generation = _get(session, Generation, generation_id, "generation")
    doc = evidence_document(session, generation_id, evaluation_id=evaluation_id, review_ids=review_ids,
                            policy_toml=policy_toml, waivers=waivers)
    decision = Decision(
        generation_id=generation_id, kind=kind, signer=signer, at=utcnow(), comment=comment, waivers_json=waivers,
        evaluation_id=evaluation_id, review_ids_json=list(review_ids), synthetic_sha256=generation.synthetic_sha256,
        evidence_sha256=evidence_sha256(doc), policy_toml=policy_toml, policy_sha256=sha256_text(policy_toml),
        round=current_round(session, generation_id),
    )
    session.add(decision)
    session.flush()
    append_event(session, actor=signer, action=f"decision.{kind}", entity="decision", entity_id=decision.id,
                 generation_id=generation_id,
                 payload={"kind": kind, "comment": comment, "waivers": waivers, "evaluation_id": evaluation_id,
                          "review_ids": list(review_ids), "evidence_sha256": decision.evidence_sha256,
                          "policy_sha256": decision.policy_sha256, "synthetic_sha256": decision.synthetic_sha256})
    return decision


# ----------------------------------------------------------------------------------------------- reads


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


@dataclass(frozen=True)
class GenerationDetail:
    """Everything recorded about one generation (real record rows included; the UI gates who sees it)."""

    summary: GenerationSummary
    manifest: dict[str, Any]
    manifest_sha256: str
    dataset: dict[str, Any]
    holdout: Optional[dict[str, Any]]
    lineage: list[int]
    evaluations: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    round: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


def _summary(session: Session, g: Generation, state: Optional[str] = None) -> GenerationSummary:
    return GenerationSummary(
        id=g.id, dataset_id=g.dataset_id, dataset_name=g.dataset.name, holdout_id=g.holdout_id, parent_id=g.parent_id,
        method=g.method, seed=g.seed, rows=g.rows, synthetic_sha256=g.synthetic_sha256, created_by=g.created_by,
        created_at=_iso(g.created_at), state=state or generation_state(session, g.id))


def list_generations(
    session: Session, dataset_id: Optional[int] = None, state: Optional[str] = None
) -> list[GenerationSummary]:
    """Generations, newest first, optionally only of one dataset and/or in one state."""
    if state is not None and state not in GENERATION_STATES:
        raise UsageError(f"unknown state '{state}'; expected one of {', '.join(GENERATION_STATES)}")
    query = select(Generation).order_by(Generation.id.desc())
    if dataset_id is not None:
        query = query.where(Generation.dataset_id == dataset_id)
    out = [_summary(session, g) for g in session.execute(query).scalars()]
    return [s for s in out if state is None or s.state == state]


def dataset_record(d: DatasetVersion) -> dict[str, Any]:
    """A dataset version as plain JSON."""
    return {"id": d.id, "name": d.name, "sha256": d.sha256, "rows": d.rows, "schema": d.schema_json,
            "created_by": d.created_by, "created_at": _iso(d.created_at)}


def holdout_record(h: Holdout) -> dict[str, Any]:
    """A holdout as plain JSON."""
    return {"id": h.id, "dataset_id": h.dataset_id, "sha256": h.sha256, "seed": h.seed,
            "split_fraction": h.split_fraction, "stratify_column": h.stratify_column, "rows": h.rows,
            "created_by": h.created_by, "created_at": _iso(h.created_at)}


def evaluation_record(e: Evaluation, with_report: bool = True) -> dict[str, Any]:
    """An evaluation as plain JSON (report parsed; its sha256 is of the stored text)."""
    out = {"id": e.id, "generation_id": e.generation_id, "sha256": e.report_sha256, "tool_version": e.tool_version,
           "created_by": e.created_by, "created_at": _iso(e.created_at)}
    if with_report:
        out["report"] = json.loads(e.report_json)
    return out


def decision_record(d: Decision) -> dict[str, Any]:
    """A decision as plain JSON."""
    return {"id": d.id, "generation_id": d.generation_id, "kind": d.kind, "signer": d.signer, "at": _iso(d.at),
            "comment": d.comment, "waivers": d.waivers_json, "evaluation_id": d.evaluation_id,
            "review_ids": d.review_ids_json, "synthetic_sha256": d.synthetic_sha256,
            "evidence_sha256": d.evidence_sha256, "policy_toml": d.policy_toml, "policy_sha256": d.policy_sha256,
            "round": d.round}


def lineage(session: Session, generation_id: int) -> list[int]:
    """Ancestor generation ids, parent first."""
    out: list[int] = []
    g = _get(session, Generation, generation_id, "generation")
    while g.parent_id is not None and g.parent_id not in out:
        out.append(g.parent_id)
        g = _get(session, Generation, g.parent_id, "generation")
    return out


def generation_detail(session: Session, generation_id: int) -> GenerationDetail:
    """Manifest, dataset, holdout, lineage, evaluations, reviews with notes and decisions of one generation."""
    g = _get(session, Generation, generation_id, "generation")
    evaluations = session.execute(
        select(Evaluation).where(Evaluation.generation_id == generation_id).order_by(Evaluation.id)).scalars()
    reviews = session.execute(select(Review).where(Review.generation_id == generation_id).order_by(Review.id)).scalars()
    decisions = session.execute(
        select(Decision).where(Decision.generation_id == generation_id).order_by(Decision.id)).scalars()
    return GenerationDetail(
        summary=_summary(session, g), manifest=json.loads(g.manifest_json), manifest_sha256=g.manifest_sha256,
        dataset=dataset_record(g.dataset), holdout=holdout_record(g.holdout) if g.holdout else None,
        lineage=lineage(session, generation_id), evaluations=[evaluation_record(e) for e in evaluations],
        reviews=[review_record(r) for r in reviews], decisions=[decision_record(d) for d in decisions],
        round=current_round(session, generation_id))


def audit_record(e: AuditEvent) -> dict[str, Any]:
    """An audit event as plain JSON."""
    return {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "entity": e.entity,
            "entity_id": e.entity_id, "generation_id": e.generation_id, "payload": json.loads(e.payload_json),
            "prev_hash": e.prev_hash, "hash": e.hash}


def audit_events(
    session: Session,
    *,
    generation_id: Optional[int] = None,
    entity: Optional[str] = None,
    entity_id: Optional[Any] = None,
    action: Optional[str] = None,
    after_id: int = 0,
    limit: Optional[int] = None,
) -> list[dict[str, Any]]:
    """Audit events in chain order, filtered by generation, entity, entity id or action."""
    query = select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id)
    if generation_id is not None:
        query = query.where(AuditEvent.generation_id == generation_id)
    if entity is not None:
        query = query.where(AuditEvent.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == str(entity_id))
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if limit is not None:
        query = query.limit(limit)
    return [audit_record(e) for e in session.execute(query).scalars()]


def _redact(value: Any) -> tuple[Any, int]:
    if isinstance(value, dict):
        out, n = {}, 0
        for k, v in value.items():
            if k in REAL_RECORD_KEYS:
                out[k], n = "[redacted: real records]", n + 1
            else:
                out[k], m = _redact(v)
                n += m
        return out, n
    if isinstance(value, list):
        items = [_redact(v) for v in value]
        return [i for i, _ in items], sum(n for _, n in items)
    return value, 0


def export_evidence_bundle(
    session: Session, generation_id: int, *, include_real_records: bool = False
) -> dict[str, Any]:
    """JSON evidence bundle of a generation; real records (real-row notes, report keys in REAL_RECORD_KEYS) are
    left out unless include_real_records, and the bundle says which. Each decision's evidence hash is re-checked."""
    detail = generation_detail(session, generation_id)
    decisions = []
    for d in detail.decisions:
        doc = evidence_document(session, generation_id, evaluation_id=d["evaluation_id"], review_ids=d["review_ids"],
                                policy_toml=d["policy_toml"], waivers=d["waivers"])
        decisions.append({**d, "evidence_recomputed_sha256": evidence_sha256(doc),
                          "evidence_matches": evidence_sha256(doc) == d["evidence_sha256"]})
    reviews, evaluations, redacted_notes, redacted_keys = detail.reviews, detail.evaluations, 0, 0
    if not include_real_records:
        reviews = []
        for r in detail.reviews:
            notes = []
            for n in r["notes"]:
                if n["source"] == "real" and n["row"] is not None:
                    n, redacted_notes = {**n, "row": None}, redacted_notes + 1
                notes.append(n)
            reviews.append({**r, "notes": notes})
        evaluations = []
        for e in detail.evaluations:
            report, n = _redact(e["report"])
            redacted_keys += n
            evaluations.append({**e, "report": report})
    chain = verify_chain(session)
    return {
        "format": BUNDLE_FORMAT,
        "exported_at": utcnow().isoformat(),
        "generation": detail.summary.to_dict(),
        "state": detail.summary.state,
        "manifest": detail.manifest,
        "manifest_sha256": detail.manifest_sha256,
        "dataset": detail.dataset,
        "holdout": detail.holdout,
        "lineage": detail.lineage,
        "evaluations": evaluations,
        "reviews": reviews,
        "decisions": decisions,
        "audit_events": audit_events(session, generation_id=generation_id),
        "audit_chain": chain.to_dict(),
        "real_records": {
            "included": include_real_records,
            "redacted_note_rows": redacted_notes,
            "redacted_report_fields": redacted_keys,
            "note": ("real records included" if include_real_records else
                     "rows of notes with source='real' and report fields named "
                     f"{sorted(REAL_RECORD_KEYS)} are replaced; hashes still refer to the unredacted content"),
        },
    }
