"""Gates: each planted defect is caught by the gate named for it; a fresh real sample passes every gate."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.io import prepare_inputs, table_from_frame
from core.data.metadata import detect_metadata
from core.policy import load_policy, parse_policy
from core.report import evaluate
from tests.conftest import three_way_split

TABLES = ["census", "penguins", "wine"]


def _evaluate(train, synthetic, holdout=None, policy=None):
    inputs = prepare_inputs(table_from_frame(train, "train.csv"), table_from_frame(synthetic, "synthetic.csv"),
                            table_from_frame(holdout, "holdout.csv") if holdout is not None else None)
    return evaluate(inputs, policy)


def _gates(evaluation):
    return {g.name: g for g in evaluation.gates}


def _split(request, name):
    return three_way_split(request.getfixturevalue(name), seed=11)


@pytest.mark.parametrize("name", TABLES)
def test_fresh_real_sample_passes_every_gate(name, request):
    train, holdout, fresh = _split(request, name)
    evaluation = _evaluate(train, fresh, holdout)
    failed = [f"{g.name}: {g.detail}" for g in evaluation.gates if not g.passed]
    assert not failed
    assert evaluation.verdict == "pass"
    assert {"column_shapes", "column_pair_trends", "validity"} <= set(_gates(evaluation))


@pytest.mark.parametrize("name", TABLES)
def test_independently_shuffled_columns_fail_pair_trends_only(name, request):
    train, holdout, fresh = _split(request, name)
    shuffled = fresh.copy()
    for i, column in enumerate(shuffled.columns):
        shuffled[column] = shuffled[column].sample(frac=1.0, random_state=100 + i).to_numpy()
    gates = _gates(_evaluate(train, shuffled, holdout))
    assert not gates["column_pair_trends"].passed
    assert gates["column_shapes"].passed, gates["column_shapes"].detail  # marginals are untouched
    assert gates["validity"].passed


@pytest.mark.parametrize("name", TABLES)
def test_out_of_range_values_and_unseen_categories_fail_validity(name, request):
    train, holdout, fresh = _split(request, name)
    planted = fresh.copy()
    # 5% is plain in thousands of rows; a 36-row table's own holdout has 6% of its values outside the
    # training range by chance, so only a gross defect (30%) is distinguishable there.
    share = 0.05 if len(planted) >= 1000 else 0.3
    rows = np.random.default_rng(0).permutation(len(planted))[: int(len(planted) * share)]
    metadata = detect_metadata(train)
    numeric = next(c for c, t in metadata.items() if t == "numerical")
    planted.loc[rows, numeric] = train[numeric].max() * 3 + 1
    gates = _gates(_evaluate(train, planted, holdout))
    assert not gates["validity"].passed and numeric in gates["validity"].detail
    categorical = [c for c, t in metadata.items() if t == "categorical"]
    planted = fresh.copy()
    planted[categorical[0]] = planted[categorical[0]].astype(object)
    planted.loc[rows, categorical[0]] = "never-seen"
    gates = _gates(_evaluate(train, planted, holdout))
    assert not gates["validity"].passed and categorical[0] in gates["validity"].detail


@pytest.mark.parametrize("name", TABLES)
def test_removed_rare_categories_and_tails_fail_coverage(name, request):
    train, holdout, fresh = _split(request, name)
    metadata = detect_metadata(train)
    keep = pd.Series(True, index=fresh.index)
    for column, sdtype in metadata.items():
        if sdtype == "categorical":
            rarest = train[column].value_counts().index[-1]
            keep &= fresh[column] != rarest
        elif sdtype == "numerical" and len(fresh) >= 2000:
            low, high = train[column].quantile([0.01, 0.99])
            keep &= fresh[column].between(low, high) | fresh[column].isna()
    planted = fresh[keep].reset_index(drop=True)
    # Resample back to the fresh sample's size so the gate sees a table of the same size.
    planted = planted.sample(len(fresh), replace=True, random_state=0).reset_index(drop=True)
    gates = _gates(_evaluate(train, planted, holdout))
    assert "coverage" in gates, "coverage does not apply to this table"
    assert not gates["coverage"].passed, gates["coverage"].detail


def test_without_holdout_the_null_comes_from_the_training_rows(census):
    train, _, fresh = three_way_split(census, seed=4)
    evaluation = _evaluate(train, fresh)
    gates = _gates(evaluation)
    assert evaluation.verdict == "pass", [g.detail for g in evaluation.gates if not g.passed]
    shapes = gates["column_shapes"]
    assert shapes.null_median is not None and shapes.floor < shapes.null_median <= 1.0
    assert 0.9 < shapes.floor < 1.0  # measured at 2,400 rows, far tighter than the fixed 0.80


def test_too_small_to_resample_uses_the_stated_analytic_bound(census):
    train, _, fresh = three_way_split(census.head(300), seed=4)
    policy = parse_policy("[calibration]\nmin_real_rows = 100000\n", "small.toml")
    evaluation = _evaluate(train, fresh, policy=policy)
    shapes = _gates(evaluation)["column_shapes"]
    assert shapes.null_median is None and "analytic" in shapes.detail
    assert evaluation.verdict == "pass", [g.detail for g in evaluation.gates if not g.passed]
    shifted = fresh.copy()
    shifted["age"] = shifted["age"] + 40  # a gross shift fails even the loose analytic bound
    assert not _gates(_evaluate(train, shifted, policy=policy))["column_shapes"].passed


def test_weak_association_lost_is_caught_with_a_holdout(census):
    """A weak but real association that an absolute threshold would pass is caught against the holdout."""
    train, holdout, fresh = three_way_split(census, seed=5)
    planted = fresh.copy()
    planted["sex"] = planted["sex"].sample(frac=1.0, random_state=1).to_numpy()  # sex ~ others: weak links
    evaluation = _evaluate(train, planted, holdout)
    sex_pairs = [p for p in evaluation.fidelity.pair_trends if "sex" in p.columns]
    weakest = min(sex_pairs, key=lambda p: p.score)
    assert weakest.score > load_policy().gate("column_pair_trends")  # would pass a fixed 0.80 threshold
    assert not _gates(evaluation)["column_pair_trends"].passed
    assert "sex" in _gates(evaluation)["column_pair_trends"].detail


def test_report_follows_the_contract(census):
    train, holdout, fresh = three_way_split(census, seed=6)
    report = _evaluate(train, fresh, holdout).to_dict()
    assert report["schema_version"] == 1
    for key in ("tool_version", "created_at", "inputs", "metadata", "fidelity", "validity", "gates", "verdict"):
        assert key in report
    assert set(report["inputs"]) == {"real", "synthetic", "holdout"}
    assert set(report["inputs"]["real"]) == {"path", "rows", "columns", "sha256"}
    assert report["verdict"] in ("pass", "fail")
    column = next(iter(report["fidelity"]["column_shapes"]["columns"].values()))
    assert column["metric"] in ("KSComplement", "TVComplement") and 0 <= column["score"] <= 1
    pair = report["fidelity"]["column_pair_trends"]["pairs"][0]
    assert set(pair) >= {"columns", "metric", "score", "real", "synthetic"}
    validity = next(iter(report["validity"]["columns"].values()))
    assert set(validity) >= {"out_of_range_share", "unseen_category_share", "category_coverage", "range_coverage",
                             "missing_share_real", "missing_share_synthetic"}
    names = {g["name"] for g in report["gates"]}
    assert names <= {"column_shapes", "column_pair_trends", "validity", "coverage", "exact_copies",
                     "distance_to_closest_record", "membership_inference", "utility"}
    assert all(set(g) >= {"name", "value", "threshold", "passed", "detail"} for g in report["gates"])


@pytest.mark.parametrize("text", ["[calibration]\nfalse_alarm_rate = 0.0\n", "[calibration]\nresamples = 5\n",
                                  "[calibration]\nbogus = 1\n", '[fidelity]\npair_binning = "own"\n'])
def test_bad_calibration_settings_are_one_line_policy_errors(text):
    from core.errors import PolicyError

    with pytest.raises(PolicyError, match="bad.toml"):
        parse_policy(text, "bad.toml")
    assert parse_policy('[calibration]\nresamples = 50\n[fidelity]\npair_binning = "sdmetrics"\n', "ok.toml") \
        .calibration("resamples") == 50


def test_code_version_names_the_version_and_changes_with_the_source(tmp_path, monkeypatch):
    """Cached results are keyed by code_version(): it must move when any core source file does."""
    import shutil

    import core

    copy = tmp_path / "core"
    shutil.copytree(Path(core.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(core, "__file__", str(copy / "__init__.py"))
    core.code_version.cache_clear()
    try:
        before = core.code_version()
        assert before.startswith(core.__version__ + "+")
        (copy / "stats" / "null.py").write_text((copy / "stats" / "null.py").read_text() + "\n# changed\n")
        core.code_version.cache_clear()
        assert core.code_version() != before
    finally:
        core.code_version.cache_clear()
