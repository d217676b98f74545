"""Sign-off rules: who may approve, reject, request changes or revoke a generation, and on what evidence."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PolicyError, ReviewError
from core.gates import gate_label
from core.data.io import LoadedTable
from core.policy import Policy, load_policy, parse_policy
from core.store.audit import lock_chain
from core.store.errors import StateError
from core.store.models import Decision, Generation
from core.store.repository import (
    OPEN_STATES,
    add_evaluation,
    register_dataset,
    register_generation,
    register_holdout,
    current_round,
    generation_state,
    get_user,
    latest_evaluation,
    parse_report,
    record_decision,
    submitted_reviews,
)
from core.store.roles import has_role


class SignoffRefused(ReviewError):
    """An approval (or other decision) refused by a named rule."""

    def __init__(self, rule: str, message: str, refusals: Sequence["RuleCheck"] = ()):
        self.rule, self.message = rule, message
        self.refusals = list(refusals)
        super().__init__(f"refused by rule '{rule}': {message}")


def as_signoff_policy(policy: Policy | str | None) -> Policy:
    """The policy to sign under: itself, parsed from TOML text, or the defaults."""
    if policy is None:
        return load_policy()
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str):
        return parse_policy(policy, "policy")
    raise PolicyError(f"not a policy: {type(policy).__name__}")


TEN_RULES = (
    "Holdout locked first (before any generator saw the data)",
    "Utility beats fidelity: train-on-synthetic vs train-on-real (TSTR vs TRTR) checked",
    "Blend, don't replace: synthetic rows added to real data, not instead of it",
    "Correlations and joint distributions checked, not only marginals",
    "Privacy tested (copies, distance to closest record, membership inference)",
    "Records read by hand",
    "Generation documented as code (manifest: method, parameters, seed, versions)",
    "Drift planned for (when fresh real data arrives, the generation is re-checked)",
    "No recursive training without fresh real data",
    "Generator and outputs reviewed; approvals are immutable",
)
ALL_RULES = tuple(range(1, len(TEN_RULES) + 1))
ATTESTATION_TEXT = "Signer confirmed the ten rules (1-10)."


def attestation_check(attested_rules: Optional[Sequence[int]]) -> "RuleCheck":
    """Whether the signer confirmed every one of the ten rules (numbers 1-10); the page and the CLI both ask."""
    try:
        given = {int(r) for r in (attested_rules or ())}
    except (TypeError, ValueError):
        return RuleCheck("attestation", False, f"attested rules {attested_rules!r} are not rule numbers 1-10")
    missing = [r for r in ALL_RULES if r not in given]
    unknown = sorted(given - set(ALL_RULES))
    if unknown:
        return RuleCheck("attestation", False, f"rule number(s) {_listed(unknown)} do not exist; the rules are 1-10")
    if missing:
        return RuleCheck("attestation", False, f"{len(ALL_RULES) - len(missing)} of {len(ALL_RULES)} rules confirmed; "
                                               f"not confirmed: {_listed(missing)}")
    return RuleCheck("attestation", True, f"signer confirmed all {len(ALL_RULES)} rules")


def _listed(items: Sequence[Any]) -> str:
    """Items as readable text for a rule's message ("1, 2, 3"), never a Python list's repr."""
    return ", ".join(str(i) for i in items)


def counted_reviews(session: Session, generation_id: int) -> list:
    """Submitted reviews of the current round that count toward approval: never the creator's own review."""
    generation = session.get(Generation, generation_id)
    creator = generation.created_by if generation is not None else None
    return [r for r in submitted_reviews(session, generation_id, current_round(session, generation_id))
            if r.reviewer != creator]


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
    *,
    attested_rules: Optional[Sequence[int]] = None,
) -> list[RuleCheck]:
    """Every approval rule evaluated (for a UI checklist); approve() refuses on the first that failed.

    Reviews by the generation's creator are not counted (four eyes); records read are each reviewer's distinct
    records, summed over the counted reviewers."""
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
    everyone = submitted_reviews(session, generation_id, current_round(session, generation_id))
    reviews = counted_reviews(session, generation_id)
    reviewers = sorted({r.reviewer for r in reviews})
    own = " (the creator's own review is not counted)" if len(everyone) > len(reviews) else ""
    checks.append(RuleCheck("required_reviewers", len(reviewers) >= policy.required_reviewers,
                            f"{len(reviewers)} distinct reviewer(s) other than the creator submitted"
                            f"{': ' + _listed(reviewers) if reviewers else ''}{own}; "
                            f"policy asks for {policy.required_reviewers}"))
    read = sum(r.records_read for r in reviews)
    checks.append(RuleCheck("min_records_read", read >= policy.min_records_read,
                            f"{read} records read in submitted reviews{own}; policy asks for {policy.min_records_read}"))
    checks.append(attestation_check(attested_rules))
    evaluation = latest_evaluation(session, generation_id)
    checks.append(RuleCheck("evaluation", evaluation is not None,
                            f"latest evaluation: {evaluation.id if evaluation else 'none recorded'}"))
    try:
        given = _normalize_waivers(waivers)
    except SignoffRefused as exc:
        checks.append(RuleCheck("waivers", False, exc.message))
        return checks
    gates = generation_gates(session, generation_id, policy)
    by_gate = {w["gate"]: w for w in given}
    failed = [gate_label(g) for g in gates if not g["passed"]]  # relational: "planes: column_shapes"
    names = {gate_label(g) for g in gates}
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


