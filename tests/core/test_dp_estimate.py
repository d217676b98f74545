"""The NumPy graphical-model estimate under MST and AIM against mbi's JAX one on the same measurements, its
sampler against the model's marginals, and AIM's privacy budget added up from its ledger."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from mbi import CliqueVector, Domain, Factor, LinearMeasurement, estimation, marginal_oracles
from snsynth.utils import cdp_rho

from core.data.metadata import detect_metadata
from core.generate.aim import FastAIMSynthesizer, ledger_rho
from core.generate.dp import DPSettings, fit_and_sample_dp
from core.generate.estimate import Measurements, NumpyModel, mirror_descent

DOMAIN = Domain(["a", "b", "c", "d", "e"], [3, 4, 2, 5, 3])
CLIQUES = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("e",), ("b", "e")]  # a cycle: a real junction tree


def _potentials(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {cl: rng.normal(size=DOMAIN.project(cl).shape) for cl in CLIQUES}


def _mbi_potentials(potentials: dict) -> CliqueVector:
    return CliqueVector(DOMAIN, list(potentials), {cl: Factor(DOMAIN.project(cl), jnp.asarray(v))
                                                   for cl, v in potentials.items()})


def test_marginals_match_mbi_message_passing_and_elimination():
    potentials = _potentials()
    model = NumpyModel(DOMAIN, potentials, 100.0)
    reference = marginal_oracles.message_passing_stable(_mbi_potentials(potentials), 100.0)
    for clique in CLIQUES:
        assert np.allclose(model.project(clique).values, np.asarray(reference[clique].values), atol=1e-9)
    for clique in [("a", "c", "e"), ("d", "e")]:  # in no junction-tree node: variable elimination
        expected = marginal_oracles.variable_elimination(_mbi_potentials(potentials), clique, 100.0)
        assert np.allclose(model.project(clique).values, np.asarray(expected.values), atol=1e-9)


def test_mirror_descent_matches_mbi_on_the_same_measurements():
    rng = np.random.default_rng(1)
    truth = rng.dirichlet(np.ones(DOMAIN.size())).reshape(DOMAIN.shape) * 1000
    log, linear = [], []
    for clique in [(a,) for a in DOMAIN.attributes] + CLIQUES + [("a", "b")]:  # ("a", "b") measured twice
        axes = tuple(i for i, a in enumerate(DOMAIN.attributes) if a not in clique)
        y = truth.sum(axis=axes).ravel() + rng.normal(scale=5.0, size=DOMAIN.size(clique))
        log.append((clique, y, 5.0))
        linear.append(LinearMeasurement(jnp.asarray(y), clique, 5.0))
    expected = estimation.mirror_descent(DOMAIN, linear, iters=300,
                                         marginal_oracle=marginal_oracles.message_passing_stable)
    got = mirror_descent(DOMAIN, Measurements.from_log(DOMAIN, log), iters=300)
    assert got.total == pytest.approx(float(expected.total), rel=1e-12)
    for clique in [("a", "b"), ("b", "c"), ("a", "c"), ("d", "e")]:
        want = np.asarray(expected.project(clique).datavector())
        assert np.abs(got.project(clique).datavector() - want).sum() / want.sum() < 1e-6
    # mbi's LinearMeasurements are read the same way as (clique, y, sigma) entries
    again = Measurements.from_log(DOMAIN, linear)
    assert again.total == got.total and set(again.precision) == set(got.potentials) | {("a",), ("b",), ("c",),
                                                                                           ("d",), ("e",)}


def test_sampler_reproduces_the_model_marginals_where_mbis_misses_the_fill_in():
    """On a cyclic model (a-b-c-d-a), drawing each column given its junction-tree neighbours keeps every
    marginal; mbi's sampler conditions on the model's cliques only and misses the chord's dependence."""
    from mbi import MarkovRandomField

    model = NumpyModel(DOMAIN, _potentials(2), 20_000.0)

    def errors(source) -> dict:
        np.random.seed(0)
        sample = source.synthetic_data(20_000)
        assert sample.records == 20_000
        return {cl: np.abs(np.asarray(sample.project(cl).datavector()) - model.project(cl).datavector()).sum()
                / 20_000 for cl in CLIQUES}

    ours = errors(model)
    marginals = CliqueVector(DOMAIN, CLIQUES, {cl: Factor(DOMAIN.project(cl), jnp.asarray(model.project(cl).values))
                                               for cl in CLIQUES})
    mbi = errors(MarkovRandomField(potentials=_mbi_potentials(model.potentials), marginals=marginals, total=20_000.0))
    assert max(ours.values()) < 0.005, ours
    assert max(mbi.values()) > 0.05, mbi


def test_aim_spends_exactly_its_budget(penguins):
    """AIM on a small table: the zCDP its ledger adds up (one-way measurements, every selection and every
    measurement, including the last round that takes what is left) is the rho of (epsilon, delta)."""
    train = penguins.dropna()[["species", "island", "sex", "body_mass_g"]].reset_index(drop=True)
    synthetic, manifest = fit_and_sample_dp(train, detect_metadata(train), 200, seed=0,
                                            settings=DPSettings(method="AIM", epsilon=0.5,
                                                                public_bounds={"body_mass_g": (2500.0, 6500.0)}))
    parameters = manifest["parameters"]
    delta = manifest["differential_privacy"]["delta"]
    assert parameters["zcdp_rho"] == pytest.approx(cdp_rho(0.5, delta), rel=1e-12)
    assert parameters["zcdp_rho_spent"] == pytest.approx(parameters["zcdp_rho"], rel=1e-9)
    assert 1 <= parameters["rounds_run"] <= parameters["rounds"]
    assert list(synthetic.columns) == list(train.columns) and len(synthetic) == 200


def test_aim_ledger_counts_each_round(penguins):
    """Each round logs one selection and one measurement; the one-way measurements come first."""
    from snsynth.transform import BinTransformer, LabelTransformer

    train = penguins.dropna()[["species", "island", "body_mass_g"]].astype({"body_mass_g": float})
    transformers = {"species": LabelTransformer(), "island": LabelTransformer(),
                    "body_mass_g": BinTransformer(bins=8, lower=2500.0, upper=6500.0)}
    np.random.seed(0)
    synthesizer = FastAIMSynthesizer(epsilon=1.0, delta=1e-5, rounds=12, round_iters=50, final_iters=100)
    synthesizer.fit(train.reset_index(drop=True), transformer=transformers)
    steps = [entry["step"] for entry in synthesizer.privacy_ledger]
    assert steps[:3] == ["measure"] * 3
    assert steps[3:] == ["select", "measure"] * synthesizer.rounds_run
    assert ledger_rho(synthesizer.privacy_ledger) == pytest.approx(synthesizer.rho, rel=1e-9)
