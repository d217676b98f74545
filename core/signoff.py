"""Sign-off rules: who may approve, reject, request changes or revoke a generation, and on what evidence."""
from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from sqlalchemy.orm import Session

from core.errors import PolicyError, ReviewError
from core.store.audit import lock_chain
from core.store.errors import StateError
from core.store.models import Decision, Generation
from core.store.repository import (
    OPEN_STATES,
    current_round,
    generation_state,
    get_user,
    latest_evaluation,
    parse_report,
    record_decision,
    submitted_reviews,
)
from core.store.roles import has_role

SIGNOFF_KEYS = {"min_records_read": 200, "required_reviewers": 1, "allow_waivers": True}


class SignoffRefused(ReviewError):
    """An approval (or other decision) refused by a named rule."""

    def __init__(self, rule: str, message: str, refusals: Sequence["RuleCheck"] = ()):
        self.rule, self.message = rule, message
        self.refusals = list(refusals)
        super().__init__(f"refused by rule '{rule}': {message}")


@dataclass(frozen=True)
class Policy:
    """Sign-off policy read from TOML; the whole text (gate thresholds too) is stored with each decision."""

    min_records_read: int = 200
    required_reviewers: int = 1
    allow_waivers: bool = True
    toml_text: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """Hex sha256 of the TOML text."""
        return hashlib.sha256(self.toml_text.encode("utf-8")).hexdigest()

    @classmethod
    def from_toml(cls, text: str, path: Optional[str] = None) -> "Policy":
        """Parse policy TOML; sign-off keys are read from [signoff], else [review] (core.policy's layout), else top level."""
        where = f"policy {path}" if path else "policy"
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{where}: not valid TOML ({exc})") from None
        tables = [data.get("signoff", {}), data.get("review", {})]
        if not all(isinstance(t, dict) for t in tables):
            raise PolicyError(f"{where}: [signoff] and [review] must be tables")
        values: dict[str, Any] = {}
        for key, default in SIGNOFF_KEYS.items():
            value = tables[0].get(key, tables[1].get(key, data.get(key, default)))
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise PolicyError(f"{where}: {key} must be true or false, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "min_records_read"
                                                                                    else 1):
                raise PolicyError(f"{where}: {key} must be an integer >= "
                                  f"{0 if key == 'min_records_read' else 1}, got {value!r}")
            values[key] = value
        return cls(toml_text=text, data=data, **values)

    @classmethod
    def default(cls) -> "Policy":
        """The default policy, written out as TOML so it is stored like any other."""
        text = "".join(f"{k} = {json.dumps(v)}\n" for k, v in SIGNOFF_KEYS.items())
        return cls.from_toml(text)


def as_signoff_policy(policy: Any) -> Policy:
    """A signoff Policy from itself, from core.policy.Policy (its .text) or from TOML text."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str):
        return Policy.from_toml(policy)
    text = getattr(policy, "text", None)
    if isinstance(text, str):
        return Policy.from_toml(text)
    raise PolicyError(f"not a policy: {type(policy).__name__}")


def load_policy(path: str | Path) -> Policy:
    """Read a policy TOML file; PolicyError naming the file on any problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"policy {path}: cannot read ({exc.strerror})") from None
    return Policy.from_toml(text, str(path))


@dataclass(frozen=True)
class RuleCheck:
    """One sign-off rule evaluated: its name, whether it passed and why."""

    rule: str
    passed: bool
    message: str


def _normalize_waivers(waivers: Optional[Sequence[Mapping[str, Any]]]) -> list[dict[str, str]]:
    out = []
    for w in waivers or []:
        if not isinstance(w, Mapping):
            raise SignoffRefused("waivers", f"waiver {w!r} must be an object with gate and reason")
        out.append({"gate": str(w.get("gate", "")), "reason": str(w.get("reason") or "").strip()})
    return out