def generation_gates(session: Session, generation_id: int, policy: Policy | None = None) -> list[dict[str, Any]]:
    """The gates approval judges: the latest evaluation's, plus `lineage` when the generation has a parent."""
    evaluation = latest_evaluation(session, generation_id)
    gates = list(parse_report(evaluation.report_json).get("gates", [])) if evaluation else []
    lineage = lineage_gate_record(session, generation_id, as_signoff_policy(policy))
    return gates + ([lineage] if lineage is not None else [])


def lineage_gate_record(session: Session, generation_id: int, policy: Policy) -> dict[str, Any] | None:
    """The `lineage` gate of a generation fitted on a parent's output (None for a root generation).

    The chain is rebuilt from the store and the tables kept by content hash; a chain that cannot be rebuilt
    fails the gate, so approving it takes a waiver with a reason."""
    from core.checks.lineage import lineage_gate
    from core.review.lineage_store import lineage_from_store

    generation = session.get(Generation, generation_id)
    if generation is None or generation.parent_id is None:
        return None
    try:
        chain = lineage_from_store(session, generation_id)
    except ReviewError as exc:
        return {"name": "lineage", "value": None, "threshold": policy.gate("lineage", default=0.8), "passed": False,
                "detail": f"the chain cannot be rebuilt to check it: {exc}"}
    gate = lineage_gate(chain.result, policy).to_dict()
    if chain.result.warnings:
        gate["detail"] += "; " + "; ".join(chain.result.warnings)
    return gate


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
    *,
    attested_rules: Optional[Sequence[int]] = None,
) -> Decision:
    """Record an approval, or raise SignoffRefused(rule, message) naming the first rule it breaks.

    `attested_rules` are the numbers (1-10) of TEN_RULES the signer confirmed; all ten are required."""
    lock_chain(session)
    policy = as_signoff_policy(policy)
    _first_refusal(approval_checklist(session, generation_id, signer, waivers, current_synthetic_sha256, policy,
                                      attested_rules=attested_rules))
    evaluation_id, review_ids = _decision_basis(session, generation_id)
    comment = (comment or "").strip()
    if ATTESTATION_TEXT not in comment:
        comment = (comment + "\n" if comment else "") + ATTESTATION_TEXT
    return record_decision(session, generation_id, kind="approved", signer=signer, comment=comment,
                           waivers=_normalize_waivers(waivers), policy_toml=policy.text,
                           evaluation_id=evaluation_id, review_ids=review_ids)


def _other_decision(session: Session, generation_id: int, signer: str, comment: str, policy: Optional[Policy],
                    kind: str, allowed_states: Sequence[str]) -> Decision:
    lock_chain(session)
    policy = as_signoff_policy(policy)
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
    if kind == "revoked":  # a comment left over from the approval is not a reason to revoke it
        approval = _last_decision_comment(session, generation_id, "approved")
        if approval and _bare_comment(comment) == approval:
            raise SignoffRefused("comment", f"revoked needs its own reason; '{approval}' is the approval's comment")
    evaluation_id, review_ids = _decision_basis(session, generation_id)
    return record_decision(session, generation_id, kind=kind, signer=signer, comment=comment.strip(), waivers=[],
                           policy_toml=policy.text, evaluation_id=evaluation_id, review_ids=review_ids)


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
    """Revoke an approval (only an approved generation); needs approver role and a comment of its own (not the
    approval's comment again)."""
    return _other_decision(session, generation_id, signer, comment, policy, "revoked", ("approved",))


def _bare_comment(comment: str | None) -> str:
    """A decision comment without the attestation line approve() adds, whitespace-trimmed."""
    return (comment or "").replace(ATTESTATION_TEXT, "").strip()


def _last_decision_comment(session: Session, generation_id: int, kind: str) -> str:
    """The bare comment of the generation's latest decision of `kind` ('' when there is none)."""
    last = session.execute(select(Decision).where(Decision.generation_id == generation_id, Decision.kind == kind)
                           .order_by(Decision.id.desc()).limit(1)).scalar_one_or_none()
    return _bare_comment(last.comment) if last is not None else ""


