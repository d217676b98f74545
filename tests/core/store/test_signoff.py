"""Sign-off rules: every refusal names its rule; a clean approval lands with a reproducible evidence hash."""
from __future__ import annotations

import pytest

from store_testkit import sha
from core.policy import load_policy, parse_policy
from core.review.signoff import (
    ALL_RULES,
    SignoffRefused,
    approval_checklist,
    approve,
    gate_check,
    reject,
    request_changes,
    revoke,
)
from core.errors import PolicyError
from core.store import (
    StateError,
    audit_events,
    export_evidence_bundle,
    generation_detail,
    generation_state,
    list_generations,
    read_session,
    session_scope,
    start_review,
    verify_chain,
)


def _approve(world, policy, signer=None, waivers=None, sha256=None, generation_id=None, attested=ALL_RULES):
    with session_scope(world.engine) as s:
        d = approve(s, generation_id or world.generation_id, signer or world.approver, "looks right", waivers,
                    sha256 or world.synthetic_sha256, policy, attested_rules=attested)
        return d.id, d.evidence_sha256


def _refused(world, policy, rule, match, **kwargs):
    with pytest.raises(SignoffRefused) as info:
        _approve(world, policy, **kwargs)
    assert info.value.rule == rule, info.value.refusals
    assert match in info.value.message
    assert f"refused by rule '{rule}'" in str(info.value)
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) != "approved"


def test_clean_approval(world, policy):
    world.review(world.reviewer, records_read=250)
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) == "in_review"
    decision_id, evidence = _approve(world, policy)
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) == "approved"
        assert gate_check(s, world.generation_id, world.synthetic_sha256)[0] is True
        ok, reason = gate_check(s, world.generation_id, sha("other file"))
        assert not ok and "does not match" in reason
        detail = generation_detail(s, world.generation_id)
        assert detail.decisions[0]["policy_toml"] == policy.text
        assert detail.decisions[0]["evidence_sha256"] == evidence
        bundle = export_evidence_bundle(s, world.generation_id)
        assert bundle["decisions"][0]["evidence_matches"] is True
        assert bundle["state"] == "approved"
        actions = [e["action"] for e in audit_events(s, generation_id=world.generation_id)]
        assert actions == ["generation.register", "evaluation.add", "review.start", "review.submit",
                           "decision.approved"]
        assert verify_chain(s).ok


def test_refused_too_few_records_read(world, policy):
    world.review(world.reviewer, records_read=150)
    _refused(world, policy, "min_records_read", "150 records read in submitted reviews; policy asks for 200")


def test_draft_reviews_do_not_count(world, policy):
    with session_scope(world.engine) as s:
        start_review(s, world.generation_id, world.reviewer)
    _refused(world, policy, "required_reviewers", "0 distinct reviewer(s)")


def test_refused_failed_gate_without_waiver(world, policy):
    world.review(world.reviewer)
    world.evaluate([("privacy", False), ("fidelity", True)])  # the latest report counts
    _refused(world, policy, "gate_failed", "gate 'privacy' failed and has no waiver")
    _refused(world, policy, "gate_failed", "its waiver gives no reason", waivers=[{"gate": "privacy", "reason": " "}])
    strict = parse_policy(policy.text.replace("allow_waivers = true", "allow_waivers = false"), "strict")
    _refused(world, strict, "gate_failed", "allows no waivers", waivers=[{"gate": "privacy", "reason": "ok"}])
    _refused(world, policy, "waivers", "waiver for gate 'fidelity' but that gate passed",
             waivers=[{"gate": "privacy", "reason": "DCR share 5.2%, accepted by DPO"},
                      {"gate": "fidelity", "reason": "x"}])
    _approve(world, policy, waivers=[{"gate": "privacy", "reason": "DCR share 5.2%, accepted by DPO"}])
    with read_session(world.engine) as s:
        assert generation_detail(s, world.generation_id).decisions[0]["waivers"] == [
            {"gate": "privacy", "reason": "DCR share 5.2%, accepted by DPO"}]


def test_refused_four_eyes(world, policy):
    world.review(world.reviewer)
    with session_scope(world.engine) as s:
        from core.review.auth import set_role

        set_role(s, world.creator, "approver", actor=world.admin)
    _refused(world, policy, "four_eyes", f"created by '{world.creator}'", signer=world.creator)


