"""Declared bins for MST and AIM (core/generate/bins.py): chosen from public declarations only, decoded by a fixed
rule, recorded column by column in the manifest, with the privacy accounting unchanged."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from core.data.metadata import detect_metadata
from core.errors import InputError, PolicyError, UsageError
from core.generate.bins import BinDeclaration, check_declaration, parse_declarations, plan_binning
from core.generate.dp import DPSettings, fit_and_sample_dp
from core.policy import parse_policy

MONEY = {"bounds": [0, 100000], "integer": True, "atoms": [0], "scale": "log"}
DECLARED = {"age": {"bounds": [0, 100], "integer": True}, "capital_gains": MONEY, "dividends_from_stocks": MONEY,
            "weeks_worked_in_year": {"bounds": [0, 52], "integer": True}}
COLUMNS = ["age", "capital_gains", "dividends_from_stocks", "weeks_worked_in_year", "sex", "income_gt_50k"]


# --- the bins themselves: brute-force checks on every value of a range -------------------------------------------

def test_small_integer_range_gets_one_bin_per_integer_and_decodes_to_it():
    binning = plan_binning(0, 52, BinDeclaration(integer=True), bins=16, max_bins=128)
    assert binning.size == 53 and binning.rule == "one bin per integer"
    values = np.arange(0, 53, dtype=float)
    codes = binning.encode(values)
    assert list(codes) == list(range(53))
    assert list(binning.decode(codes, np.random.default_rng(0))) == list(values)


def test_wide_integer_range_gets_integer_aligned_bins_that_decode_to_integers_inside():
    binning = plan_binning(0, 1000, BinDeclaration(integer=True), bins=16, max_bins=128)
    assert binning.size == 16
    values = np.arange(0, 1001, dtype=float)
    codes = binning.encode(values)
    decoded = binning.decode(codes, np.random.default_rng(1))
    assert (decoded % 1 == 0).all() and decoded.min() >= 0 and decoded.max() <= 1000
    assert (binning.encode(decoded) == codes).all()  # every decoded value lies in the bin it came from


def test_atom_has_its_own_bin_and_log_bins_are_geometric():
    binning = plan_binning(0, 100000, BinDeclaration(integer=True, atoms=(0.0,), scale="log"), bins=16, max_bins=128)
    assert binning.atoms == (0.0,) and binning.size == 17
    assert binning.code(0.0) == 0 and all(binning.code(v) > 0 for v in (1, 5, 99999))
    widths = np.array(binning.highs) - np.array(binning.lows) + 1
    assert widths[-1] > 1000 * widths[0]  # geometric, not equal-width
    codes = np.arange(1, binning.size)
    decoded = binning.decode(np.repeat(codes, 50), np.random.default_rng(2))
    assert (decoded >= 1).all() and (decoded % 1 == 0).all()  # an interval bin never decodes to the atom
    assert (binning.encode(decoded) == np.repeat(codes, 50)).all()


def test_real_valued_log_bins_decode_inside_their_bin():
    binning = plan_binning(0.0, 1000.0, BinDeclaration(atoms=(0.0,), scale="log"), bins=8, max_bins=128)
    codes = np.repeat(np.arange(binning.size), 20)
    decoded = binning.decode(codes, np.random.default_rng(3))
    assert (binning.encode(decoded) == codes).all() and decoded.max() <= 1000.0


def test_atom_inside_an_integer_range_splits_it():
    binning = plan_binning(0, 1000, BinDeclaration(integer=True, atoms=(500.0,)), bins=4, max_bins=128)
    decoded = binning.decode(np.repeat(np.arange(1, binning.size), 200), np.random.default_rng(4))
    assert 500.0 not in set(decoded) and binning.code(500.0) == 0


def test_nothing_declared_is_equal_width():
    binning = plan_binning(0.0, 100.0, None, bins=16, max_bins=128)
    assert binning.size == 16 and binning.rule == "equal-width bins" and not binning.integer


def test_declarations_parse_and_bad_entries_name_file_and_column():
    bounds, declarations = parse_declarations({"a": [0, 1], "b": MONEY, "c": {"edges": [0, 10, 100]}}, "b.json")
    assert bounds == {"a": (0.0, 1.0), "b": (0.0, 100000.0), "c": (0.0, 100.0)} and "a" not in declarations
    assert declarations["b"].atoms == (0.0,) and declarations["b"].scale == "log"
    for raw, message in [({"x": {"scale": "cubic"}}, "scale"), ({"x": {"bounds": [1]}}, "bounds"),
                         ({"x": {"colour": 1}}, "unknown key"), ({"x": {"edges": [3, 1]}}, "increasing"),
                         ({"x": {"atoms": ["0"]}}, "atoms")]:
        with pytest.raises(InputError, match=f"file b.json, column 'x': .*{message}"):
            parse_declarations(raw, "b.json")


@pytest.mark.parametrize("declaration,bounds,message", [
    (BinDeclaration(atoms=(-1.0,)), (0.0, 10.0), "outside the bounds"),
    (BinDeclaration(scale="log"), (-5.0, 10.0), "lower bound >= 0"),
    (BinDeclaration(bins=200), (0.0, 10.0), "dp_max_bins"),
    (BinDeclaration(integer=True, atoms=(0.5,)), (0.0, 10.0), "integers")])
def test_unusable_declarations_are_named(declaration, bounds, message):
    assert message in check_declaration("x", declaration, bounds, 128)


def test_policy_bin_cap():
    assert parse_policy("").dp_max_bins == 64
    assert parse_policy("[privacy]\ndp_max_bins = 120\n").dp_max_bins == 120
    with pytest.raises(PolicyError, match="dp_max_bins"):
        parse_policy("[privacy]\ndp_max_bins = 1\n")


# --- through MST and AIM on census rows ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def train(census):
    from core.data.metadata import coerce_to_metadata

    frame = census[COLUMNS].head(4000).reset_index(drop=True)
    return coerce_to_metadata(frame, detect_metadata(frame), "census")


def _settings(method: str, epsilon: float, binning: str = "declared", declared: dict | None = None) -> DPSettings:
    bounds, declarations = parse_declarations(DECLARED if declared is None else declared, "test")
    return DPSettings(method=method, epsilon=epsilon, public_bounds=bounds, declarations=declarations, binning=binning)


@pytest.mark.slow
def test_zero_inflated_column_keeps_its_zero_share_at_high_epsilon(train):
    """MST at epsilon 10: the share of zeros of the two money columns is the real one within the measurement
    noise and the sampling spread; equal-width bins decoded at the middle lose every zero."""
    from snsynth.utils import cdp_rho

    metadata = detect_metadata(train)
    declared, manifest = fit_and_sample_dp(train, metadata, len(train), 0, _settings("MST", 10.0))
    equal_width, _ = fit_and_sample_dp(train, metadata, len(train), 0, _settings("MST", 10.0, "equal-width"))
    delta = manifest["differential_privacy"]["delta"]
    sigma = math.sqrt(3 / (2 * cdp_rho(10.0, delta)))  # MST's noise on each one-way count
    for column in ("capital_gains", "dividends_from_stocks"):
        real = float((train[column] == 0).mean())
        tolerance = 4 * sigma / len(train) + 4 * math.sqrt(real * (1 - real) / len(train))
        assert abs(float((declared[column] == 0).mean()) - real) <= tolerance, column
        assert (equal_width[column] == 0).mean() == 0.0  # the old decoding: no zero at all
        assert real > 0.85


@pytest.mark.slow
@pytest.mark.parametrize("method", ["MST", "AIM"])
def test_integer_columns_decode_to_integers_in_range(train, method):
    metadata = detect_metadata(train)
    synthetic, manifest = fit_and_sample_dp(train, metadata, 1000, 0,
                                            replace(_settings(method, 3.0), aim_rounds=24))
    for column, (low, high) in (("age", (0, 100)), ("weeks_worked_in_year", (0, 52)), ("capital_gains", (0, 1e5))):
        values = synthetic[column].dropna()
        assert (values % 1 == 0).all() and values.between(low, high).all(), column
    columns = manifest["differential_privacy"]["columns"]
    assert columns["weeks_worked_in_year"]["bins"] == 53
    assert columns["weeks_worked_in_year"]["binning"] == "one bin per integer"
    # the weeks come back as the real ones do: most people 0 or 52, not mid-points
    assert synthetic["weeks_worked_in_year"].isin([0, 52]).mean() > 0.5


@pytest.mark.slow
def test_manifest_records_every_columns_binning_source(train):
    metadata = detect_metadata(train)
    declared = {"capital_gains": MONEY, "age": [0, 100], "weeks_worked_in_year": {"integer": True},
                "sex": [0, 1]}
    _, manifest = fit_and_sample_dp(train, metadata, 200, 0, _settings("MST", 3.0, declared=declared))
    dp = manifest["differential_privacy"]
    columns = dp["columns"]
    assert columns["capital_gains"]["binning_source"].startswith("declared public (integer (declared in the bounds")
    assert columns["capital_gains"]["binning"] == "log-scale integer bins from 1, each atom a bin of its own"
    assert columns["age"]["binning_source"] == "nothing declared beyond the bounds: equal-width bins"
    assert "the training column holds only whole numbers" in columns["age"]["rounded"]
    assert "age" in dp["covered_by_epsilon"]  # rounding read from the data is said not to be covered
    weeks = columns["weeks_worked_in_year"]
    assert weeks["binning_source"].endswith("built on the DP-estimated bounds") and weeks["epsilon_spent"] > 0
    assert dp["bounds_from_private_data"] == ["dividends_from_stocks", "weeks_worked_in_year"]
    assert "categorical" in columns["sex"]["declared_bounds_not_used"]
    assert dp["decode_rule"].startswith("an atom decodes to itself") and dp["decode_seed"] == 0
    assert manifest["parameters"]["binning"] == "declared"
    _, old = fit_and_sample_dp(train, metadata, 200, 0, _settings("MST", 1.0, "equal-width"))
    assert old["differential_privacy"]["columns"]["capital_gains"]["decode"] == "the bin's middle"
    assert "decode_rule" not in old["differential_privacy"]


@pytest.mark.slow
def test_privacy_accounting_is_unchanged_by_declared_bins(train):
    """AIM's ledger adds up to its rho with declared bins; the bounds estimated privately spend exactly their
    share, split evenly, and training gets the rest."""
    from snsynth.utils import cdp_rho

    metadata = detect_metadata(train)
    declared = {**DECLARED, "dividends_from_stocks": {"integer": True, "atoms": [0], "scale": "log"}}
    _, manifest = fit_and_sample_dp(train, metadata, 200, 0,
                                    replace(_settings("AIM", 1.0, declared=declared), aim_rounds=24))
    dp, parameters = manifest["differential_privacy"], manifest["parameters"]
    assert dp["epsilon_for_bounds"] == pytest.approx(0.1) and dp["epsilon_for_training"] == pytest.approx(0.9)
    assert dp["columns"]["dividends_from_stocks"]["epsilon_spent"] == pytest.approx(0.1)
    assert parameters["zcdp_rho"] == pytest.approx(cdp_rho(0.9, dp["delta"]), rel=1e-12)
    assert parameters["zcdp_rho_spent"] == pytest.approx(parameters["zcdp_rho"], rel=1e-9)


def test_bad_declarations_in_settings_are_named(train):
    metadata = detect_metadata(train)
    with pytest.raises(UsageError, match="column 'capital_gains': atoms 5e\\+06 lie outside"):
        fit_and_sample_dp(train, metadata, 10, 0, _settings("MST", 1.0, declared={
            "capital_gains": {**MONEY, "atoms": [5e6]}}))
    with pytest.raises(UsageError, match="binning must be one of"):
        fit_and_sample_dp(train, metadata, 10, 0, _settings("MST", 1.0, "middle"))


@pytest.mark.slow
def test_cli_reads_declarations_and_sdv_integer_representation(tmp_path, train, capsys):
    from core.cli import main

    train.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "bounds.json").write_text(json.dumps({"capital_gains": MONEY, "age": [0, 100],
                                                      "dividends_from_stocks": MONEY,
                                                      "weeks_worked_in_year": [0, 52]}))
    (tmp_path / "metadata.json").write_text(json.dumps({"columns": {
        "age": {"sdtype": "numerical", "computer_representation": "Int64"},
        "weeks_worked_in_year": {"sdtype": "numerical", "computer_representation": "Int8"}}}))
    code = main(["dp", "generate", "--real", str(tmp_path / "train.csv"), "--out", str(tmp_path / "dp.csv"),
                 "--manifest", str(tmp_path / "dp.json"), "--bounds", str(tmp_path / "bounds.json"),
                 "--metadata", str(tmp_path / "metadata.json"), "--epsilon", "3"])
    assert code == 0
    out = capsys.readouterr().out
    assert "weeks_worked_in_year: 53 bins, one bin per integer" in out
    columns = json.loads((tmp_path / "dp.json").read_text())["differential_privacy"]["columns"]
    assert "computer_representation Int64" in columns["age"]["binning_source"]
    assert columns["age"]["binning"] == "equal-width integer-aligned bins" and columns["age"]["bins"] == 16  # > 64
    synthetic = pd.read_csv(tmp_path / "dp.csv")
    assert (synthetic["weeks_worked_in_year"] % 1 == 0).all() and (synthetic["capital_gains"] == 0).mean() > 0.8


def test_the_demo_declaration_is_usable():
    from core.demo import DEMO_DP_DECLARATION

    bounds, declarations = parse_declarations(DEMO_DP_DECLARATION, "core/demo")
    assert set(bounds) == set(DEMO_DP_DECLARATION)
    assert all(check_declaration(c, d, bounds.get(c), 64) is None for c, d in declarations.items())
    weeks = plan_binning(*bounds["weeks_worked_in_year"], declarations["weeks_worked_in_year"], 16, 64)
    assert weeks.rule == "one bin per integer"
