"""Append-only audit chain: each event's hash = sha256(prev_hash + canonical JSON of the event)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.errors import StoreError
from core.store.models import GENESIS_HASH, AuditEvent, AuditHead
from core.store.signing import EVENT_DOMAIN, load_signing_key, session_url, sign_text, signature_ok


def canonical_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, UTF-8, no NaN/inf (raises ValueError on those)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    """Hex sha256 of the UTF-8 bytes of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(value: Any) -> str:
    """Hex sha256 of the canonical JSON of a value."""
    return sha256_text(canonical_json(value))


def event_body(event: AuditEvent) -> dict[str, Any]:
    """The hashed fields of an event (everything but its own hash)."""
    return {
        "id": event.id,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "generation_id": event.generation_id,
        "payload": json.loads(event.payload_json),
        "prev_hash": event.prev_hash,
    }


def event_hash(event: AuditEvent) -> str:
    """sha256(prev_hash + canonical JSON of the event body)."""
    return sha256_text(event.prev_hash + canonical_json(event_body(event)))


def lock_chain(session: Session) -> AuditHead:
    """Take the chain lock for this transaction (row lock on PostgreSQL; SQLite holds it since BEGIN IMMEDIATE)."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    return head


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    payload: Optional[dict[str, Any]] = None,
    generation_id: Optional[int] = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (commits with it, or not at all)."""
    head = lock_chain(session)
    event = AuditEvent(
        id=head.last_event_id + 1,
        at=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        generation_id=generation_id,
        payload_json=canonical_json(payload or {}),
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(event)
    event.signature = sign_text(load_signing_key(session_url(session), create=True), EVENT_DOMAIN, event.hash)
    session.add(event)
    head.last_event_id = event.id
    head.last_hash = event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of recomputing the audit chain; first_bad_event_id names the first tampered or missing event."""

    ok: bool
    checked: int
    first_bad_event_id: Optional[int]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {"ok": self.ok, "checked": self.checked, "first_bad_event_id": self.first_bad_event_id,
                "reason": self.reason}


def verify_chain(
    session: Session, batch_size: int = 1000, visit: Optional[Callable[[AuditEvent], None]] = None
) -> VerifyResult:
    """Recompute every event's hash in id order and check its server signature; ids gapless, links match, the
    head names the last. `visit` sees each event that verified (for cross-checks of the rows)."""
    prev_hash = GENESIS_HASH
    expected_id = 1
    checked = 0
    public = None
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch_size))
    for event in rows.scalars():
        if event.id != expected_id:
            return VerifyResult(False, checked, expected_id, f"event {expected_id} is missing (next id is {event.id})")
        if event.prev_hash != prev_hash:
            return VerifyResult(False, checked, event.id, f"event {event.id}: prev_hash does not match event "
                                                          f"{event.id - 1}'s hash")
        try:
            recomputed = event_hash(event)
        except (ValueError, TypeError) as exc:
            return VerifyResult(False, checked, event.id, f"event {event.id}: payload is not valid JSON ({exc})")
        if recomputed != event.hash:
            return VerifyResult(False, checked, event.id, f"event {event.id}: content does not match its hash")
        if public is None:
            try:
                public = load_signing_key(session_url(session)).public_key()
            except StoreError as exc:
                return VerifyResult(False, checked, event.id, f"cannot check signatures: {exc}")
        if not signature_ok(public, EVENT_DOMAIN, event.hash, event.signature):
            return VerifyResult(False, checked, event.id, f"event {event.id} ({event.action}): signature is missing "
                                                          f"or not made by the server key (written without it)")
        if visit is not None:
            visit(event)
        prev_hash = event.hash
        expected_id += 1
        checked += 1
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None:
        return VerifyResult(False, checked, None, "chain head row is missing")
    if head.last_event_id != checked or head.last_hash != prev_hash:
        bad = checked + 1 if head.last_event_id > checked else head.last_event_id
        return VerifyResult(False, checked, bad, f"chain head names event {head.last_event_id} but the chain ends at "
                                                 f"event {checked} (events removed or head edited)")
    return VerifyResult(True, checked, None, f"{checked} events verified")


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
