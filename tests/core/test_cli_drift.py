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
