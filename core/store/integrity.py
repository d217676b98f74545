"""Trust the chain, not the tables: verify the signed chain, cross-check every row against its event, and anchor
the head outside the database so a removed or rewritten tail shows."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.errors import UsageError
from core.store.audit import VerifyResult, sha256_json, sha256_text, verify_chain
from core.store.decisions import decision_signed_text
from core.store.errors import StoreError
from core.store.models import (
    AuditEvent,
    AuditHead,
    DatasetVersion,
    Decision,
    Evaluation,
    Generation,
    Holdout,
    Review,
    User,
    utcnow,
)
from core.store.reviews import review_record
from core.store.signing import DECISION_DOMAIN, load_signing_key, session_url, signature_ok

ANCHOR_FORMAT = "review-desk-anchor/1"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# entity -> the actions whose events must each have their row (a removed row shows as a dangling event)
ROW_ACTIONS = {
    "user": ("user.create",),
    "dataset": ("dataset.register",),
    "holdout": ("holdout.register",),
    "generation": ("generation.register",),
    "evaluation": ("evaluation.add",),
    "review": ("review.start", "review.submit"),
    "decision": ("decision.approved", "decision.changes_requested", "decision.rejected", "decision.revoked"),
}
ROW_TABLE = {"user": "users", "dataset": "dataset_version", "holdout": "holdout", "generation": "generation",
             "evaluation": "evaluation", "review": "review", "decision": "decision"}


@dataclass(frozen=True)
class Anchor:
    """A chain head kept outside the database: the event id (None when only a hash was kept) and its hash."""

    event_id: Optional[int]
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """The anchor file's JSON."""
        return {"format": ANCHOR_FORMAT, "event_id": self.event_id, "hash": self.hash,
                "written_at": utcnow().isoformat()}


