"""`python -m core drift`: exit 0 without drift, 1 with it, 2 on bad input; JSON lists every column's test."""
from __future__ import annotations

import json

from core.cli import main
from tests.conftest import three_way_split


def test_drift_cli(tmp_path, census, capsys):
    reference, current, _ = three_way_split(census, seed=2, fractions=(0.5, 0.5))
    reference.to_csv(tmp_path / "ref.csv", index=False)
    current.to_csv(tmp_path / "same.csv", index=False)
    shifted = current.assign(age=current["age"] + current["age"].std())
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    assert main(["drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "same.csv")]) == 0
    code = main(["drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "shifted.csv"),
                 "--json", str(tmp_path / "d.json")])
    assert code == 1
    report = json.loads((tmp_path / "d.json").read_text())
    assert report["columns"]["age"]["drifted"] and report["recommendation"] == "regenerate"
    assert set(report["columns"]["age"]) >= {"test", "statistic", "threshold", "drifted"}
    (tmp_path / "p.toml").write_text("[drift]\nwasserstein_threshold = 5.0\nlarge_wasserstein = 9.0\n")
    capsys.readouterr()
    assert main(["drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "shifted.csv"),
                 "--policy", str(tmp_path / "p.toml")]) == 0
    (tmp_path / "bad.toml").write_text("[drift]\nwasserstein = 5.0\n")
    assert main(["drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "shifted.csv"),
                 "--policy", str(tmp_path / "bad.toml")]) == 2
    assert "[drift] has unknown key(s) wasserstein" in capsys.readouterr().err


def test_drift_on_an_empty_column_is_reported_not_a_traceback(tmp_path, census, capsys):
    """Issue 11: a column empty in one batch gave a TypeError traceback."""
    reference, current, _ = three_way_split(census, seed=3, fractions=(0.5, 0.5))
    reference.assign(bonus=float("nan")).to_csv(tmp_path / "ref.csv", index=False)
    current.assign(bonus=1.0 + (current.index % 3)).to_csv(tmp_path / "cur.csv", index=False)
    assert main(["drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "cur.csv"),
                 "--json", str(tmp_path / "d.json")]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert "bonus" in out.out and "n/a vs n/a  (missing share 1.000 -> 0.000)" in out.out
    assert f"Warning: file {tmp_path / 'ref.csv'}, column 'bonus': every value is missing" in out.out
    assert "Skipped pairs with 'bonus': no values in the reference data" in out.out
    report = json.loads((tmp_path / "d.json").read_text())
    assert report["columns"]["bonus"]["drifted"] and report["columns"]["bonus"]["statistic"] is None
    assert not any("bonus" in p["columns"] for p in report["pairs"])


def test_drift_histogram_edges_survive_constant_and_huge_columns():
    import numpy as np

    from core.checks.drift import shared_bin_edges

    assert shared_bin_edges(np.full(5, 1e16), 20).tolist() == [1e16 - 1e7, 1e16 + 1e7]
    edges = shared_bin_edges(np.array([1e16, 1e16 + 2.0]), 20)  # 20 bins narrower than the float spacing
    assert edges.tolist() == [1e16, 1e16 + 2.0]
    assert np.histogram(np.array([1e16, 1e16 + 2.0]), edges)[0].sum() == 2
    assert len(shared_bin_edges(np.array([-1e308, 1e308]), 20)) == 2  # the range overflows to inf
    assert np.allclose(shared_bin_edges(np.arange(11.0), 10), np.arange(11.0))
