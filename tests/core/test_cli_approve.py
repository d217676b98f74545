"""`signoff approve` refuses what the Sign-off page refuses (same core rules); status and export are redacted."""
from __future__ import annotations

import json

import pytest

from core.cli import main
from core.policy import load_policy
from core.review import auth
from core.review.signoff import approval_checklist
from core.store import NoteInput, audit_events, init_db, read_session, session_scope, sqlite_url, submit_new_review
from tests.conftest import three_way_split


@pytest.fixture(scope="module")
def registered(tmp_path_factory, census):
    folder = tmp_path_factory.mktemp("approve")
    auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    train, holdout, fresh = three_way_split(census.head(1500), seed=2)
    # A synthetic table that lost a real category: coverage's detail then names real category values.
    column = next(c for c in fresh.columns if fresh[c].dtype == object and fresh[c].nunique() > 3)
    lost = fresh[column].value_counts().index[1]  # common enough that its absence is judged
    fresh = fresh[fresh[column] != lost]
    for name, frame in (("train", train), ("holdout", holdout), ("synthetic", fresh)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"method": "GaussianCopulaSynthesizer", "seed": 3,
                                                      "parameters": {}, "library_versions": {"sdv": "2.0.0"}}))
    url = sqlite_url(folder / "store.sqlite3")
    init_db(url)
    with session_scope(url) as s:
        for name, role in (("maker", "approver"), ("rita", "reviewer"), ("alex", "approver")):
            auth.create_user(s, name, "password123", role)
    code = main(["register", "--real", str(folder / "train.csv"), "--synthetic", str(folder / "synthetic.csv"),
                 "--holdout", str(folder / "holdout.csv"), "--manifest", str(folder / "manifest.json"),
                 "--user", "maker", "--database", url])
    assert code == 0
    with read_session(url) as s:
        from core.store import list_generations

        generation = list_generations(s)[0]
    return folder, url, generation.id, generation.synthetic_sha256, str(lost)


def _approve(folder, url, generation, capsys, attest="1-10", user="alex"):
    from core.review.signoff import generation_gates

    with read_session(url) as s:
        failed = [g["name"] for g in generation_gates(s, generation, load_policy()) if not g["passed"]]
    waivers = sum((["--waiver", f"{g}=accepted for the test"] for g in failed), [])
    code = main(["signoff", "approve", "--generation", str(generation), "--user", user, "--synthetic",
                 str(folder / "synthetic.csv"), "--attest", attest, "--comment", "checked", "--database", url,
                 *waivers])
    return code, capsys.readouterr()


def _page_first_refusal(url, generation, sha, attested):
    """What the Sign-off page's checklist (the same core function) says first."""
    with read_session(url) as s:
        checks = approval_checklist(s, generation, "alex", None, sha, load_policy(), attested_rules=attested)
    return next((c.rule for c in checks if not c.passed and c.rule != "gate_failed"), None)


def test_cli_refuses_what_the_page_refuses(registered, capsys):
    folder, url, generation, sha, _ = registered
    # Only the creator reviewed: the creator's own review does not count.
    with session_scope(url) as s:
        submit_new_review(s, generation, reviewer="maker", records_read=500, comment="my own")
    assert _page_first_refusal(url, generation, sha, range(1, 11)) == "required_reviewers"
    code, out = _approve(folder, url, generation, capsys)
    assert code == 1 and "refused by rule 'required_reviewers'" in out.err
    assert "the creator's own review is not counted" in out.err
    with session_scope(url) as s:
        submit_new_review(s, generation, reviewer="rita", records_read=250, comment="read 250",
                          notes=[NoteInput(row_id="3", flag="implausible", source="real", row={"age": 41})])
    # Nine of ten rules confirmed: refused on the page (button disabled) and by the CLI.
    assert _page_first_refusal(url, generation, sha, range(1, 10)) == "attestation"
    code, out = _approve(folder, url, generation, capsys, attest="1-9")
    assert code == 1 and "refused by rule 'attestation'" in out.err and "not confirmed: 10\n" in out.err
    code, out = _approve(folder, url, generation, capsys, user="maker")
    assert code == 1 and "refused by rule 'four_eyes'" in out.err
    code, out = _approve(folder, url, generation, capsys)
    assert code == 0, out.err


def test_status_and_default_export_hold_no_real_rows_or_categories(registered, capsys):
    folder, url, generation, _, lost = registered
    assert main(["signoff", "status", "--generation", str(generation), "--database", url]) == 0
    status = capsys.readouterr().out
    assert '"age": 41' not in status and f"'{lost}'" not in status
    assert json.loads(status)["real_records"]["redacted_note_rows"] == 1
    assert main(["signoff", "export", "--generation", str(generation), "--database", url]) == 0
    text = capsys.readouterr().out
    bundle = json.loads(text)
    assert f"'{lost}'" not in text and '"age": 41' not in text
    assert bundle["real_records"]["redacted_category_fields"] >= 2  # missing_categories + coverage detail
    assert bundle["real_records"]["redacted_report_fields"] >= bundle["real_records"]["redacted_category_fields"]
    # Real records need an approver and are an audit event.
    assert main(["signoff", "export", "--generation", str(generation), "--include-real-records", "--user", "rita",
                 "--database", url]) == 2
    assert "approver" in capsys.readouterr().err
    assert main(["signoff", "export", "--generation", str(generation), "--include-real-records", "--user", "alex",
                 "--database", url]) == 0
    text = capsys.readouterr().out
    assert f"'{lost}'" in text and '"age": 41' in text
    with read_session(url) as s:
        events = audit_events(s, action="export.include_real_records")
    assert [e["actor"] for e in events] == ["alex"]


def test_cli_creates_the_first_admin_and_unlocks_accounts(tmp_path, capsys, monkeypatch):
    from core.review.auth import sign_in

    url = sqlite_url(tmp_path / "fresh.sqlite3")
    monkeypatch.setenv("REVIEW_DESK_PASSWORD", "password123")
    assert main(["users", "add", "root", "--role", "admin", "--database", url]) == 0
    assert main(["users", "add", "rita", "--role", "reviewer", "--database", url]) == 0
    from core.policy import parse_policy

    policy = parse_policy("[auth]\nmax_failed_attempts = 1\nbase_delay_seconds = 0\n", "auth")
    with session_scope(url) as s:
        assert not sign_in(s, "rita", "wrong password", client="cli-test", policy=policy).ok
    with session_scope(url) as s:
        assert sign_in(s, "rita", "password123", client="cli-test", policy=policy).locked
    assert main(["users", "unlock", "rita", "--actor", "rita", "--database", url]) == 2  # not an admin
    assert main(["users", "unlock", "rita", "--actor", "root", "--database", url]) == 0
    with session_scope(url) as s:
        assert sign_in(s, "rita", "password123", client="cli-test", policy=policy).ok