def approval_checklist(
    session: Session,
    generation_id: int,
    signer: str,
    waivers: Optional[Sequence[Mapping[str, Any]]],
    current_synthetic_sha256: str,
    policy: Policy,
) -> list[RuleCheck]:
    """Every approval rule evaluated (for a UI checklist); approve() refuses on the first that failed."""
    generation = session.get(Generation, generation_id)
    if generation is None:
        return [RuleCheck("exists", False, f"generation {generation_id} not found")]
    checks: list[RuleCheck] = []
    policy = as_signoff_policy(policy)
    user = get_user(session, signer)
    checks.append(RuleCheck("role", has_role(user, "approver"),
                            f"signer '{signer}' has role '{user.role}'" + ("" if user.active else " (inactive)")
                            + "; approving needs 'approver' or higher"))
    state = generation_state(session, generation_id)
    checks.append(RuleCheck("state", state in OPEN_STATES, f"generation {generation_id} is {state}"))
    checks.append(RuleCheck("four_eyes", generation.created_by != signer,
                            f"generation {generation_id} was created by '{generation.created_by}'; "
                            f"signer is '{signer}'" + (" (nobody approves their own generation)"
                                                       if generation.created_by == signer else "")))
    checks.append(RuleCheck("synthetic_hash", (current_synthetic_sha256 or "").lower() == generation.synthetic_sha256,
                            f"reviewed synthetic file sha256 {generation.synthetic_sha256[:12]}..., "
                            f"current file sha256 {(current_synthetic_sha256 or '')[:12]}..."))
    reviews = submitted_reviews(session, generation_id, current_round(session, generation_id))
    reviewers = sorted({r.reviewer for r in reviews})
    checks.append(RuleCheck("required_reviewers", len(reviewers) >= policy.required_reviewers,
                            f"{len(reviewers)} distinct reviewer(s) submitted {reviewers}; "
                            f"policy asks for {policy.required_reviewers}"))
    read = sum(r.records_read for r in reviews)
    checks.append(RuleCheck("min_records_read", read >= policy.min_records_read,
                            f"{read} records read in submitted reviews; policy asks for {policy.min_records_read}"))
    evaluation = latest_evaluation(session, generation_id)
    checks.append(RuleCheck("evaluation", evaluation is not None,
                            f"latest evaluation: {evaluation.id if evaluation else 'none recorded'}"))
    try:
        given = _normalize_waivers(waivers)
    except SignoffRefused as exc:
        checks.append(RuleCheck("waivers", False, exc.message))
        return checks
    gates = parse_report(evaluation.report_json).get("gates", []) if evaluation else []
    by_gate = {w["gate"]: w for w in given}
    failed = [g["name"] for g in gates if not g["passed"]]
    names = {g["name"] for g in gates}
    for gate in failed:
        waiver = by_gate.get(gate)
        if waiver is None:
            checks.append(RuleCheck("gate_failed", False, f"gate '{gate}' failed and has no waiver"))
        elif not policy.allow_waivers:
            checks.append(RuleCheck("gate_failed", False, f"gate '{gate}' failed and the policy allows no waivers"))
        elif not waiver["reason"]:
            checks.append(RuleCheck("gate_failed", False, f"gate '{gate}' failed; its waiver gives no reason"))
        else:
            checks.append(RuleCheck("gate_failed", True, f"gate '{gate}' failed, waived: {waiver['reason']}"))
    if not failed:
        checks.append(RuleCheck("gate_failed", True, f"all {len(gates)} gate(s) passed"))
    for w in given:
        if w["gate"] not in names or w["gate"] not in failed:
            what = "is not in the latest evaluation" if w["gate"] not in names else "passed"
            checks.append(RuleCheck("waivers", False, f"waiver for gate '{w['gate']}' but that gate {what}"))
    return checks


def _first_refusal(checks: list[RuleCheck]) -> None:
    bad = [c for c in checks if not c.passed]
    if bad:
        raise SignoffRefused(bad[0].rule, bad[0].message, bad)


