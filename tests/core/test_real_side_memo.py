"""Real-only work shared across synthetic tables (core/stats/memo.py): the same report as without sharing, the
real side computed once, and a fresh computation when a synthetic table changes a real-side input."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.data.io import prepare_inputs, table_from_frame
from core.report import evaluate
from core.stats.memo import fingerprint, real_side, shared_real_side
from tests.conftest import three_way_split

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tables(census):
    train, holdout, fresh = three_way_split(census.head(3000), seed=0, fractions=(0.5, 0.25))
    noisy = fresh.copy()
    noisy["age"] = noisy["age"].sample(frac=1.0, random_state=1).to_numpy()  # a worse generator
    return train, holdout, [fresh, noisy]


def _report(train, holdout, synthetic) -> dict:
    inputs = prepare_inputs(table_from_frame(train, "train"), table_from_frame(synthetic, "synthetic"),
                            table_from_frame(holdout, "holdout"))
    report = evaluate(inputs, privacy=True, seed=0, target="income_gt_50k", utility_extras=False).to_dict()
    report["privacy"]["distance"].pop("nearest_search", None)  # search timings differ run to run
    return report


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def test_shared_real_side_gives_the_same_reports_and_computes_real_work_once(tables):
    train, holdout, synthetics = tables
    alone = [_report(train, holdout, s) for s in synthetics]
    with shared_real_side() as store:
        shared = [_report(train, holdout, synthetics[0])]
        real_keys = {k for k in store if k[0] == "utility run" or "membership_null" in str(k[:2])}
        shared.append(_report(train, holdout, synthetics[1]))
        after = {k for k in store if k[0] == "utility run" or "membership_null" in str(k[:2])}
    assert real_keys and after == real_keys  # the second table reused every real-only run and null
    for a, b in zip(alone, shared):
        assert _same(a["gates"], b["gates"]) and _same(a["privacy"], b["privacy"]) and _same(a["utility"], b["utility"])


def test_a_changed_real_side_input_is_computed_afresh():
    calls = []

    @real_side
    def total(values: np.ndarray, frame: pd.DataFrame) -> float:
        calls.append(1)
        return float(values.sum() + len(frame))

    frame = pd.DataFrame({"c": pd.Categorical(["a", "b"], categories=["a", "b"])})
    wider = frame.astype({"c": pd.CategoricalDtype(["a", "b", "(missing)"])})  # same values, one more category
    with shared_real_side():
        assert total(np.arange(3), frame) == total(np.arange(3), frame) == 5.0
        assert len(calls) == 1
        total(np.arange(3), wider)
        total(np.arange(4), frame)
        assert len(calls) == 3
    total(np.arange(3), frame)  # outside the block nothing is kept
    assert len(calls) == 4
    assert fingerprint(frame) != fingerprint(wider)
