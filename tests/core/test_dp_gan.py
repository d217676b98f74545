"""DP-CTGAN through the DP path: the right schema, a manifest whose account adds up to the claimed epsilon,
epochs capped to what the training epsilon affords, noised category frequencies; PATE-CTGAN refused."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli import main
from core.data.metadata import detect_metadata
from core.errors import UsageError
from core.generate.dp import DPSettings, fit_and_sample_dp
from core.generate.dpgan import dpsgd_epsilon, epochs_within, privatize_frequencies

pytestmark = pytest.mark.slow
BOUNDS = {"bill_length_mm": (25.0, 65.0), "bill_depth_mm": (10.0, 25.0), "flipper_length_mm": (160.0, 240.0),
          "body_mass_g": (2500.0, 6500.0), "year": (2007.0, 2009.0)}


@pytest.fixture(scope="module")
def generated(penguins):
    metadata = detect_metadata(penguins)
    settings = DPSettings(method="DPCTGAN", epsilon=1.0, public_bounds=BOUNDS, epochs=50, batch_size=64)
    return fit_and_sample_dp(penguins, metadata, 150, seed=0, settings=settings)


def test_dpctgan_table_has_the_training_schema(generated, penguins):
    synthetic, _ = generated
    assert list(synthetic.columns) == list(penguins.columns) and len(synthetic) == 150
    assert set(synthetic["species"].dropna()) <= set(penguins["species"])
    assert synthetic["body_mass_g"].dropna().between(2500, 6500).all()
    assert synthetic["year"].dtype == penguins["year"].dtype


def test_dpctgan_manifest_claims_epsilon_and_its_parts_add_up(generated, penguins):
    _, manifest = generated
    dp, parameters = manifest["differential_privacy"], manifest["parameters"]
    assert manifest["method"].startswith("DPCTGAN") and dp["epsilon"] == 1.0
    assert dp["epsilon_for_bounds"] == 0.0 and dp["epsilon_for_category_frequencies"] == pytest.approx(0.1)
    assert dp["epsilon_for_training"] == pytest.approx(0.9)
    # the epochs run are the most the training epsilon affords (fewer than the 50 asked for), never more
    assert 1 <= parameters["epochs_run"] < parameters["epochs"] == 50
    assert dp["epsilon_spent_by_training"] <= dp["epsilon_for_training"]
    assert dpsgd_epsilon(len(penguins), 64, 5.0, parameters["epochs_run"] + 1, dp["delta"]) > dp["epsilon_for_training"]
    assert "category frequencies" in dp["covered_by_epsilon"] and "one-hot" in dp["preprocessing"]
    assert manifest["library_versions"]["opacus"] == "0.14.0"


def test_epochs_within_is_the_largest_affordable_count():
    cost = [dpsgd_epsilon(2000, 100, 2.0, e, 1e-5) for e in range(0, 12)]
    assert cost[0] == 0.0 and all(a < b for a, b in zip(cost, cost[1:]))
    assert epochs_within(cost[7], 2000, 100, 2.0, 1e-5, requested=100) == 7
    assert epochs_within(cost[7], 2000, 100, 2.0, 1e-5, requested=3) == 3
    assert epochs_within(cost[1] / 2, 2000, 100, 2.0, 1e-5, requested=100) == 0


def test_category_frequencies_are_noised_not_copied():
    """The sampler's frequencies move by Laplace noise of the stated scale, and stay a distribution."""
    from snsynth.pytorch.nn.ctgan.data_sampler import DataSampler
    from snsynth.transform import ChainTransformer, LabelTransformer, OneHotEncoder, TableTransformer

    rng = np.random.default_rng(0)
    values = [(str(v),) for v in rng.choice(["a", "b", "c"], size=3000, p=[0.6, 0.3, 0.1])]
    table = TableTransformer([ChainTransformer([LabelTransformer(), OneHotEncoder()])])
    encoded = np.array(table.fit_transform(values), dtype=float)
    sampler = DataSampler(encoded, table.transformers)
    exact = sampler.discrete_column_category_prob[0].copy()
    assert privatize_frequencies(sampler, epsilon=0.05) == 0.05
    noisy = sampler.discrete_column_category_prob[0]
    assert noisy.sum() == pytest.approx(1.0) and (noisy > 0).all()
    assert not np.allclose(noisy, exact)
    assert np.abs(noisy - exact).max() < 0.05  # Laplace scale 20 on counts of 3,000: a few parts in a thousand


def test_pate_ctgan_is_refused_with_the_reason(penguins):
    with pytest.raises(UsageError, match="shared discriminator"):
        fit_and_sample_dp(penguins, detect_metadata(penguins), 10, 0, DPSettings(method="PATECTGAN"))


def test_dpctgan_epsilon_too_small_for_one_epoch_is_named(penguins):
    with pytest.raises(UsageError, match="cannot train one epoch"):
        fit_and_sample_dp(penguins, detect_metadata(penguins), 10, 0,
                          DPSettings(method="DPCTGAN", epsilon=0.01, public_bounds=BOUNDS, batch_size=64, sigma=1.0))


def test_cli_generates_with_dpctgan(tmp_path, penguins, capsys):
    penguins.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "bounds.json").write_text(json.dumps({k: list(v) for k, v in BOUNDS.items()}))
    code = main(["dp", "generate", "--real", str(tmp_path / "train.csv"), "--out", str(tmp_path / "dp.csv"),
                 "--manifest", str(tmp_path / "dp.json"), "--bounds", str(tmp_path / "bounds.json"),
                 "--method", "DPCTGAN", "--epsilon", "3", "--epochs", "2", "--batch-size", "64", "--rows", "50"])
    assert code == 0 and "DPCTGANSynthesizer" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "dp.json").read_text())
    assert manifest["parameters"]["epochs_run"] == 2 and manifest["differential_privacy"]["epsilon"] == 3.0


def test_dpctgan_refuses_tables_over_the_policy_limit(penguins):
    from core.errors import PolicyError
    from core.policy import parse_policy

    limit = parse_policy("[privacy]\ndpctgan_max_rows = 100\n").dpctgan_max_rows
    with pytest.raises(UsageError, match=r"limited to 100 training rows \(\[privacy\] dpctgan_max_rows"):
        fit_and_sample_dp(penguins, detect_metadata(penguins), 10, 0,
                          DPSettings(method="DPCTGAN", public_bounds=BOUNDS, gan_max_rows=limit))
    with pytest.raises(PolicyError, match="dpctgan_max_rows must be a whole number"):
        parse_policy("[privacy]\ndpctgan_max_rows = 0\n")
