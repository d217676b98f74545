"""Read models across aggregates: everything recorded about one generation, and its evidence bundle."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.store.audit import audit_events, verify_chain
from core.store.common import get_row
from core.store.datasets import dataset_record, holdout_record
from core.store.decisions import decision_record, evidence_document, evidence_sha256
from core.store.generations import GenerationSummary, current_round, evaluation_record, lineage, summary_of
from core.store.models import Decision, Evaluation, Generation, Review, utcnow
from core.store.reviews import review_record


BUNDLE_FORMAT = "review-desk-evidence/1"


REAL_RECORD_KEYS = frozenset({"real_records", "real_rows", "closest_real_records"})


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


def generation_detail(session: Session, generation_id: int) -> GenerationDetail:
    """Manifest, dataset, holdout, lineage, evaluations, reviews with notes and decisions of one generation."""
    g = get_row(session, Generation, generation_id, "generation")
    evaluations = session.execute(
        select(Evaluation).where(Evaluation.generation_id == generation_id).order_by(Evaluation.id)).scalars()
    reviews = session.execute(select(Review).options(selectinload(Review.notes))
                           .where(Review.generation_id == generation_id).order_by(Review.id)).scalars()
    decisions = session.execute(
        select(Decision).where(Decision.generation_id == generation_id).order_by(Decision.id)).scalars()
    return GenerationDetail(
        summary=summary_of(session, g), manifest=json.loads(g.manifest_json), manifest_sha256=g.manifest_sha256,
        dataset=dataset_record(g.dataset), holdout=holdout_record(g.holdout) if g.holdout else None,
        lineage=lineage(session, generation_id), evaluations=[evaluation_record(e) for e in evaluations],
        reviews=[review_record(r) for r in reviews], decisions=[decision_record(d) for d in decisions],
        round=current_round(session, generation_id))


def _redact(value: Any) -> tuple[Any, int]:
    """The value with REAL_RECORD_KEYS replaced, and how many were."""
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
    from core.store.integrity import verify_store

    chain = verify_chain(session)
    store_check = verify_store(session)
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
        "store_check": store_check.to_dict(),
        "real_records": {
            "included": include_real_records,
            "redacted_note_rows": redacted_notes,
            "redacted_report_fields": redacted_keys,
            "note": ("real records included" if include_real_records else
                     "rows of notes with source='real' and report fields named "
                     f"{sorted(REAL_RECORD_KEYS)} are replaced; hashes still refer to the unredacted content"),
        },
    }
