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


def _approved_store(setup, capsys, monkeypatch, name: str):
    """A store of its own with one registered generation (a copy of one built once); (url, generation id, folder)."""
    import shutil

    from core.store import dispose_engines

    folder, _ = setup
    template = folder / "template.sqlite3"
    if not template.exists():
        _build_store(folder, sqlite_url(template), capsys, monkeypatch)
        dispose_engines()  # closes the connections, checkpointing the WAL into the file
    target = folder / f"{name}.sqlite3"
    shutil.copy(template, target)
    shutil.copy(folder / "template.sqlite3.signing-key", folder / f"{name}.sqlite3.signing-key")
    return sqlite_url(target), 1, folder


def _build_store(folder, url, capsys, monkeypatch) -> None:
    for user, role in (("maker", "reviewer"), ("rita", "reviewer"), ("alex", "approver")):
        monkeypatch.setenv("REVIEW_DESK_PASSWORD", f"pw-{user}-123")
        assert _run(["users", "add", user, "--role", role, "--database", url], capsys)[0] == 0
    code, out = _run(["register", "--real", folder / "train.csv", "--synthetic", folder / "synthetic.csv",
                      "--holdout", folder / "holdout.csv", "--manifest", folder / "manifest.json",
                      "--user", "maker", "--database", url], capsys)
    assert code == 0, out.err
    assert int(out.out.strip().splitlines()[-1]) == 1


def test_forged_approval_row_fails_gate_and_verify(setup, capsys, monkeypatch):
    from sqlalchemy import create_engine, text

    url, generation, folder = _approved_store(setup, capsys, monkeypatch, "forged")
    status = json.loads(_run(["signoff", "status", "--generation", generation, "--database", url], capsys)[1].out)
    sha = status["summary"]["synthetic_sha256"]
    engine = create_engine(url)
    with engine.begin() as conn:  # database access alone: one INSERT, no key
        conn.execute(text(
            "INSERT INTO decision (generation_id, kind, signer, at, comment, waivers_json, evaluation_id, "
            "review_ids_json, synthetic_sha256, evidence_sha256, policy_toml, policy_sha256, round) VALUES "
            f"({generation}, 'approved', 'alex', CURRENT_TIMESTAMP, 'forged', '[]', NULL, '[]', '{sha}', "
            f"'{'0' * 64}', '', '{'0' * 64}', 1)"))
    engine.dispose()
    code, out = _run(["gate", "--generation", generation, "--synthetic", folder / "synthetic.csv", "--database", url],
                     capsys)
    assert code == 1 and "does not verify" in out.err and "decision row" in out.err
    code, out = _run(["signoff", "verify", "--database", url], capsys)
    result = json.loads(out.out)
    assert code == 1 and result["ok"] is False
    assert any("decision row 1" in p for p in result["problems"])


def test_anchor_then_verify_against_it(setup, capsys, monkeypatch):
    url, generation, folder = _approved_store(setup, capsys, monkeypatch, "anchored")
    anchor = folder / "anchor.json"
    code, out = _run(["signoff", "anchor", "--database", url, "--out", anchor], capsys)
    assert code == 0 and json.loads(anchor.read_text())["event_id"] >= 1
    code, out = _run(["signoff", "verify", "--database", url, "--anchor", anchor], capsys)
    assert code == 0 and json.loads(out.out)["anchor"]["ok"] is True
    code, out = _run(["signoff", "verify", "--database", url, "--anchor", "ab" * 32], capsys)
    assert code == 1 and "not in the chain" in json.loads(out.out)["reason"]
    code, out = _run(["signoff", "verify", "--database", url, "--anchor", folder / "no-anchor.json"], capsys)
    assert code == 2 and len(out.err.strip().splitlines()) == 1


def test_mistyped_store_is_refused_and_not_created(setup, capsys):
    folder, _ = setup
    missing = folder / "typo.sqlite3"
    for args in (["signoff", "verify"], ["signoff", "status", "--generation", "1"], ["users", "list"],
                 ["gate", "--generation", "1", "--synthetic", folder / "synthetic.csv"]):
        code, out = _run(args + ["--database", sqlite_url(missing)], capsys)
        assert code == 2 and "does not exist" in out.err and len(out.err.strip().splitlines()) == 1, args
    assert not missing.exists()


def test_unreachable_or_refused_store_is_one_line_without_the_password(capsys):
    for url in ("postgresql+psycopg://review:s3cret-pw@127.0.0.1:1/none",):
        code, out = _run(["signoff", "verify", "--database", url], capsys)
        assert code == 2 and len(out.err.strip().splitlines()) == 1
        assert "s3cret-pw" not in out.err and "***" in out.err


def test_wrong_password_is_one_line_without_it(capsys):
    import os

    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL is not set")
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["TEST_DATABASE_URL"]).set(password="wr0ng-pass").render_as_string(hide_password=False)
    code, out = _run(["signoff", "verify", "--database", url], capsys)
    assert code == 2 and len(out.err.strip().splitlines()) == 1
    assert "wr0ng-pass" not in out.err and "password authentication failed" in out.err


def test_locked_store_is_one_line(setup, capsys, monkeypatch):
    import sqlite3

    import core.store.engine as store_engine

    folder, _ = setup
    url = sqlite_url(folder / "locked.sqlite3")
    monkeypatch.setenv("REVIEW_DESK_PASSWORD", "pw-first-123")
    assert _run(["users", "add", "first", "--database", url], capsys)[0] == 0
    monkeypatch.setattr(store_engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    store_engine.dispose_engines()
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        monkeypatch.setenv("REVIEW_DESK_PASSWORD", "pw-someone-123")
        code, out = _run(["users", "add", "someone", "--database", url], capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        store_engine.dispose_engines()
    assert code == 2 and "locked" in out.err and len(out.err.strip().splitlines()) == 1