def test_refused_signer_without_approver_role(world, policy):
    world.review(world.reviewer)
    _refused(world, policy, "role", "approving needs 'approver'", signer=world.reviewer2)
    _refused(world, policy, "role", "has role 'viewer'", signer=world.viewer)


def test_refused_synthetic_file_changed(world, policy):
    world.review(world.reviewer)
    _refused(world, policy, "synthetic_hash", "current file sha256", sha256=sha("edited file"))


def test_refused_too_few_reviewers(world, policy):
    two = parse_policy("[review]\nmin_records_read = 100\nrequired_reviewers = 2\n", "two reviewers")
    world.review(world.reviewer, records_read=300)
    # names as text, not a Python list ("submitted ['reviewer-...']" on the Sign-off checklist)
    _refused(world, two, "required_reviewers",
             f"1 distinct reviewer(s) other than the creator submitted: {world.reviewer}; policy asks for 2")
    world.review(world.reviewer2, records_read=10)
    _approve(world, two)


def test_refused_without_evaluation(world, policy):
    gen_id, gen_sha = world.new_generation()
    world.review(world.reviewer, generation_id=gen_id)
    with pytest.raises(SignoffRefused) as info:
        _approve(world, policy, generation_id=gen_id, sha256=gen_sha)
    assert info.value.rule == "evaluation"


def test_checklist_lists_every_broken_rule(world, policy):
    with read_session(world.engine) as s:
        checks = approval_checklist(s, world.generation_id, world.viewer, None, sha("x"), policy)
    failed = {c.rule for c in checks if not c.passed}
    assert failed == {"role", "synthetic_hash", "required_reviewers", "min_records_read", "attestation"}


def test_reject_request_changes_revoke(world, policy):
    world.review(world.reviewer)
    with session_scope(world.engine) as s, pytest.raises(SignoffRefused) as info:
        revoke(s, world.generation_id, world.approver, "no", policy)
    assert info.value.rule == "state" and "revoked needs one of approved" in info.value.message
    with session_scope(world.engine) as s, pytest.raises(SignoffRefused) as info:
        request_changes(s, world.generation_id, world.approver, "", policy)
    assert info.value.rule == "comment"
    with session_scope(world.engine) as s:
        request_changes(s, world.generation_id, world.approver, "too many ages above 120", policy)
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) == "changes_requested"
    _refused(world, policy, "required_reviewers", "0 distinct reviewer(s)")  # round 1 reviews no longer count
    world.review(world.reviewer)  # round 2, same reviewer
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) == "in_review"
        assert [r["round"] for r in generation_detail(s, world.generation_id).reviews] == [1, 2]
    _approve(world, policy)
    with session_scope(world.engine) as s, pytest.raises(SignoffRefused) as info:
        reject(s, world.generation_id, world.approver, "late", policy)
    assert info.value.rule == "state"
    with session_scope(world.engine) as s, pytest.raises(SignoffRefused) as info:
        revoke(s, world.generation_id, world.reviewer, "no", policy)
    assert info.value.rule == "role"
    with session_scope(world.engine) as s:
        revoke(s, world.generation_id, world.approver, "source consent withdrawn", policy)
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) == "revoked"
        ok, reason = gate_check(s, world.generation_id, world.synthetic_sha256)
        assert not ok and "revoked" in reason
        assert [d["kind"] for d in generation_detail(s, world.generation_id).decisions] == [
            "changes_requested", "approved", "revoked"]
    with session_scope(world.engine) as s, pytest.raises(StateError):
        start_review(s, world.generation_id, world.reviewer2)


def test_reject_is_final(world, policy):
    with session_scope(world.engine) as s:
        reject(s, world.generation_id, world.approver, "memorises rare rows", policy)
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) == "rejected"
        assert gate_check(s, world.generation_id, world.synthetic_sha256)[0] is False
        assert [g.id for g in list_generations(s, dataset_id=world.dataset_id, state="rejected")] == [
            world.generation_id]
    with pytest.raises(SignoffRefused) as info:
        _approve(world, policy)
    assert info.value.rule == "state"


def test_gate_check_unknown_and_unapproved(world):
    with read_session(world.engine) as s:
        assert gate_check(s, 10**9, world.synthetic_sha256) == (False, f"generation {10**9} not found")
        ok, reason = gate_check(s, world.generation_id, world.synthetic_sha256)
        assert not ok and "draft" in reason


