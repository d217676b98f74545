"""Empirical epsilon: exact Clopper-Pearson bounds, and the audit on memorising vs honest generators."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from core.checks.dp import audit_membership, claimed_privacy, empirical_epsilon_gate
from core.data.metadata import detect_metadata
from core.stats.epsilon import clopper_pearson, empirical_epsilon, epsilon_from_rates
from tests.conftest import three_way_split


@pytest.mark.parametrize("k,n", [(0, 50), (3, 50), (25, 50), (50, 50), (7, 1000)])
def test_clopper_pearson_equals_scipy_exact_interval(k, n):
    expected = binomtest(k, n).proportion_ci(0.95, method="exact")
    low, high = clopper_pearson(k, n, 0.95)
    assert low == pytest.approx(expected.low, abs=1e-12) and high == pytest.approx(expected.high, abs=1e-12)


def test_clopper_pearson_ends_have_closed_forms():
    n = 200
    assert clopper_pearson(0, n)[1] == pytest.approx(1 - 0.025 ** (1 / n))
    assert clopper_pearson(n, n)[0] == pytest.approx(0.025 ** (1 / n))


def test_epsilon_from_rates():
    assert epsilon_from_rates(0.5, 0.5) == 0.0
    assert epsilon_from_rates(0.3, 0.5) == 0.0
    assert epsilon_from_rates(0.9, 0.1) == pytest.approx(math.log(9))
    assert epsilon_from_rates(0.9, 0.1, delta=0.1) == pytest.approx(math.log(8))
    assert math.isinf(epsilon_from_rates(0.5, 0.0))


def test_randomised_response_bound_is_below_its_true_epsilon():
    """A mechanism with known epsilon: members answer 1 w.p. e^eps/(1+e^eps), non-members w.p. 1/(1+e^eps).
    The lower bound must stay below the true epsilon (in at least 95% of seeds) and be informative."""
    true_eps = 2.0
    p = math.exp(true_eps) / (1 + math.exp(true_eps))
    bounds = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        members = (rng.random(4000) < p).astype(float)
        others = (rng.random(4000) < 1 - p).astype(float)
        bounds.append(empirical_epsilon(members, others, seed=seed).epsilon_lower_bound)
    bounds = np.array(bounds)
    assert np.mean(bounds <= true_eps) >= 0.95
    assert np.median(bounds) > 1.5  # the attack is optimal here, so the bound is close to the truth


def test_no_signal_gives_a_bound_near_zero():
    rng = np.random.default_rng(3)
    audit = empirical_epsilon(rng.normal(size=3000), rng.normal(size=3000), seed=0)
    assert audit.epsilon_lower_bound < 0.2


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame.drop(columns=["target"])
    frame = frame.loc[:, frame.std() > 0].drop_duplicates().reset_index(drop=True)
    return frame


@pytest.mark.parametrize("table", ["digits", "penguins"])
def test_memorising_generator_fails_and_holdout_copies_do_not(table, digits, penguins):
    frame = digits if table == "digits" else penguins.dropna().drop_duplicates().reset_index(drop=True)
    train, holdout, _ = three_way_split(frame, seed=0, fractions=(0.5, 0.5))
    metadata = detect_metadata(train)
    memorised = audit_membership(train, train.copy(), holdout, metadata, claimed_epsilon=1.0, seed=0)
    assert memorised.audit.epsilon_lower_bound > 1.0
    gate = empirical_epsilon_gate(memorised)
    assert not gate.passed and gate.name == "empirical_epsilon"
    copies_of_holdout = audit_membership(train, holdout.copy(), holdout, metadata, claimed_epsilon=1.0, seed=0)
    assert copies_of_holdout.audit.epsilon_lower_bound < 0.1
    assert empirical_epsilon_gate(copies_of_holdout).passed


def test_without_a_claim_the_gate_is_informative(digits):
    train, holdout, _ = three_way_split(digits, seed=1, fractions=(0.5, 0.5))
    result = audit_membership(train, train.copy(), holdout, detect_metadata(train), seed=0)
    gate = empirical_epsilon_gate(result)
    assert gate.passed and not gate.judgeable and "informative" in gate.detail


def test_claimed_privacy_reads_the_manifest():
    assert claimed_privacy({"differential_privacy": {"epsilon": 1, "delta": 1e-6}}) == (1.0, 1e-6)
    assert claimed_privacy({"method": "GaussianCopulaSynthesizer", "parameters": {}}) == (None, None)
    assert claimed_privacy(None) == (None, None)


def test_report_audits_the_claimed_epsilon(digits):
    from core.data.io import prepare_inputs, table_from_frame
    from core.report import evaluate

    train, holdout, _ = three_way_split(digits.iloc[:, :12].drop_duplicates().reset_index(drop=True), seed=2,
                                        fractions=(0.5, 0.5))
    inputs = prepare_inputs(table_from_frame(train, "train"), table_from_frame(train.copy(), "synthetic"),
                            table_from_frame(holdout, "holdout"))
    claimed = evaluate(inputs, seed=0, manifest={"differential_privacy": {"epsilon": 1.0, "delta": 1e-6}})
    gate = next(g for g in claimed.gates if g.name == "empirical_epsilon")
    assert not gate.passed and gate.value > 1.0
    report = evaluate(inputs, seed=0).to_dict()
    assert "empirical_epsilon" not in [g["name"] for g in report["gates"]]  # informative without a claim
    assert report["privacy"]["empirical_epsilon"]["epsilon_lower_bound"] > 1.0
