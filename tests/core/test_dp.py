"""Differentially private generation (smartnoise MST), its manifest, the CLI, and the privacy trade-off:
a DP table at small epsilon passes the privacy gates where a memorising generator fails them."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from core.cli import main
from core.data.io import prepare_inputs, table_from_frame
from core.data.metadata import detect_metadata
from core.errors import UsageError
from core.generate.dp import DPSettings, fit_and_sample_dp
from core.report import evaluate
from tests.conftest import three_way_split

pytestmark = pytest.mark.slow
BOUNDS = {"bill_length_mm": (25.0, 65.0), "bill_depth_mm": (10.0, 25.0), "flipper_length_mm": (160.0, 240.0),
          "body_mass_g": (2500.0, 6500.0)}
PRIVACY_GATES = ("exact_copies", "distance_to_closest_record", "membership_inference")


@pytest.fixture(scope="module")
def split(penguins):
    frame = penguins.dropna().drop_duplicates().reset_index(drop=True)
    return three_way_split(frame, seed=0, fractions=(0.6, 0.4))[:2]


@pytest.fixture(scope="module")
def generated(split):
    train, _ = split
    metadata = detect_metadata(train)
    return fit_and_sample_dp(train, metadata, len(train), seed=0,
                             settings=DPSettings(method="MST", epsilon=0.3, public_bounds=BOUNDS))


def test_manifest_records_the_dp_account(generated, split):
    synthetic, manifest = generated
    train, _ = split
    dp = manifest["differential_privacy"]
    assert dp["epsilon"] == 0.3 and 0 < dp["delta"] < 1 / len(train)
    assert dp["epsilon_for_bounds"] == 0.0  # every numeric column had public bounds
    assert dp["columns"]["body_mass_g"]["bounds_source"].startswith("declared public")
    assert dp["columns"]["body_mass_g"]["bounds"] == [2500.0, 6500.0]
    assert "not covered by epsilon" in dp["columns"]["species"]["categories_source"]
    assert manifest["method"].startswith("MST") and manifest["seed"] == 0
    assert list(synthetic.columns) == list(train.columns) and len(synthetic) == len(train)
    assert set(synthetic["species"].dropna()) <= set(train["species"])
    assert synthetic["body_mass_g"].between(2500, 6500).all()


def test_dp_table_passes_privacy_gates_where_copies_fail(generated, split):
    train, holdout = split
    synthetic, _ = generated

    def privacy_gates(table: pd.DataFrame) -> dict[str, bool]:
        inputs = prepare_inputs(table_from_frame(train, "train"), table_from_frame(table, "synthetic"),
                                table_from_frame(holdout, "holdout"))
        gates = evaluate(inputs, privacy=True, seed=0).gates
        return {g.name: g.passed for g in gates if g.name in PRIVACY_GATES}

    dp = privacy_gates(synthetic)
    copies = privacy_gates(train.sample(len(train), replace=True, random_state=0))
    assert dp and all(dp.values()), dp
    assert not all(copies.values()), copies


def test_private_bounds_spend_budget_or_fail_with_a_named_column(split):
    train, _ = split
    with pytest.raises(UsageError, match="column .*declare public bounds"):
        fit_and_sample_dp(train, detect_metadata(train), 50, 0, DPSettings(method="MST", epsilon=0.05))


@pytest.mark.parametrize("settings,message", [
    (DPSettings(method="PATE"), "not one of"), (DPSettings(epsilon=0), "positive"),
    (DPSettings(public_bounds={"nope": (0.0, 1.0)}), "nope"), (DPSettings(public_bounds={"body_mass_g": (5.0, 1.0)}),
                                                               "lower < upper")])
def test_bad_settings_are_named(split, settings, message):
    with pytest.raises(UsageError, match=message):
        fit_and_sample_dp(split[0], detect_metadata(split[0]), 10, 0, settings)


def test_cli_audit_fails_a_memorising_table_claimed_dp(tmp_path, split, capsys):
    train, holdout = split
    train.to_csv(tmp_path / "train.csv", index=False)
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    train.to_csv(tmp_path / "copies.csv", index=False)
    (tmp_path / "manifest.json").write_text(json.dumps({"differential_privacy": {"epsilon": 1.0, "delta": 1e-6}}))
    code = main(["dp", "audit", "--real", str(tmp_path / "train.csv"), "--synthetic", str(tmp_path / "copies.csv"),
                 "--holdout", str(tmp_path / "holdout.csv"), "--manifest", str(tmp_path / "manifest.json"),
                 "--json", str(tmp_path / "audit.json")])
    assert code == 1 and "FAIL" in capsys.readouterr().out
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert audit["audit"]["epsilon_lower_bound"] > 1.0 and audit["gate"]["passed"] is False


def test_cli_bad_bounds_file_is_one_line(tmp_path, split, capsys):
    split[0].to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "bounds.json").write_text('{"body_mass_g": [1]}')
    code = main(["dp", "generate", "--real", str(tmp_path / "train.csv"), "--out", str(tmp_path / "s.csv"),
                 "--manifest", str(tmp_path / "m.json"), "--bounds", str(tmp_path / "bounds.json")])
    err = capsys.readouterr().err
    assert code == 2 and "body_mass_g" in err and len(err.strip().splitlines()) == 1


def test_sweep_measures_every_point_and_marks_the_choice(split):
    from core.generate.sweep import summary_table, sweep_epsilon

    train, holdout = split
    sweep = sweep_epsilon(train, holdout, detect_metadata(train), epsilons=[3.0], seeds=[0], target="species",
                          public_bounds=BOUNDS, baseline=True)
    assert [(p.epsilon, p.seed) for p in sweep.points] == [(3.0, 0), (None, 0)]
    dp_point = sweep.points[0]
    assert 0 < dp_point.fidelity_score <= 1 and 0 <= dp_point.membership_auc <= 1
    assert dp_point.empirical_epsilon is not None and dp_point.empirical_epsilon < 3.0
    assert {"column_shapes", "exact_copies"} <= set(dp_point.gates)
    chosen = sweep.chosen_epsilon
    assert chosen == (3.0 if dp_point.does_its_job else None)
    table = summary_table(sweep)
    assert list(table["epsilon"]) == ["3", "non-private"]
    document = sweep.to_dict()
    assert document["curves"]["fidelity_score"][0]["epsilon"] == 3.0 and len(document["points"]) == 2


def test_non_private_baseline_fits_a_frame_coerced_to_metadata(census):
    """The sweep's GaussianCopula baseline gets frames coerced to the desk's metadata (a categorical count column
    held as Python ints in an object column), which SDV's detection cannot read without inferred dtypes."""
    from core.data.metadata import coerce_to_metadata, resolve_metadata
    from core.demo import fit_and_sample

    frame = census.head(600)
    metadata = resolve_metadata(frame)
    train = coerce_to_metadata(frame, metadata, "census")
    assert train["num_persons_worked_for_employer"].dtype == object
    synthetic, manifest = fit_and_sample(train, 50, seed=0)
    assert list(synthetic.columns) == list(train.columns) and len(synthetic) == 50
    assert manifest["method"] == "GaussianCopulaSynthesizer"