@dataclass(frozen=True)
class StoreCheck:
    """Outcome of verify: the signed chain, the rows cross-checked against their events, and the anchor."""

    chain: VerifyResult
    problems: list[str] = field(default_factory=list)
    rows_checked: dict[str, int] = field(default_factory=dict)
    anchor: Optional[dict[str, Any]] = None

    @property
    def ok(self) -> bool:
        """True only when the chain verifies, no row disagrees and the anchor (if any) is found."""
        return self.chain.ok and not self.problems and (self.anchor is None or bool(self.anchor["ok"]))

    @property
    def reason(self) -> str:
        """The first thing wrong (or the all-clear)."""
        if not self.chain.ok:
            return self.chain.reason
        if self.problems:
            return self.problems[0]
        if self.anchor is not None and not self.anchor["ok"]:
            return self.anchor["reason"]
        rows = sum(self.rows_checked.values())
        return f"{self.chain.reason}; {rows} rows match their signed events" + (
            f"; {self.anchor['reason']}" if self.anchor else "")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output (the chain's keys first, as before)."""
        return {"ok": self.ok, "checked": self.chain.checked, "first_bad_event_id": self.chain.first_bad_event_id,
                "reason": self.reason, "chain": self.chain.to_dict(), "problems": self.problems,
                "rows_checked": self.rows_checked, "anchor": self.anchor}


@dataclass
class _Seen:
    """Events of the verified chain, by (entity, entity id), and every event's hash by id."""

    by_entity: dict[tuple[str, str], list[AuditEvent]] = field(default_factory=lambda: defaultdict(list))
    hashes: dict[int, str] = field(default_factory=dict)
    ids_by_hash: dict[str, int] = field(default_factory=dict)

    def visit(self, event: AuditEvent) -> None:
        """Keep one verified event."""
        self.hashes[event.id] = event.hash
        self.ids_by_hash[event.hash] = event.id
        if event.entity in ROW_ACTIONS:
            self.by_entity[(event.entity, event.entity_id)].append(event)

    def events(self, entity: str, key: Any, action: str | None = None) -> list[AuditEvent]:
        """Events of one row (of one action when given), chain order."""
        found = self.by_entity.get((entity, str(key)), [])
        return [e for e in found if action is None or e.action == action]


def _payload(event: AuditEvent) -> dict[str, Any]:
    return json.loads(event.payload_json)


def _differs(label: str, row_values: dict[str, Any], signed: dict[str, Any]) -> list[str]:
    return [f"{label}: {key} is {row_values[key]!r} but its signed event says {signed.get(key)!r}"
            for key in row_values if row_values[key] != signed.get(key)]


def _one(seen: _Seen, entity: str, key: Any, action: str, label: str, problems: list[str]) -> Optional[AuditEvent]:
    found = seen.events(entity, key, action)
    if not found:
        problems.append(f"{label}: no signed {action} event (row written outside the desk)")
        return None
    return found[0]


_UNKNOWN = object()


def _check_users(session: Session, seen: _Seen, problems: list[str]) -> int:
    users = list(session.execute(select(User).order_by(User.id)).scalars())
    for u in users:
        label = f"users row {u.id} ('{u.name}')"
        create = _one(seen, "user", u.id, "user.create", label, problems)
        if create is None:
            continue
        p = _payload(create)
        role = p.get("role")
        for e in seen.events("user", u.id, "user.set_role"):
            role = _payload(e).get("to")
        problems += _differs(label, {"name": u.name, "email": u.email}, p)
        if u.role != role:
            problems.append(f"{label}: role is '{u.role}' but its signed events say '{role}'")
        password = _UNKNOWN  # events from before the digest was recorded say nothing about the hash
        for e in [create] + seen.events("user", u.id, "user.set_password"):
            password = _payload(e).get("credential_sha256", _UNKNOWN)
        actual = sha256_text(u.password_hash) if u.password_hash else None
        if password is not _UNKNOWN and actual != password:
            problems.append(f"{label}: password_hash is not the one its signed events record (swapped outside "
                            f"the desk)")
    return len(users)


def _check_datasets(session: Session, seen: _Seen, problems: list[str]) -> int:
    rows = list(session.execute(select(DatasetVersion).order_by(DatasetVersion.id)).scalars())
    for d in rows:
        label = f"dataset_version row {d.id} ('{d.name}')"
        e = _one(seen, "dataset", d.id, "dataset.register", label, problems)
        if e is not None:
            problems += _differs(label, {"name": d.name, "sha256": d.sha256, "rows": d.rows}, _payload(e))
            problems += _differs(label, {"created_by": d.created_by}, {"created_by": e.actor})
    holdouts = list(session.execute(select(Holdout).order_by(Holdout.id)).scalars())
    for h in holdouts:
        label = f"holdout row {h.id}"
        e = _one(seen, "holdout", h.id, "holdout.register", label, problems)
        if e is not None:
            problems += _differs(label, {"dataset_id": h.dataset_id, "sha256": h.sha256, "seed": h.seed,
                                         "split_fraction": h.split_fraction, "stratify_column": h.stratify_column,
                                         "rows": h.rows}, _payload(e))
    return len(rows) + len(holdouts)


def _check_generations(session: Session, seen: _Seen, problems: list[str]) -> int:
    rows = list(session.execute(select(Generation).order_by(Generation.id)).scalars())
    for g in rows:
        label = f"generation row {g.id}"
        e = _one(seen, "generation", g.id, "generation.register", label, problems)
        if e is None:
            continue
        p = _payload(e)
        manifest = p.get("manifest") or {}
        if sha256_text(g.manifest_json) != g.manifest_sha256:
            problems.append(f"{label}: manifest_json does not match its manifest_sha256")
        problems += _differs(label, {"manifest_sha256": g.manifest_sha256}, p)
        problems += _differs(label, {"synthetic_sha256": g.synthetic_sha256, "rows": g.rows,
                                     "source_dataset_id": g.dataset_id, "holdout_id": g.holdout_id,
                                     "parent_generation_id": g.parent_id, "seed": g.seed}, manifest)
        problems += _differs(label, {"created_by": g.created_by}, {"created_by": e.actor})
    evaluations = list(session.execute(select(Evaluation).order_by(Evaluation.id)).scalars())
    for ev in evaluations:
        label = f"evaluation row {ev.id}"
        e = _one(seen, "evaluation", ev.id, "evaluation.add", label, problems)
        if e is None:
            continue
        if sha256_text(ev.report_json) != ev.report_sha256:
            problems.append(f"{label}: report_json does not match its report_sha256")
        problems += _differs(label, {"report_sha256": ev.report_sha256}, _payload(e))
        problems += _differs(label, {"generation_id": ev.generation_id}, {"generation_id": e.generation_id})
    return len(rows) + len(evaluations)


def _check_reviews(session: Session, seen: _Seen, problems: list[str]) -> int:
    rows = list(session.execute(select(Review).options(selectinload(Review.notes)).order_by(Review.id)).scalars())
    for r in rows:
        label = f"review row {r.id} (reviewer '{r.reviewer}')"
        start = _one(seen, "review", r.id, "review.start", label, problems)
        if start is None:
            continue
        problems += _differs(label, {"round": r.round}, _payload(start))
        problems += _differs(label, {"reviewer": r.reviewer, "generation_id": r.generation_id},
                             {"reviewer": start.actor, "generation_id": start.generation_id})
        submits = seen.events("review", r.id, "review.submit")
        if r.status == "submitted" and not submits:
            problems.append(f"{label}: submitted but has no signed review.submit event")
        elif r.status != "submitted" and submits:
            problems.append(f"{label}: its signed review.submit event exists but the row says '{r.status}'")
        elif submits:
            signed = _payload(submits[-1])
            if sha256_json(review_record(r)) != signed.get("review_sha256"):
                problems.append(f"{label}: content or notes differ from what was submitted (review_sha256)")
    return len(rows)


def _check_decisions(session: Session, seen: _Seen, problems: list[str]) -> int:
    rows = list(session.execute(select(Decision).order_by(Decision.id)).scalars())
    public = None
    for d in rows:
        label = f"decision row {d.id} ({d.kind} of generation {d.generation_id})"
        e = _one(seen, "decision", d.id, f"decision.{d.kind}", label, problems)
        if public is None:
            try:
                public = load_signing_key(session_url(session)).public_key()
            except StoreError as exc:
                problems.append(f"{label}: cannot check its signature: {exc}")
                continue
        if not signature_ok(public, DECISION_DOMAIN, decision_signed_text(d), d.signature):
            problems.append(f"{label}: signature is missing or not made by the server key")
        if e is None:
            continue
        problems += _differs(label, {"kind": d.kind, "comment": d.comment, "waivers": d.waivers_json,
                                     "evaluation_id": d.evaluation_id, "review_ids": d.review_ids_json,
                                     "evidence_sha256": d.evidence_sha256, "policy_sha256": d.policy_sha256,
                                     "synthetic_sha256": d.synthetic_sha256}, _payload(e))
        problems += _differs(label, {"signer": d.signer, "generation_id": d.generation_id},
                             {"signer": e.actor, "generation_id": e.generation_id})
    return len(rows)


def _dangling(session: Session, seen: _Seen, problems: list[str]) -> None:
    """Events whose row is gone (deleted or truncated behind the triggers)."""
    models = {"user": User, "dataset": DatasetVersion, "holdout": Holdout, "generation": Generation,
              "evaluation": Evaluation, "review": Review, "decision": Decision}
    for entity, model in models.items():
        present = {str(i) for i in session.execute(select(model.id)).scalars()}
        for (ent, key), events in sorted(seen.by_entity.items()):
            if ent != entity or key in present:
                continue
            named = [e for e in events if e.action in ROW_ACTIONS[entity]]
            if named:
                problems.append(f"{ROW_TABLE[entity]} row {key} is missing but signed event {named[0].id} "
                                f"({named[0].action}) records it")


def parse_anchor(value: str) -> Anchor:
    """An anchor from a file written by `signoff anchor`, or a bare 64-hex head hash; UsageError otherwise."""
    text = value.strip()
    if HEX64.match(text.lower()):
        return Anchor(None, text.lower())
    path = Path(text)
    try:
        raw = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"anchor {value!r} is neither a 64-hex hash nor a readable file ({exc.strerror})") from None
    if HEX64.match(raw.lower()):
        return Anchor(None, raw.lower())
    try:
        data = json.loads(raw)
        event_id = data["event_id"]
        return Anchor(int(event_id) if event_id is not None else None, str(data["hash"]).lower())
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"anchor file {path} is not a review-desk anchor (JSON with event_id and hash)") from None