def test_policy_parsing():
    p = parse_policy("[gates.column_shapes]\nthreshold = 0.7\n", "p.toml")
    assert (p.min_records_read, p.required_reviewers, p.allow_waivers) == (200, 1, True)
    assert p.gate("column_shapes") == 0.7
    assert "threshold = 0.7" in p.text and "min_records_read = 200" in p.text  # the whole policy is stored
    for bad in ("[review]\nmin_records_read = -1", "[review]\nrequired_reviewers = 0",
                "[review]\nallow_waivers = 'yes'", "x = ["):
        with pytest.raises(PolicyError):
            parse_policy(bad, "bad.toml")
    assert load_policy().min_records_read == 200
    review_table = parse_policy("[review]\nmin_records_read = 50\nrequired_reviewers = 2\n", "r.toml")
    assert (review_table.min_records_read, review_table.required_reviewers) == (50, 2)


def test_core_policy_is_accepted(world):
    from core.policy import load_policy

    world.review(world.reviewer, records_read=250)
    with session_scope(world.engine) as s:
        d = approve(s, world.generation_id, world.approver, "ok", None, world.synthetic_sha256, load_policy(),
                    attested_rules=ALL_RULES)
        assert "[review]" in d.policy_toml and "[gates.column_shapes]" in d.policy_toml


def test_creator_review_never_counts_toward_reviewers_or_records(world, policy):
    two = parse_policy("[review]\nmin_records_read = 100\nrequired_reviewers = 2\n", "two reviewers")
    world.review(world.creator, records_read=300)  # the creator reviews their own generation
    world.review(world.reviewer, records_read=50)
    _refused(world, two, "required_reviewers", "the creator's own review is not counted")
    with read_session(world.engine) as s:
        checks = {c.rule: c for c in approval_checklist(s, world.generation_id, world.approver, None,
                                                         world.synthetic_sha256, two, attested_rules=ALL_RULES)}
    assert not checks["min_records_read"].passed and "50 records read" in checks["min_records_read"].message
    world.review(world.reviewer2, records_read=50)
    _approve(world, two)


def test_approval_refused_without_all_ten_rules_attested(world, policy):
    world.review(world.reviewer, records_read=250)
    _refused(world, policy, "attestation", "9 of 10 rules confirmed; not confirmed: 6",
             attested=[1, 2, 3, 4, 5, 7, 8, 9, 10])
    _refused(world, policy, "attestation", "0 of 10 rules confirmed; not confirmed: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
             attested=None)
    _refused(world, policy, "attestation", "rule number(s) 11 do not exist", attested=list(ALL_RULES) + [11])
    _approve(world, policy)
    with read_session(world.engine) as s:
        assert "Signer confirmed the ten rules" in generation_detail(s, world.generation_id).decisions[-1]["comment"]


def test_review_work_counts_distinct_records_and_checks_the_flag_vocabulary(world):
    from core.errors import UsageError
    from core.review.records import save_review_work

    with session_scope(world.engine) as s:
        stored = save_review_work(s, world.generation_id, world.reviewer, read_positions=[1, 2, 2, 3, 3, 3],
                                  flags={9: {"reason": "privacy risk", "note": "copy"}}, rows={9: {"age": "41"}},
                                  comment="read", submit=True)
        assert stored.records_read == 4  # rows 1, 2, 3 and the flagged row 9, each once
        assert [(n.row_id, n.flag) for n in stored.notes] == [("9", "privacy_risk")]
    with session_scope(world.engine) as s, pytest.raises(UsageError, match="flag 'ugly'"):
        save_review_work(s, world.generation_id, world.reviewer2, read_positions=[1],
                         flags={1: {"reason": "ugly"}}, rows={1: {"age": "1"}})


def test_a_revoke_needs_its_own_reason_not_the_approvals_comment(world, policy):
    # Sign-off page: after approving, the comment box kept "looks right" and one more click revoked the
    # approval with the approval's own comment as its reason.
    world.review(world.reviewer, records_read=250)
    _approve(world, policy)
    for reused in ("looks right", "  looks right\n", "looks right\nSigner confirmed the ten rules (1-10)."):
        with session_scope(world.engine) as s, pytest.raises(SignoffRefused) as info:
            revoke(s, world.generation_id, world.approver, reused, policy)
        assert info.value.rule == "comment" and "its own reason" in info.value.message
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) == "approved"
    with session_scope(world.engine) as s:
        revoke(s, world.generation_id, world.approver, "source consent withdrawn", policy)
    with read_session(world.engine) as s:
        assert generation_state(s, world.generation_id) == "revoked"
