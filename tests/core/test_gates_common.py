"""The common gate test (as scikit-learn's test_common): driven by the gate registry, for every gate.

Every gate the report emits on these tables must have a planted defect registered in
benchmarks/calibration.py's DEFECTS; a fresh real sample (rows neither the training part nor the holdout
holds) passes every calibrated gate at 300 rows, 1,000 rows and full size on three real tables, and each
gate's planted defect fails that gate.
"""
from __future__ import annotations

import functools

import pytest

from benchmarks.calibration import DEFECTS, TABLES, judge, split
from core.gates import REGISTRY

COMMON_TABLES = ("census", "flights", "weather")
SIZES = (300, 1000, "full")
CALIBRATED = [name for name, spec in REGISTRY.items() if spec.family in ("fidelity", "validity")]


@functools.lru_cache(maxsize=None)
def _parts(table: str, seed: int = 0):
    train, holdout, pool = split(TABLES[table](), seed)
    return train, holdout, pool


def _fresh(table: str, size):
    train, holdout, pool = _parts(table)
    rows = len(pool) if size == "full" else size
    return train, holdout, pool.sample(rows, random_state=1).reset_index(drop=True)


def test_every_fidelity_and_validity_gate_has_a_planted_defect():
    assert set(CALIBRATED) <= set(DEFECTS), set(CALIBRATED) - set(DEFECTS)


@pytest.mark.parametrize("table", COMMON_TABLES)
def test_every_emitted_gate_is_registered_and_has_a_defect(table):
    train, holdout, fresh = _fresh(table, 300)
    emitted = set(judge(train, holdout, fresh))
    assert emitted <= set(REGISTRY)
    assert emitted <= set(DEFECTS), f"gates without a planted defect: {emitted - set(DEFECTS)}"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("table", COMMON_TABLES)
def test_fresh_real_sample_passes_every_gate(table, size):
    train, holdout, fresh = _fresh(table, size)
    gates = judge(train, holdout, fresh)
    assert {"column_shapes", "column_pair_trends", "validity"} <= set(gates)
    failed = [f"{g.name}: {g.detail}" for g in gates.values() if not g.passed]
    assert not failed
    for gate in gates.values():
        if gate.name != "coverage":  # coverage judges presence; its null is 'present' by construction
            assert gate.null_median is not None and gate.floor is not None and gate.tail_probability is not None


@pytest.mark.parametrize("gate", CALIBRATED)
@pytest.mark.parametrize("table", COMMON_TABLES)
def test_planted_defect_fails_its_gate(table, gate):
    train, holdout, fresh = _fresh(table, 1000)
    planted = DEFECTS[gate](train, fresh, 0)
    judged = judge(train, holdout, planted)
    assert gate in judged, f"{gate} does not apply to {table}"
    assert not judged[gate].passed, judged[gate].detail
