"""The pipeline side of sign-off: register a generation, check status, export, verify, and gate on approval."""
from __future__ import annotations

import json

import pytest

from core.review import auth
from core.cli import main
from core.review.signoff import approve
from core.store import session_scope, sqlite_url, submit_new_review
from tests.conftest import three_way_split


@pytest.fixture(scope="module")
def setup(tmp_path_factory, census):
    folder = tmp_path_factory.mktemp("signoff")
    auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    train, holdout, fresh = three_way_split(census.head(3000), seed=1)
    for name, frame in (("train", train), ("holdout", holdout), ("synthetic", fresh)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"method": "GaussianCopulaSynthesizer", "seed": 3,
                                                      "parameters": {}, "library_versions": {"sdv": "2.0.0"}}))
    return folder, sqlite_url(folder / "store.sqlite3")


def _run(args, capsys):
    code = main([str(a) for a in args])
    return code, capsys.readouterr()


def test_register_status_gate_export_verify(setup, capsys, monkeypatch):
    folder, url = setup
    for name, role in (("maker", "reviewer"), ("rita", "reviewer"), ("alex", "approver")):
        monkeypatch.setenv("REVIEW_DESK_PASSWORD", f"pw-{name}-123")
        assert _run(["users", "add", name, "--role", role, "--database", url], capsys)[0] == 0
    code, out = _run(["register", "--real", folder / "train.csv", "--synthetic", folder / "synthetic.csv",
                      "--holdout", folder / "holdout.csv", "--manifest", folder / "manifest.json",
                      "--user", "maker", "--database", url], capsys)
    assert code == 0, out.err
    generation = int(out.out.strip().splitlines()[-1])

    code, out = _run(["gate", "--generation", generation, "--synthetic", folder / "synthetic.csv", "--database", url], capsys)
    assert code == 1 and "not approved" in out.err

    code, out = _run(["signoff", "status", "--generation", generation, "--database", url], capsys)
    status = json.loads(out.out)
    assert code == 0 and status["summary"]["state"] == "draft"
    assert status["manifest"]["seed"] == 3 and status["evaluations"]
    synthetic_sha = status["summary"]["synthetic_sha256"]

    with session_scope(url) as session:
        submit_new_review(session, generation, reviewer="rita", records_read=200, notes=[], comment="read 200")
    with session_scope(url) as session:
        approve(session, generation, "alex", "fit to scale", None, synthetic_sha, None, attested_rules=range(1, 11))

    code, out = _run(["gate", "--generation", generation, "--synthetic", folder / "synthetic.csv", "--database", url], capsys)
    assert code == 0, out.err
    # The file changes after approval: the gate refuses it.
    (folder / "synthetic2.csv").write_text((folder / "synthetic.csv").read_text().replace(",Male,", ",Female,", 1))
    code, out = _run(["gate", "--generation", generation, "--synthetic", folder / "synthetic2.csv", "--database", url], capsys)
    assert code == 1 and "does not match the approved" in out.err

    code, out = _run(["signoff", "export", "--generation", generation, "--out", folder / "bundle.json",
                      "--database", url], capsys)
    bundle = json.loads((folder / "bundle.json").read_text())
    assert code == 0 and bundle["real_records"]
    code, out = _run(["signoff", "verify", "--database", url], capsys)
    assert code == 0 and json.loads(out.out)["ok"] is True


def test_bad_manifest_is_one_line(setup, capsys):
    folder, url = setup
    (folder / "bad.json").write_text("{not json")
    code, out = _run(["register", "--real", folder / "train.csv", "--synthetic", folder / "synthetic.csv",
                      "--manifest", folder / "bad.json", "--user", "maker", "--database", url], capsys)
    assert code == 2 and "bad.json" in out.err and len(out.err.strip().splitlines()) == 1