def gate_check(
    session: Session, generation_id: int, current_sha256: str, anchor: Optional[str] = None
) -> tuple[bool, str]:
    """For pipelines: ok only when the signed chain and every row verify (and the anchor, when given, is still in
    the chain), and the generation's last decision is an approval whose own signed event is there and whose
    synthetic file hash still matches."""
    from core.store.integrity import verify_store

    generation = session.get(Generation, generation_id)
    if generation is None:
        return False, f"generation {generation_id} not found"
    check = verify_store(session, anchor)
    if not check.ok:
        return False, f"the store does not verify, so no approval in it is trusted: {check.reason}"
    ok, reason = _approved_by_signed_event(session, generation_id)
    if not ok:
        return False, reason
    if (current_sha256 or "").lower() != generation.synthetic_sha256:
        return False, (f"synthetic file sha256 {current_sha256} does not match the approved "
                       f"{generation.synthetic_sha256}")
    return True, f"generation {generation_id} is approved and its synthetic file hash matches"


def _approved_by_signed_event(session: Session, generation_id: int) -> tuple[bool, str]:
    """Is the last decision an approval backed by its own signed audit event (state from the chain too)?"""
    from core.store.audit import audit_events

    state = generation_state(session, generation_id)
    if state != "approved":
        return False, f"generation {generation_id} is {state}, not approved"
    last = session.execute(select(Decision).where(Decision.generation_id == generation_id)
                           .order_by(Decision.id.desc()).limit(1)).scalar_one()
    events = audit_events(session, entity="decision", entity_id=last.id, action="decision.approved")
    signed = [e for e in audit_events(session, generation_id=generation_id) if e["action"].startswith("decision.")]
    if not events or events[0]["generation_id"] != generation_id:
        return False, f"decision {last.id} approving generation {generation_id} has no audit event of its own"
    if not signed or signed[-1]["entity_id"] != str(last.id):
        return False, f"the chain's last decision on generation {generation_id} is not decision {last.id}"
    return True, "approved by a signed decision"


__all__ = ["TEN_RULES", "ALL_RULES", "attestation_check", "counted_reviews", "Policy", "as_signoff_policy", "load_policy", "parse_policy", "SignoffRefused", "RuleCheck", "approval_checklist", "approve", "reject",
           "request_changes", "revoke", "gate_check", "generation_state", "StateError"]


def register_reviewed_generation(
    session: Session, *, real: LoadedTable, synthetic: LoadedTable, holdout: LoadedTable | None,
    manifest: Mapping[str, Any], created_by: str, report: Mapping[str, Any] | None = None,
    dataset_name: str | None = None, holdout_seed: int | None = None, holdout_fraction: float | None = None,
) -> int:
    """Register the real data, its holdout, the generation (manifest + file hashes) and its evaluation at once."""
    from core import __version__

    dataset = register_dataset_from_table(session, real, dataset_name or Path(real.path).name, created_by)
    holdout_id = None
    if holdout is not None:
        split = manifest.get("holdout", {}) if isinstance(manifest.get("holdout"), Mapping) else {}
        fraction = holdout_fraction or split.get("fraction") or holdout.rows / (holdout.rows + real.rows)
        holdout_id = register_holdout(
            session, dataset_id=dataset.id, sha256=holdout.sha256, rows=holdout.rows, created_by=created_by,
            seed=int(holdout_seed if holdout_seed is not None else split.get("seed", 0)),
            split_fraction=float(fraction), stratify_column=split.get("stratify"),
        ).id
    full = dict(manifest) | {
        "source_dataset_id": dataset.id, "holdout_id": holdout_id, "synthetic_sha256": synthetic.sha256,
        "rows": synthetic.rows,
    }
    full.setdefault("training_mix", {"real_rows": real.rows, "synthetic_rows": 0})
    full.setdefault("parameters", {})
    full.setdefault("library_versions", {})
    generation = register_generation(session, full, created_by=created_by)
    if report is not None:
        add_evaluation(session, generation.id, dict(report), tool_version=__version__, created_by=created_by)
    return generation.id


def relational_manifest(manifest: Mapping[str, Any], sides: Mapping[str, Any], metadata) -> dict[str, Any]:
    """A relational generation's manifest: every side's table file hashes (table_file_sha256) and the SDV
    multi-table metadata added; a training mix given per table ({table: rows}, as the relational demo
    records it) becomes its total, the per-table counts kept beside it (real_rows_by_table)."""
    out = dict(manifest, table_file_sha256={side: dict(t.file_sha256 or {}) for side, t in sides.items()},
               relational_metadata=metadata.to_sdv_dict())
    mix = out.get("training_mix")
    if isinstance(mix, Mapping):
        mix = dict(mix)
        for key in ("real_rows", "synthetic_rows"):
            if isinstance(mix.get(key), Mapping):
                mix[f"{key}_by_table"] = dict(mix[key])
                mix[key] = int(sum(int(v) for v in mix[key].values()))
        out["training_mix"] = mix
    return out


def register_dataset_from_table(session: Session, table: LoadedTable, name: str, created_by: str):
    """Record a loaded real table as a dataset version (name, content hash, rows, column dtypes)."""
    schema = {column: str(dtype) for column, dtype in table.frame.dtypes.items()}
    return register_dataset(session, name=name, sha256=table.sha256, rows=table.rows, schema=schema,
                            created_by=created_by)
