"""What changed since the last approval: the diff names a changed parameter and a changed score."""
from __future__ import annotations

from core.review.changes import changes_since_last_approval
from core.review.signoff import ALL_RULES, approve
from core.store import session_scope


def _approve(world, policy, generation_id, sha256):
    world.review(world.reviewer, generation_id=generation_id)
    with session_scope(world.engine) as s:
        approve(s, generation_id, world.approver, "fine", None, sha256, policy, attested_rules=ALL_RULES)


def test_first_generation_has_nothing_to_compare(world):
    with session_scope(world.engine) as s:
        changes = changes_since_last_approval(s, world.generation_id)
    assert changes.base_generation_id is None and "nothing to compare" in changes.summary


def test_diff_names_changed_parameter_epsilon_and_score(world, policy):
    _approve(world, policy, world.generation_id, world.synthetic_sha256)
    new_id, _ = world.new_generation(parameters={"default_distribution": "norm"}, seed=8,
                                     differential_privacy={"epsilon": 1.0, "delta": 1e-6})
    world.evaluate([("privacy", False), ("fidelity", True)], generation_id=new_id)
    with session_scope(world.engine) as s:
        changes = changes_since_last_approval(s, new_id)
    assert changes.base_generation_id == world.generation_id
    by_field = {c.field: c for c in changes.fields}
    assert by_field["parameters.default_distribution"].before == "beta"
    assert by_field["parameters.default_distribution"].after == "norm"
    assert (by_field["seed"].before, by_field["seed"].after) == (7, 8)
    assert (by_field["epsilon"].before, by_field["epsilon"].after) == (None, 1.0)
    assert "method" in changes.unchanged_fields and "source_data_sha256" in changes.unchanged_fields
    privacy = next(g for g in changes.gates if g.name == "privacy")
    assert privacy.passed_before is True and privacy.passed_after is False and privacy.verdict_changed
    assert not next(g for g in changes.gates if g.name == "fidelity").verdict_changed
    assert "privacy" in changes.summary and changes.to_dict()["gates"][0]["name"] == "privacy"


def test_unapproved_generations_are_not_a_base(world):
    new_id, _ = world.new_generation(seed=9)
    with session_scope(world.engine) as s:
        assert changes_since_last_approval(s, new_id).base_generation_id is None


def test_exported_bundle_and_report_say_what_changed(world, policy):
    from core.review.export import evidence_report_html, export_bundle

    _approve(world, policy, world.generation_id, world.synthetic_sha256)
    new_id, _ = world.new_generation(parameters={"default_distribution": "gamma"})
    world.evaluate([("privacy", False), ("fidelity", True)], generation_id=new_id)
    with session_scope(world.engine) as s:
        bundle = export_bundle(s, new_id, actor=world.reviewer)
    changes = bundle["changes_since_last_approval"]
    assert changes["base_generation_id"] == world.generation_id
    assert "parameters.default_distribution" in [c["field"] for c in changes["fields"]]
    page = evidence_report_html(bundle)
    assert "What changed since the last approval" in page and "parameters.default_distribution" in page
    assert "gamma" in page and "FAIL" in page