def _check_anchor(anchor: Anchor, seen: _Seen, chain: VerifyResult) -> dict[str, Any]:
    """Is the anchored event still in the verified chain with the same hash?"""
    out: dict[str, Any] = {"event_id": anchor.event_id, "hash": anchor.hash}
    if anchor.event_id == 0 or (anchor.event_id is None and anchor.hash == "0" * 64):
        return out | {"ok": True, "reason": "anchor is the empty chain"}
    if anchor.event_id is not None:
        found = seen.hashes.get(anchor.event_id)
        if found == anchor.hash:
            return out | {"ok": True, "reason": f"anchored event {anchor.event_id} is in the chain unchanged"}
        if found is None:
            return out | {"ok": False, "reason": f"anchored event {anchor.event_id} is gone: the chain ends at "
                                                 f"event {chain.checked} (events removed and the head reset)"}
        return out | {"ok": False, "reason": f"anchored event {anchor.event_id} has another hash now: the chain "
                                             f"up to it was rewritten"}
    if anchor.hash in seen.ids_by_hash:
        return out | {"ok": True, "reason": f"anchored hash is event {seen.ids_by_hash[anchor.hash]}'s, unchanged"}
    return out | {"ok": False, "reason": "anchored hash is not in the chain: events at or before it were removed "
                                         "or rewritten"}


def verify_store(session: Session, anchor: Optional[Anchor | str] = None) -> StoreCheck:
    """Verify the signed chain, cross-check every user, dataset, holdout, generation, evaluation, review (with its
    notes) and decision row against its signed event (both ways), and check the anchor when given."""
    seen = _Seen()
    chain = verify_chain(session, visit=seen.visit)
    if isinstance(anchor, str):
        anchor = parse_anchor(anchor)
    anchor_result = _check_anchor(anchor, seen, chain) if anchor is not None else None
    if not chain.ok:
        return StoreCheck(chain, [], {}, anchor_result)
    problems: list[str] = []
    rows = {"users": _check_users(session, seen, problems),
            "datasets_holdouts": _check_datasets(session, seen, problems),
            "generations_evaluations": _check_generations(session, seen, problems),
            "reviews": _check_reviews(session, seen, problems),
            "decisions": _check_decisions(session, seen, problems)}
    _dangling(session, seen, problems)
    return StoreCheck(chain, problems, rows, anchor_result)


def chain_anchor(session: Session) -> Anchor:
    """The current head (last event id and hash) to keep outside the database."""
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None:
        raise StoreError("the store has no chain head row (not a review-desk store)")
    return Anchor(head.last_event_id, head.last_hash)
