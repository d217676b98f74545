"""AIM through our DP path: its rounds setting is checked, recorded in the manifest and spends the whole budget."""
from __future__ import annotations

import pytest

from core.data.metadata import detect_metadata
from core.errors import UsageError
from core.generate.dp import DPSettings, fit_and_sample_dp

pytestmark = pytest.mark.slow
BOUNDS = {"bill_length_mm": (25.0, 65.0), "bill_depth_mm": (10.0, 25.0), "flipper_length_mm": (160.0, 240.0),
          "body_mass_g": (2500.0, 6500.0), "year": (2007.0, 2009.0)}


def test_aim_with_few_rounds_records_them(penguins):
    train = penguins.dropna()[["species", "island", "sex", "body_mass_g"]].reset_index(drop=True)
    synthetic, manifest = fit_and_sample_dp(train, detect_metadata(train), 100, seed=0,
                                            settings=DPSettings(method="AIM", epsilon=1.0, aim_rounds=8,
                                                                public_bounds={"body_mass_g": BOUNDS["body_mass_g"]}))
    assert manifest["method"].startswith("AIM") and manifest["parameters"]["rounds"] == 8
    assert len(synthetic) == 100 and set(synthetic["island"].dropna()) <= set(train["island"])
    assert synthetic["body_mass_g"].between(2500, 6500).all()


def test_aim_rounds_must_be_positive(penguins):
    with pytest.raises(UsageError, match="AIM's rounds"):
        DPSettings(method="AIM", aim_rounds=0).check(detect_metadata(penguins))


def test_aim_rounds_below_twice_the_columns_refused(penguins):
    train = penguins.dropna()[["species", "island", "sex"]].reset_index(drop=True)
    with pytest.raises(UsageError, match="at least twice the 3 modelled columns"):
        fit_and_sample_dp(train, detect_metadata(train), 10, seed=0, settings=DPSettings(method="AIM", aim_rounds=5))
