"""The drift recommendation kept on a generation's record: an audit event (immutable, in the generation's log)."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.orm import Session

from core.checks.drift import DriftResult
from core.store.audit import append_event, lock_chain
from core.store.models import Generation
from core.store.errors import NotFoundError
from core.store.repository import audit_events, get_user
from core.store.roles import require_role

DRIFT_ACTION = "drift.recommendation"


def drift_sha256(report: dict[str, Any], reference_sha256: str | None, current_sha256: str | None) -> str:
    """Hex sha256 of a drift result (its JSON, sorted keys) and the two tables' hashes: one recommendation's identity."""
    record = {"drift": report, "reference_sha256": reference_sha256, "current_sha256": current_sha256}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def record_drift_recommendation(
    session: Session, generation_id: int, drift: DriftResult | dict[str, Any], *, actor: str,
    reference_sha256: str | None = None, current_sha256: str | None = None,
) -> dict[str, Any]:
    """Append a drift.recommendation event (recommendation, verdict, the drift JSON, the two tables' hashes) to
    the generation's audit log inside the caller's transaction; the actor needs the reviewer role.

    Idempotent per drift result: when the generation's log already holds this result (same drift JSON and table
    hashes, see drift_sha256), that event is returned with already_recorded=True and nothing is appended."""
    lock_chain(session)  # held to the end of the transaction: two sessions cannot both miss the earlier event
    require_role(get_user(session, actor), "reviewer")
    if session.get(Generation, generation_id) is None:
        raise NotFoundError("generation", generation_id)
    report = drift.to_dict() if isinstance(drift, DriftResult) else dict(drift)
    digest = drift_sha256(report, reference_sha256, current_sha256)
    for earlier in drift_recommendations(session, generation_id):
        payload = earlier["payload"]
        known = payload.get("drift_sha256") or drift_sha256(payload.get("drift", {}), payload.get("reference_sha256"),
                                                              payload.get("current_sha256"))
        if known == digest:
            return {"event_id": earlier["id"], "hash": earlier["hash"], "already_recorded": True, **payload}
    payload = {
        "recommendation": report["recommendation"],
        "drifted": report["drifted"],
        "share_drifted_columns": report["share_drifted_columns"],
        "reasons": report.get("reasons", []),
        "reference_sha256": reference_sha256,
        "current_sha256": current_sha256,
        "drift": report,
        "drift_sha256": digest,
    }
    event = append_event(session, actor=actor, action=DRIFT_ACTION, entity="generation", entity_id=generation_id,
                         generation_id=generation_id, payload=payload)
    return {"event_id": event.id, "hash": event.hash, "already_recorded": False, **payload}


def drift_recommendations(session: Session, generation_id: int) -> list[dict[str, Any]]:
    """The drift recommendations recorded on a generation, oldest first (audit records; payload holds the JSON)."""
    return audit_events(session, generation_id=generation_id, action=DRIFT_ACTION)