def _decision_basis(session: Session, generation_id: int) -> tuple[Optional[int], list[int]]:
    evaluation = latest_evaluation(session, generation_id)
    reviews = submitted_reviews(session, generation_id, current_round(session, generation_id))
    return (evaluation.id if evaluation else None), [r.id for r in reviews]


def approve(
    session: Session,
    generation_id: int,
    signer: str,
    comment: str,
    waivers: Optional[Sequence[Mapping[str, Any]]],
    current_synthetic_sha256: str,
    policy: Policy,
) -> Decision:
    """Record an approval, or raise SignoffRefused(rule, message) naming the first rule it breaks."""
    lock_chain(session)
    policy = as_signoff_policy(policy)
    _first_refusal(approval_checklist(session, generation_id, signer, waivers, current_synthetic_sha256, policy))
    evaluation_id, review_ids = _decision_basis(session, generation_id)
    return record_decision(session, generation_id, kind="approved", signer=signer, comment=comment,
                           waivers=_normalize_waivers(waivers), policy_toml=policy.toml_text,
                           evaluation_id=evaluation_id, review_ids=review_ids)


def _other_decision(session: Session, generation_id: int, signer: str, comment: str, policy: Optional[Policy],
                    kind: str, allowed_states: Sequence[str]) -> Decision:
    lock_chain(session)
    policy = as_signoff_policy(policy) if policy is not None else Policy.default()
    if session.get(Generation, generation_id) is None:
        raise SignoffRefused("exists", f"generation {generation_id} not found")
    user = get_user(session, signer)
    if not has_role(user, "approver"):
        raise SignoffRefused("role", f"signer '{signer}' has role '{user.role}'; {kind} needs 'approver' or higher")
    state = generation_state(session, generation_id)
    if state not in allowed_states:
        raise SignoffRefused("state", f"generation {generation_id} is {state}; {kind} needs one of "
                                      f"{', '.join(allowed_states)}")
    if not comment or not comment.strip():
        raise SignoffRefused("comment", f"{kind} needs a comment saying why")
    evaluation_id, review_ids = _decision_basis(session, generation_id)
    return record_decision(session, generation_id, kind=kind, signer=signer, comment=comment.strip(), waivers=[],
                           policy_toml=policy.toml_text, evaluation_id=evaluation_id, review_ids=review_ids)


def reject(
    session: Session, generation_id: int, signer: str, comment: str, policy: Optional[Policy] = None
) -> Decision:
    """Reject a generation under review (final); needs approver role and a comment."""
    return _other_decision(session, generation_id, signer, comment, policy, "rejected", OPEN_STATES)


def request_changes(
    session: Session, generation_id: int, signer: str, comment: str, policy: Optional[Policy] = None
) -> Decision:
    """Send a generation back for another review round; needs approver role and a comment."""
    return _other_decision(session, generation_id, signer, comment, policy, "changes_requested", OPEN_STATES)


def revoke(
    session: Session, generation_id: int, signer: str, comment: str, policy: Optional[Policy] = None
) -> Decision:
    """Revoke an approval (only an approved generation); needs approver role and a comment."""
    return _other_decision(session, generation_id, signer, comment, policy, "revoked", ("approved",))


def gate_check(session: Session, generation_id: int, current_sha256: str) -> tuple[bool, str]:
    """For pipelines: ok only for an approved, unrevoked generation whose synthetic file hash still matches."""
    generation = session.get(Generation, generation_id)
    if generation is None:
        return False, f"generation {generation_id} not found"
    state = generation_state(session, generation_id)
    if state != "approved":
        return False, f"generation {generation_id} is {state}, not approved"
    if (current_sha256 or "").lower() != generation.synthetic_sha256:
        return False, (f"synthetic file sha256 {current_sha256} does not match the approved "
                       f"{generation.synthetic_sha256}")
    return True, f"generation {generation_id} is approved and its synthetic file hash matches"


__all__ = ["Policy", "as_signoff_policy", "load_policy", "SignoffRefused", "RuleCheck", "approval_checklist", "approve", "reject",
           "request_changes", "revoke", "gate_check", "generation_state", "StateError"]
