"""Decisions aggregate: a signed sign-off decision with the evidence it rests on (rules live in core.review)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.store.audit import append_event, event_hash, sha256_json, sha256_text
from core.store.common import get_row, iso
from core.store.generations import current_round
from core.store.errors import StateError
from core.store.models import AuditEvent, Decision, Evaluation, Generation, Review, utcnow
from core.store.reviews import review_record
from core.store.signing import (
    DECISION_DOMAIN,
    EVENT_DOMAIN,
    load_signing_key,
    session_url,
    sign_text,
    signature_ok,
)


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
    generation = get_row(session, Generation, generation_id, "generation")
    evaluation = get_row(session, Evaluation, evaluation_id, "evaluation") if evaluation_id is not None else None
    found = {r.id: r for r in session.execute(
        select(Review).options(selectinload(Review.notes)).where(Review.id.in_(list(review_ids)))).scalars()}
    reviews = [found[rid] if rid in found else get_row(session, Review, rid, "review") for rid in review_ids]
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
    generation = get_row(session, Generation, generation_id, "generation")
    if kind == "approved":  # refusing or revoking must stay possible on a store someone tampered with
        require_signed_evidence(session, evaluation_id, review_ids)
    doc = evidence_document(session, generation_id, evaluation_id=evaluation_id, review_ids=review_ids,
                            policy_toml=policy_toml, waivers=waivers)
    decision = Decision(
        generation_id=generation_id, kind=kind, signer=signer, at=utcnow(), comment=comment, waivers_json=waivers,
        evaluation_id=evaluation_id, review_ids_json=list(review_ids), synthetic_sha256=generation.synthetic_sha256,
        evidence_sha256=evidence_sha256(doc), policy_toml=policy_toml, policy_sha256=sha256_text(policy_toml),
        round=current_round(session, generation_id),
    )
    # Signed before the insert: the row can never be updated afterwards, and its id is not part of what is signed
    # (a copy under another id has no audit event of its own, which verify reports).
    decision.signature = sign_text(load_signing_key(session_url(session), create=True), DECISION_DOMAIN,
                                   decision_signed_text(decision))
    session.add(decision)
    session.flush()
    append_event(session, actor=signer, action=f"decision.{kind}", entity="decision", entity_id=decision.id,
                 generation_id=generation_id,
                 payload={"kind": kind, "comment": comment, "waivers": waivers, "evaluation_id": evaluation_id,
                          "review_ids": list(review_ids), "evidence_sha256": decision.evidence_sha256,
                          "policy_sha256": decision.policy_sha256, "synthetic_sha256": decision.synthetic_sha256})
    return decision


def decision_record(d: Decision) -> dict[str, Any]:
    """A decision as plain JSON."""
    return {"id": d.id, "generation_id": d.generation_id, "kind": d.kind, "signer": d.signer, "at": iso(d.at),
            "comment": d.comment, "waivers": d.waivers_json, "evaluation_id": d.evaluation_id,
            "review_ids": d.review_ids_json, "synthetic_sha256": d.synthetic_sha256,
            "evidence_sha256": d.evidence_sha256, "policy_toml": d.policy_toml, "policy_sha256": d.policy_sha256,
            "round": d.round}


def decision_signed_text(d: Decision) -> str:
    """The canonical text the server key signs for a decision: its record without the id."""
    body = decision_record(d)
    body.pop("id")
    return sha256_json(body)


def require_signed_evidence(session: Session, evaluation_id: Optional[int], review_ids: list[int]) -> None:
    """StateError unless the evaluation and every review a decision rests on match their own server-signed event
    (a review or report inserted with database access alone is never evidence)."""
    wanted = [("review", rid, "review.submit") for rid in review_ids]
    if evaluation_id is not None:
        wanted.append(("evaluation", evaluation_id, "evaluation.add"))
    if not wanted:
        return
    events = session.execute(select(AuditEvent).where(
        AuditEvent.entity.in_(["review", "evaluation"]), AuditEvent.action.in_(["review.submit", "evaluation.add"]),
        AuditEvent.entity_id.in_([str(key) for _, key, _ in wanted]))).scalars()
    public = load_signing_key(session_url(session), create=True).public_key()
    signed = {(e.entity, e.entity_id, e.action): json.loads(e.payload_json) for e in events
              if event_hash(e) == e.hash and signature_ok(public, EVENT_DOMAIN, e.hash, e.signature)}
    reviews = {r.id: r for r in session.execute(
        select(Review).options(selectinload(Review.notes)).where(Review.id.in_(list(review_ids)))).scalars()}
    for entity, key, action in wanted:
        payload = signed.get((entity, str(key), action))
        if entity == "review":
            review = reviews.get(key)
            ok = payload is not None and review is not None and \
                sha256_json(review_record(review)) == payload.get("review_sha256")
        else:
            evaluation = session.get(Evaluation, key)
            ok = payload is not None and evaluation is not None and \
                sha256_text(evaluation.report_json) == payload.get("report_sha256")
        if not ok:
            raise StateError(f"{entity} {key} does not match a server-signed {action} event; it was written "
                             f"outside the desk and cannot be evidence")
