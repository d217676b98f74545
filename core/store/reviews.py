"""Reviews aggregate: a reviewer's draft and submitted reading of a generation, with notes on sampled rows."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.errors import InputError, UsageError
from core.store.audit import append_event, canonical_json, lock_chain, sha256_json, sha256_text
from core.store.common import check_int, check_sha256, get_row, iso
from core.store.errors import StateError
from core.store.generations import OPEN_STATES, current_round, generation_state
from core.store.models import NOTE_FLAGS, NOTE_SOURCES, Generation, RecordNote, Review, utcnow
from core.store.users import acting_user


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
    """A note row from its input, or InputError naming the note."""
    n = value if isinstance(value, NoteInput) else NoteInput(**dict(value))
    where = f"note {index}"
    if n.flag not in NOTE_FLAGS:
        raise InputError(f"{where}: flag {n.flag!r} is not one of {', '.join(NOTE_FLAGS)}")
    if n.source not in NOTE_SOURCES:
        raise InputError(f"{where}: source {n.source!r} is not one of {', '.join(NOTE_SOURCES)}")
    row_json = canonical_json(n.row) if n.row is not None else None
    if n.row_hash is None and row_json is None:
        raise InputError(f"{where}: give row_hash or row")
    row_hash = check_sha256(n.row_hash, f"{where} row_hash") if n.row_hash is not None else sha256_text(row_json or "")
    return RecordNote(row_id=str(n.row_id), row_hash=row_hash, flag=n.flag, note=n.note or "", source=n.source,
                      row_json=row_json)


def _review_for(session: Session, review_id: int, reviewer: str) -> Review:
    review = get_row(session, Review, review_id, "review")
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
    acting_user(session, reviewer, "reviewer")
    generation = get_row(session, Generation, generation_id, "generation")
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
        review.records_read = check_int(records_read, "records_read")
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
    acting_user(session, reviewer, "reviewer")
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
        "comment": review.comment, "submitted_at": iso(review.submitted_at),
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
    acting_user(session, reviewer, "reviewer")
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
    query = (select(Review).options(selectinload(Review.notes))
             .where(Review.generation_id == generation_id, Review.status == "submitted"))
    if round is not None:
        query = query.where(Review.round == round)
    return list(session.execute(query.order_by(Review.id)).scalars())
