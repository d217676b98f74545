"""The bad-input corpus through `python -m core evaluate`, `drift` and `split`: the right exit code, one clear
line naming the file and column, never a traceback, never exit 1 for bad input; and an internal error in
any stage of evaluate ends as exit 3 with one line naming that stage.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from tests.conftest import ROOT
from tests.core.bad_inputs.corpus import COMMANDS, Case, cases, clean_frame, folder_case

CASES = {case.name: case for case in cases()}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad_inputs")


def _args(command: str, case: Case, folder: Path) -> list[str]:
    path = case.write(folder)
    real = case.real(folder) if case.real else path
    args = {"evaluate": ["evaluate", "--real", str(real), "--synthetic", str(path)],
            "drift": ["drift", "--reference", str(real), "--current", str(path)],
            "split": ["split", "--real", str(path), "--out-dir", str(folder / "split" / case.name)]}[command]
    if case.policy:
        policy = folder / f"{case.name}.toml"
        policy.write_text(case.policy)
        args += ["--policy", str(policy)]
    return args


def _params():
    for case in CASES.values():
        for command in COMMANDS:
            marks = [pytest.mark.xfail(reason=case.xfail, strict=False)] if case.xfail and command == "evaluate" else []
            yield pytest.param(case.name, command, marks=marks, id=f"{case.name}-{command}")


def test_corpus_has_at_least_40_files():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name, command", list(_params()))
def test_corpus(name, command, folder, capsys):
    case = CASES[name]
    expect = case.expect[command]
    code = main(_args(command, case, folder))
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    assert code != 3, out.err  # an internal error is never the answer to an input
    assert code in expect.codes, (code, out.err)
    if code == 2:
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.err
    if expect.fragment is not None:
        assert expect.fragment in (out.err if code == 2 else out.out + out.err)


def test_a_folder_named_csv_is_refused(folder, capsys):
    path = folder_case(folder)
    assert main(["evaluate", "--real", str(path), "--synthetic", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: file {path}: is a folder, not a file; a folder of tables "
                                               "needs --metadata (SDV multi-table metadata JSON)")


def test_semicolon_files_through_the_real_entry_point(folder):
    """Issue 11: two ';'-delimited files gave 'Verdict: PASS', score nan and exit 0."""
    args = _args("evaluate", CASES["semicolon"], folder)
    run = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                         env=os.environ | {"REVIEW_DESK_CACHE": str(folder / "cache")})
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1
    assert "no column can be compared" in run.stderr and "semi.csv looks ';'-delimited" in run.stderr


def test_pair_sample_is_seeded_recorded_and_exactly_the_budget(folder, capsys):
    import json

    case = CASES["pairs_over_budget"]
    reports = []
    for seed in (0, 0, 1):
        out = folder / f"pairs_{seed}_{len(reports)}.json"
        code = main(_args("evaluate", case, folder) + ["--seed", str(seed), "--json", str(out)])
        assert code in (0, 1)
        reports.append(json.loads(out.read_text()))
    capsys.readouterr()
    pairs = [{tuple(p["columns"]) for p in r["fidelity"]["column_pair_trends"]["pairs"]} for r in reports]
    assert len(pairs[0]) == 100  # 60 random normal columns: every sampled pair is scorable
    assert pairs[0] == pairs[1] and pairs[0] != pairs[2]
    assert len(reports[0]["fidelity"]["column_shapes"]["columns"]) == 60  # every column's shape is still scored
    assert any("seeded sample (seed 1) of 100 pairs" in w for w in reports[2]["warnings"])


def test_bad_budget_is_a_policy_error(folder, capsys):
    policy = folder / "bad_budget.toml"
    policy.write_text("[budget]\nmax_colums = 5\n")
    path = CASES["constant_number"].write(folder)
    assert main(["evaluate", "--real", str(path), "--synthetic", str(path), "--policy", str(policy)]) == 2
    assert "[budget] has unknown key(s) max_colums" in capsys.readouterr().err
    policy.write_text("[budget]\nmax_pairs = 0\n")
    assert main(["drift", "--reference", str(path), "--current", str(path), "--policy", str(policy)]) == 2
    assert "[budget] max_pairs must be a whole number >= 1" in capsys.readouterr().err


# --- exit 3: an unexpected error in a stage ------------------------------------------------------------------

STAGES = {  # stage -> (module attribute that runs in it, needs holdout and target)
    "loading": ("core.data.io.resolve_metadata", False),
    "encoding": ("core.report.encoded_inputs", False),
    "fidelity": ("core.report.evaluate_fidelity", False),
    "validity": ("core.report.evaluate_validity", False),
    "privacy": ("core.report.evaluate_privacy", True),
    "privacy (epsilon audit)": ("core.report.run_epsilon_audit", True),
    "utility": ("core.report.evaluate_utility", True),
    "structure": ("core.report.evaluate_structure", True),
    "report": ("core.cli.summary_text", False),
}


@pytest.fixture(scope="module")
def clean_files(folder) -> dict[str, Path]:
    paths = {}
    for role, seed in (("real", 0), ("synthetic", 1), ("holdout", 2)):
        paths[role] = folder / f"clean_{role}.csv"
        clean_frame(seed).to_csv(paths[role], index=False)
    return paths


@pytest.mark.parametrize("stage", list(STAGES))
def test_internal_error_exits_3_naming_the_stage(stage, clean_files, monkeypatch, capsys):
    target, full = STAGES[stage]
    stage = stage.split(" (")[0]  # the stage the CLI names; the part in brackets tells test cases apart
    module, attribute = target.rsplit(".", 1)

    def broken(*args, **kwargs):
        raise ValueError("planted failure\nsecond line")

    monkeypatch.setattr(importlib.import_module(module), attribute, broken)
    args = ["evaluate", "--real", str(clean_files["real"]), "--synthetic", str(clean_files["synthetic"])]
    if full:
        args += ["--holdout", str(clean_files["holdout"]), "--target", "segment"]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: internal error in stage {stage} (ValueError: planted failure second line); "
                                f"rerun with --debug for the traceback"]
    assert main(args + ["--debug"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "raise ValueError" in err
    assert err.splitlines()[-1].startswith(f"error: internal error in stage {stage} (ValueError")


def test_internal_error_in_drift_and_split_exits_3(clean_files, monkeypatch, capsys):
    import core.checks.drift
    import core.data.holdout

    monkeypatch.setattr(core.checks.drift, "detect_drift", lambda *a, **k: 1 / 0)
    assert main(["drift", "--reference", str(clean_files["real"]), "--current", str(clean_files["synthetic"])]) == 3
    assert capsys.readouterr().err.startswith("error: internal error in stage drift (ZeroDivisionError")
    monkeypatch.setattr(core.data.holdout, "split_holdout", lambda *a, **k: [][1])
    assert main(["split", "--real", str(clean_files["real"]), "--out-dir", str(clean_files["real"].parent / "s")]) == 3
    assert capsys.readouterr().err.startswith("error: internal error in stage split (IndexError")
