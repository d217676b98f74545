"""The common gate test (as scikit-learn's test_common), driven by the gate registry.

Every registered gate is covered. The single-table gates (the fidelity, validity, privacy, utility and structure
families) are tested here: a fresh real sample (rows neither the training part nor the holdout holds) passes
every gate at 300 rows, 1,000 rows and full size on three real tables, and each gate's planted defect
(registered beside the others in benchmarks/calibration.py's DEFECTS, which the calibration benchmark runs over
many seeds and sizes) fails that gate. `pii_replay` judges only id, text and high-cardinality columns, so it
has three tables of its own that carry identifiers. The relational and sequence gates are judged on several
tables or on whole sequences, which one fresh sample cannot pose as: their clean controls and planted defects
live in the test modules LINKED names (and their calibration in benchmarks/relational_vs_sdmetrics.py
--controls and benchmarks/sequences.py). `lineage` is judged on a chain of generations, not against a
real-vs-real null: a chain retrained on real data passes, a recursive chain (synthetic data trained on
synthetic data) fails whatever its tail health (tests/core/test_lineage.py).
"""
from __future__ import annotations

import functools
import importlib
import math

import pytest

from benchmarks.calibration import DEFECTS, SINGLE_TABLE_GATES, TABLES, Parts, family, judge, split
from core.gates import REGISTRY

COMMON_TABLES = ("census", "flights", "weather")
ID_TABLES = ("planes", "airports", "penguins_raw")  # tables with identifier columns, for pii_replay
SIZES = (300, 1000, "full")
DEFECT_ROWS = 1000
# A planted defect is judged at the smallest size where it stands out of the null's spread on that table
# (the calibration benchmark reports every size): the memorising generator is provable on census only from
# full size (a quarter of its rows are natural duplicates, which the distance attack cannot tell from copies).
DEFECT_SIZE = {("census", "empirical_epsilon"): "full"}
# Gates one fresh single-table sample cannot exercise: (test module, its clean-control test, its planted-defect
# test). The relational gates are judged on parent and child tables, sequence_trends on whole sequences.
LINKED = {
    "referential_integrity": ("tests.core.test_relational_gates", "test_clean_control_passes_every_relational_gate",
                              "test_orphaned_rows_fail_referential_integrity"),
    "cardinality": ("tests.core.test_relational_gates", "test_clean_control_passes_every_relational_gate",
                    "test_wrong_cardinality_fails_cardinality"),
    "intertable_trends": ("tests.core.test_relational_gates", "test_clean_control_passes_every_relational_gate",
                          "test_children_dealt_to_wrong_parents_fail_intertable_trends"),
    "sequence_trends": ("tests.core.test_sequence", "test_clean_control_passes",
                        "test_order_shuffled_within_sequences_fails_on_lag1"),
    "lineage": ("tests.core.test_lineage", "test_demo_chains_recursive_is_warned_fresh_is_not",
                "test_demo_chains_recursive_is_warned_fresh_is_not"),
}


@functools.lru_cache(maxsize=None)
def _split(table: str):
    return split(TABLES[table].load(), 0)


def _parts(table: str, size) -> Parts:
    train, holdout, pool = _split(table)
    rows = len(pool) if size == "full" else min(size, len(pool))
    return Parts(train, holdout, pool.sample(rows, random_state=1).reset_index(drop=True), TABLES[table].target)


@functools.lru_cache(maxsize=None)
def _clean(table: str, size) -> dict:
    """Every gate on a fresh real sample (every single-table family, a claimed epsilon of 1)."""
    return judge(_parts(table, size))


def test_every_registered_gate_is_tested_here_or_in_a_named_module():
    assert set(SINGLE_TABLE_GATES) | set(LINKED) == set(REGISTRY)
    assert not set(SINGLE_TABLE_GATES) & set(LINKED)
    for gate, (module, clean, defect) in LINKED.items():
        tests = importlib.import_module(module)
        assert callable(getattr(tests, clean)) and callable(getattr(tests, defect)), gate
        assert REGISTRY[gate].family in ("relational", "lineage")


def test_every_single_table_gate_has_a_planted_defect():
    assert set(SINGLE_TABLE_GATES) <= set(DEFECTS), set(SINGLE_TABLE_GATES) - set(DEFECTS)
    for gate in SINGLE_TABLE_GATES:
        assert DEFECTS[gate].__doc__.startswith(f"{gate}: "), gate  # the benchmark's table names it so


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("table", COMMON_TABLES)
def test_fresh_real_sample_passes_every_gate(table, size):
    gates = _clean(table, size)
    expected = set(SINGLE_TABLE_GATES) - {"pii_replay"}  # no identifier column in these tables
    assert set(gates) == expected, expected ^ set(gates)
    failed = [f"{g.name}: {g.detail}" for g in gates.values() if not g.passed]
    assert not failed
    for gate in gates.values():
        if gate.name in ("coverage", "empirical_epsilon"):  # judged on presence / against the claimed epsilon
            continue
        if gate.name == "missing_values" and "no missing values" in gate.detail:  # census: nothing to judge
            continue
        assert gate.null_median is not None and gate.floor is not None and gate.tail_probability is not None, \
            gate.name


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("table", ID_TABLES)
def test_fresh_real_sample_passes_pii_replay(table, size):
    train, _, pool = _split(table)
    if size != "full" and size >= len(pool):
        pytest.skip(f"{table}: its fresh pool has {len(pool)} rows")
    gates = judge(_parts(table, size), families=("structure",), gate="pii_replay")
    assert "pii_replay" in gates and gates["pii_replay"].passed, gates["pii_replay"].detail
    assert gates["pii_replay"].null_median is not None


def _defect_cases():
    for gate in SINGLE_TABLE_GATES:
        for table in ID_TABLES if gate == "pii_replay" else COMMON_TABLES:
            yield table, gate


@pytest.mark.parametrize("table, gate", list(_defect_cases()))
def test_planted_defect_fails_its_gate(table, gate):
    parts = _parts(table, DEFECT_SIZE.get((table, gate), DEFECT_ROWS))
    judged = judge(parts, DEFECTS[gate](parts, 0), families=(family(gate),), gate=gate)
    assert gate in judged, f"{gate} does not apply to {table}"
    assert not judged[gate].passed, judged[gate].detail
    assert math.isfinite(judged[gate].value)
