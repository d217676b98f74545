"""AppTest: the Privacy dial page audits the table under review, and a generated DP table shows its DP account."""
from __future__ import annotations

import re

import pandas as pd
import pytest

TRAIN_ROWS, HOLDOUT_ROWS = 1_500, 1_500


@pytest.fixture
def dial_app(app, demo_files):
    """The app reviewing a memorising 'generator': the synthetic table is the training rows themselves."""
    from components.state import Review
    from core.data.io import table_from_frame

    train = pd.read_csv(demo_files.train, nrows=TRAIN_ROWS).drop_duplicates().reset_index(drop=True)
    holdout = pd.read_csv(demo_files.holdout, nrows=HOLDOUT_ROWS)
    tables = {"real": table_from_frame(train, "train.csv"), "synthetic": table_from_frame(train.copy(), "copies.csv"),
              "holdout": table_from_frame(holdout, "holdout.csv")}
    manifest = {"method": "copies", "differential_privacy": {"epsilon": 1.0, "delta": 1e-6}}
    app.session_state["review"] = Review(tables, source="upload", notes={"manifest": manifest})
    return app


def test_audit_of_a_memorising_table_claimed_dp_fails(dial_app, open_page):
    at = open_page(dial_app, "privacy_dial")
    assert any("Claimed epsilon: **1**" in str(m.value) for m in at.markdown)
    at.button(key="dp_audit_run").click().run()
    assert not at.exception
    bound = next(m.value for m in at.metric if m.label.startswith("Empirical epsilon"))
    assert float(bound) > 1.0
    gates = next(getattr(d.value, "data", d.value) for d in at.dataframe
                 if "gate" in getattr(getattr(d.value, "data", d.value), "columns", []))
    assert list(gates["gate"]) == ["empirical_epsilon"] and list(gates["result"]) == ["FAIL"]


def test_dp_account_of_a_generated_table_is_shown(dial_app, open_page):
    review = dial_app.session_state["review"]
    review.notes["manifest"] = {"method": "MSTSynthesizer (smartnoise-synth)", "differential_privacy": {
        "epsilon": 1.0, "delta": 1e-7, "epsilon_for_bounds": 0.1, "epsilon_for_training": 0.9,
        "bounds_from_private_data": ["age"], "covered_by_epsilon": "the model",
        "columns": {"age": {"kind": "binned", "bins": 16, "bounds": [0.0, 90.0],
                            "bounds_source": "estimated from the private data", "epsilon_spent": 0.1},
                    "sex": {"kind": "categories", "categories_source": "read from the private training data"}}}}
    at = open_page(dial_app, "privacy_dial")
    assert {m.label for m in at.metric} >= {"Epsilon", "Spent on bounds", "Spent on training"}
    assert any("age" in str(w.value) and "spent privacy budget" in str(w.value) for w in at.warning)
    frame = next(d.value for d in at.dataframe if "source" in getattr(d.value, "columns", []))
    assert list(frame["column"]) == ["age", "sex"] and frame.loc[0, "epsilon spent"] == "0.1"


def test_generation_bins_from_the_demo_declaration(dial_app, open_page):
    """On the census columns the declaration table is pre-filled with the demo's public declaration, and a DP
    generation bins from it: the manifest and the page say where every column's bins came from."""
    at = open_page(dial_app, "privacy_dial")
    assert any("Pre-filled with the census demo" in str(c.value) for c in at.caption)
    at.button(key="dp_gen_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    columns = at.session_state["review"].notes["manifest"]["differential_privacy"]["columns"]
    assert columns["capital_gains"]["binning_source"].startswith("declared public (integer")
    assert columns["weeks_worked_in_year"]["bins"] == 53
    frame = next(d.value for d in at.dataframe if "source" in getattr(d.value, "columns", []))
    weeks = frame[frame["column"] == "weeks_worked_in_year"].iloc[0]
    assert weeks["bins"] == "53"
    # The table fits 1,440 px (its long texts cut "bins", "decoded" and "bins from"): those are in full below.
    assert list(frame.columns) == ["column", "how", "bounds", "bins", "source", "epsilon spent"]
    details = re.sub(r"\\(.)", r"\1", " ".join(str(m.value) for m in at.expander(key="dp_binning_details").markdown))
    assert "**weeks_worked_in_year**: 53 bins: one bin per integer" in details
    assert "decoded: integer bins" in details
