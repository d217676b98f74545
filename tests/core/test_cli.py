"""`python -m core evaluate`: exit codes, the JSON report, and one clear line for every bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from tests.conftest import ROOT, three_way_split


@pytest.fixture(scope="module")
def files(tmp_path_factory, census):
    folder = tmp_path_factory.mktemp("cli")
    train, holdout, fresh = three_way_split(census, seed=8)
    paths = {}
    for name, frame in (("train", train), ("holdout", holdout), ("fresh", fresh)):
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    shuffled = fresh.copy()
    for i, column in enumerate(shuffled.columns):  # each column its own permutation: pairs broken
        shuffled[column] = shuffled[column].sample(frac=1.0, random_state=i).to_numpy()
    paths["shuffled"] = folder / "shuffled.parquet"
    shuffled.to_parquet(paths["shuffled"])
    paths["folder"] = folder
    return paths


def _run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_clean_control_exits_0_and_writes_the_contract(files, capsys):
    out = files["folder"] / "report.json"
    code, stdout, stderr = _run(["evaluate", "--real", files["train"], "--synthetic", files["fresh"],
                                 "--holdout", files["holdout"], "--target", "income_gt_50k", "--json", out], capsys)
    assert code == 0, stdout
    assert stdout.startswith("Verdict: PASS")
    report = json.loads(out.read_text())
    assert report["verdict"] == "pass" and report["inputs"]["holdout"]["rows"] == 2400
    names = {g["name"] for g in report["gates"]}
    assert names == {"column_shapes", "column_pair_trends", "validity", "coverage", "exact_copies",
                     "distance_to_closest_record", "membership_inference", "utility",
                     "detection", "three_way_trends", "missing_values", "constraints"}  # structure: CLI default
    assert report["privacy"]["membership_inference"]["auc"] < 0.6
    assert report["utility"]["target"] == "income_gt_50k" and report["utility"]["passed"]


def test_broken_pairs_exit_1_with_worst_pairs_first(files, capsys):
    code, stdout, _ = _run(["evaluate", "--real", files["train"], "--synthetic", files["shuffled"],
                            "--holdout", files["holdout"]], capsys)
    assert code == 1
    assert "[FAIL] column_pair_trends" in stdout
    pairs = stdout.split("Worst pairs:")[1].splitlines()[1:4]
    scores = [float(line.split()[3].rstrip(",")) for line in pairs]
    assert scores == sorted(scores)


def test_real_process_exit_codes(files):
    """The real entry point, as a pipeline calls it."""
    ok = subprocess.run([sys.executable, "-m", "core", "evaluate", "--real", str(files["train"]),
                         "--synthetic", str(files["fresh"])], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "core", "evaluate", "--real", str(files["train"]),
                          "--synthetic", "missing.csv"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: file missing.csv: file not found"
    assert "Traceback" not in bad.stderr


def _bad_input_cases(folder, train):
    cases = {}

    def write(name, content: bytes):
        path = folder / name
        path.write_bytes(content)
        return path

    cases["empty"] = (write("empty.csv", b""), "file is empty")
    cases["header_only"] = (write("header.csv", (",".join(train.columns) + "\n").encode()), "header but no rows")
    cases["one_row"] = (write("one.csv", train.head(1).to_csv(index=False).encode()), "has 1 row")
    latin = train.head(20).copy()
    latin.loc[3, "education"] = "Caf\xe9"
    cases["not_utf8"] = (write("latin.csv", latin.to_csv(index=False).encode("latin-1")), "not UTF-8")
    cases["missing_column"] = (write("narrow.csv", train.drop(columns=["age"]).head(50).to_csv(index=False).encode()),
                               "lacks column(s) 'age'")
    cases["extra_column"] = (write("wide.csv", train.head(50).assign(extra=1).to_csv(index=False).encode()),
                             "has column(s) 'extra'")
    words = train.head(50).copy()
    words["age"] = words["age"].astype(object)
    words.loc[7, "age"] = "forty"
    cases["type_disagrees"] = (write("words.csv", words.to_csv(index=False).encode()), "column 'age': expected numbers")
    cases["not_a_table"] = (write("notes.txt", b"hello"), "unsupported file type")
    return cases


@pytest.mark.parametrize("case", ["empty", "header_only", "one_row", "not_utf8", "missing_column", "extra_column",
                                  "type_disagrees", "not_a_table"])
def test_bad_synthetic_input_is_one_clear_line(case, files, census, capsys):
    path, message = _bad_input_cases(files["folder"], census)[case]
    code, stdout, stderr = _run(["evaluate", "--real", files["train"], "--synthetic", path], capsys)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert message in stderr and str(path) in stderr or message in stderr and case in ("missing_column", "extra_column")
    assert "Traceback" not in stderr


def test_warnings_for_inf_mixed_types_all_null(files, census, capsys):
    folder = files["folder"]
    real = census.head(3000).copy()
    real["all_null"] = np.nan
    real["mixed"] = [str(i % 7) for i in range(len(real))]
    real.loc[5, "mixed"] = "seven"  # not "n/a": pandas reads that as missing
    synthetic = census.iloc[3000:6000].reset_index(drop=True).copy()
    synthetic["all_null"] = np.nan
    synthetic["mixed"] = [str(i % 7) for i in range(len(synthetic))]
    synthetic["wage_per_hour"] = synthetic["wage_per_hour"].astype(float)
    synthetic.loc[10, "wage_per_hour"] = np.inf
    real.to_csv(folder / "r.csv", index=False)
    synthetic.to_csv(folder / "s.csv", index=False)
    code, stdout, stderr = _run(["evaluate", "--real", folder / "r.csv", "--synthetic", folder / "s.csv"], capsys)
    assert code in (0, 1) and stderr == ""
    assert "column 'wage_per_hour': 1 infinite value(s) treated as missing" in stdout
    assert "column 'mixed': mixed types" in stdout
    assert "column 'all_null': every value is missing" in stdout
    assert "Skipped all_null" in stdout


def test_fifty_thousand_categories_do_not_crash(files, capsys):
    folder = files["folder"]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"code": [f"c{i}" for i in rng.integers(0, 50_000, 120_000)],
                          "value": rng.normal(size=120_000), "group": rng.choice(["a", "b"], 120_000)})
    frame.iloc[:60_000].to_csv(folder / "wide_r.csv", index=False)
    frame.iloc[60_000:].to_csv(folder / "wide_s.csv", index=False)
    metadata = folder / "wide.json"
    metadata.write_text(json.dumps({"code": "categorical"}))
    code, stdout, stderr = _run(["evaluate", "--real", folder / "wide_r.csv", "--synthetic", folder / "wide_s.csv",
                                 "--metadata", metadata], capsys)
    assert code in (0, 1), stderr
    assert "Skipped code: left out of pair trends" in stdout
    assert "code " in stdout.split("Worst columns:")[1]  # its marginal is still scored


def test_bad_policy_and_metadata(files, capsys):
    folder = files["folder"]
    (folder / "p.toml").write_text("[gates.colum_shapes]\nthreshold = 0.9\n")
    code, _, stderr = _run(["evaluate", "--real", files["train"], "--synthetic", files["fresh"],
                            "--policy", folder / "p.toml"], capsys)
    assert code == 2 and "[gates.colum_shapes] is not a gate" in stderr
    (folder / "m.json").write_text(json.dumps({"age": "money"}))
    code, _, stderr = _run(["evaluate", "--real", files["train"], "--synthetic", files["fresh"],
                            "--metadata", folder / "m.json"], capsys)
    assert code == 2 and "column 'age': sdtype 'money'" in stderr


def test_usage_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--real", "x.csv"])
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_users_add_without_a_terminal_or_password_is_one_line(tmp_path):
    """Issue 11: `users add` in a pipeline ended in an EOFError traceback."""
    env = {k: v for k, v in __import__("os").environ.items() if k != "REVIEW_DESK_PASSWORD"}
    run = subprocess.run([sys.executable, "-m", "core", "users", "add", "robin", "--database",
                          f"sqlite:///{tmp_path / 'store.sqlite3'}"], cwd=ROOT, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, env=env)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == "error: users add robin: no terminal to ask the password on; set $REVIEW_DESK_PASSWORD"
    ok = subprocess.run([sys.executable, "-m", "core", "users", "add", "robin", "--database",
                         f"sqlite:///{tmp_path / 'store.sqlite3'}"], cwd=ROOT, capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, env=env | {"REVIEW_DESK_PASSWORD": "a long enough secret 42"})
    assert ok.returncode == 0, ok.stderr


def test_a_file_over_the_memory_budget_is_refused_before_reading(files, capsys, monkeypatch):
    """A file whose parse would not fit is refused by its size, naming size and budget, without reading it."""
    import core.data.io as io

    folder = files["folder"]
    (folder / "budget.toml").write_text("[budget]\nmax_file_bytes = 500000\n")
    monkeypatch.setattr(io.Path, "read_bytes", lambda self: pytest.fail("read a file over the budget"))
    code, stdout, stderr = _run(["evaluate", "--real", files["train"], "--synthetic", files["fresh"],
                                 "--policy", folder / "budget.toml"], capsys)
    size = files["train"].stat().st_size
    assert code == 2 and stdout == ""
    assert stderr.strip() == (f"error: file {files['train']}: is {size / 1e6:.1f} MB, over the budget of 500.0 KB "
                              f"([budget] max_file_bytes; reading takes several times the file size in memory)")


def test_default_file_budget_is_a_thirty_second_of_memory():
    from core.data.io import Budget, physical_memory_bytes

    assert Budget().max_file_bytes == physical_memory_bytes() // 32 > 0
    assert Budget.from_section({"max_file_bytes": 10}).max_file_bytes == 10
