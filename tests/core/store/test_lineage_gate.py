"""The lineage gate joins approval: a generation fitted recursively on synthetic output needs a waiver."""
from __future__ import annotations

import pytest

from core.policy import load_policy
from core.review.signoff import SignoffRefused, approve, generation_gates
from core.store import session_scope


def _child(world, parent_id: int, real_rows: int, synthetic_rows: int) -> int:
    """A generation whose manifest names `parent_id` and its training mix (tables not kept: no rebuild)."""
    from core.store import register_generation

    with session_scope(world.engine) as s:
        manifest = {"method": "GaussianCopulaSynthesizer", "parameters": {}, "seed": 1, "library_versions": {},
                    "source_dataset_id": world.dataset_id, "synthetic_sha256": "a" * 64, "rows": 100,
                    "parent_generation_id": parent_id,
                    "training_mix": {"real_rows": real_rows, "synthetic_rows": synthetic_rows}}
        return register_generation(s, manifest, created_by=world.creator).id


def test_root_generation_has_no_lineage_gate(world):
    with session_scope(world.engine) as s:
        assert all(g["name"] != "lineage" for g in generation_gates(s, world.generation_id, load_policy()))


def test_child_whose_chain_cannot_be_rebuilt_needs_a_waiver(world):
    child = _child(world, world.generation_id, real_rows=0, synthetic_rows=100)
    with session_scope(world.engine) as s:
        gate = next(g for g in generation_gates(s, child, load_policy()) if g["name"] == "lineage")
    assert not gate["passed"] and "cannot be rebuilt" in gate["detail"]
    world.evaluate([("column_shapes", True)], generation_id=child)
    world.review(world.reviewer, records_read=250, generation_id=child)
    with session_scope(world.engine) as s, pytest.raises(SignoffRefused, match="gate 'lineage' failed"):
        approve(s, child, world.approver, "ok", None, "a" * 64, load_policy(), attested_rules=range(1, 11))
    with session_scope(world.engine) as s:
        decision = approve(s, child, world.approver, "ok", [{"gate": "lineage", "reason": "parent chain archived"}],
                           "a" * 64, load_policy(), attested_rules=range(1, 11))
        assert decision.kind == "approved"
