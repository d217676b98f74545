"""`python -m core evaluate|split|register` on folders of tables (relational mode), with the contract's exit codes."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.data.relational import (DataError, load_relational_metadata, modechoice_tables, read_table_folder,
                                  relational_metadata_from_dict, split_relational, table_hashes)

POLICY = "[calibration]\nresamples = 60\n"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """modechoice split twice by individuals: train / synthetic (fresh individuals) / holdout, as CSV folders."""
    base = tmp_path_factory.mktemp("relational")
    tables, metadata = modechoice_tables()
    (base / "metadata.json").write_text(json.dumps(metadata.to_sdv_dict()))
    (base / "policy.toml").write_text(POLICY)
    (base / "all").mkdir()
    for name, frame in tables.items():
        frame.to_csv(base / "all" / f"{name}.csv", index=False)
    return base


def _run(args, capsys):
    code = main([str(a) for a in args])
    return code, capsys.readouterr()


def test_split_keeps_each_individual_with_all_its_rows_and_is_reproducible(folders, capsys):
    code, out = _run(["split", "--metadata", folders / "metadata.json", "--real", folders / "all",
                      "--out-dir", folders / "s1", "--fraction", 0.3, "--seed", 7], capsys)
    assert code == 0, out.err
    manifest = json.loads(out.out)
    metadata = load_relational_metadata(folders / "metadata.json")
    train = read_table_folder(folders / "s1" / "train", metadata)
    holdout = read_table_folder(folders / "s1" / "holdout", metadata)
    assert manifest["split_on"] == "individuals" and manifest["seed"] == 7
    assert set(train["individuals"]["individual"]).isdisjoint(holdout["individuals"]["individual"])
    for side in (train, holdout):  # every child travels with its parent
        assert set(side["modes"]["individual"]) == set(side["individuals"]["individual"])
        assert (side["modes"]["individual"].value_counts() == 4).all()
    assert len(holdout["individuals"]) == pytest.approx(0.3 * 210, abs=20)
    assert manifest["holdout_sha256"] == table_hashes(holdout)
    # seeded and hashed: the same seed gives the same sides, whatever the row order
    shuffled, _ = modechoice_tables()
    shuffled = {t: f.sample(frac=1.0, random_state=1) for t, f in shuffled.items()}
    again = split_relational(shuffled, metadata, 0.3, seed=7)
    assert set(again.holdout["individuals"]["individual"]) == set(holdout["individuals"]["individual"])
    other = split_relational(shuffled, metadata, 0.3, seed=8)
    assert set(other.holdout["individuals"]["individual"]) != set(holdout["individuals"]["individual"])


def test_split_shares_lookup_parents_and_says_so():
    from core.data.relational import nycflights_tables

    tables, metadata = nycflights_tables(flights=800, seed=1)
    split = split_relational(tables, metadata, 0.4, seed=0)
    assert split.manifest["split_on"] == "planes"  # the root whose subtree holds the most rows
    assert set(split.manifest["shared_tables"]) == {"airlines", "airports"}
    assert "copied whole to both sides" in split.manifest["shared_note"]
    for table in ("airlines", "airports"):
        assert split.train[table].equals(split.holdout[table])
    assert set(split.train["planes"]["tailnum"]).isdisjoint(split.holdout["planes"]["tailnum"])
    assert len(split.train["flights"]) + len(split.holdout["flights"]) == len(tables["flights"])
    planes_of = lambda side: set(side["flights"]["tailnum"].dropna()) & set(tables["planes"]["tailnum"])
    assert planes_of(split.train) <= set(split.train["planes"]["tailnum"])
    assert planes_of(split.holdout) <= set(split.holdout["planes"]["tailnum"])


@pytest.fixture(scope="module")
def sides(folders):
    main(["split", "--metadata", str(folders / "metadata.json"), "--real", str(folders / "all"),
          "--out-dir", str(folders / "a"), "--fraction", "0.3", "--seed", "1"])
    main(["split", "--metadata", str(folders / "metadata.json"), "--real", str(folders / "a" / "train"),
          "--out-dir", str(folders / "b"), "--fraction", "0.4", "--seed", "2"])
    return {"real": folders / "b" / "train", "synthetic": folders / "b" / "holdout", "holdout": folders / "a" / "holdout"}


def test_evaluate_clean_folders_passes_and_reports_tables_and_relationships(folders, sides, capsys):
    code, out = _run(["evaluate", "--metadata", folders / "metadata.json", "--real", sides["real"],
                      "--synthetic", sides["synthetic"], "--holdout", sides["holdout"], "--no-privacy",
                      "--policy", folders / "policy.toml", "--json", folders / "report.json"], capsys)
    assert code == 0, out.out + out.err
    report = json.loads((folders / "report.json").read_text())
    assert report["verdict"] == "pass" and set(report["tables"]) == {"individuals", "modes"}
    for key in ("schema_version", "inputs", "fidelity", "validity", "gates"):
        assert key in report  # the single-table keys stay
    assert report["inputs"]["real"]["tables"]["modes"]["rows"] == len(pd.read_csv(sides["real"] / "modes.csv"))
    assert report["tables"]["modes"]["sha256"]["synthetic"] == table_hashes(
        read_table_folder(sides["synthetic"], load_relational_metadata(folders / "metadata.json")))["modes"]
    names = {(g["name"], g.get("table"), g.get("relationship")) for g in report["gates"]}
    label = "individuals.individual -> modes.individual"
    assert {("referential_integrity", None, label), ("cardinality", None, label),
            ("intertable_trends", None, label), ("column_shapes", "modes", None)} <= names
    (relationship,) = report["relationships"]
    assert relationship["cardinality"]["real"] == {"4": len(pd.read_csv(sides["real"] / "individuals.csv"))}
    assert "individual" not in report["tables"]["modes"]["fidelity"]["column_shapes"]["columns"]  # keys excluded


def test_evaluate_planted_orphans_exit_1_naming_the_gate(folders, sides, capsys, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    modes = pd.read_csv(sides["synthetic"] / "modes.csv")
    modes.loc[modes.index[:30], "individual"] = 10_000 + np.arange(30)
    modes.to_csv(bad / "modes.csv", index=False)
    pd.read_csv(sides["synthetic"] / "individuals.csv").to_csv(bad / "individuals.csv", index=False)
    code, out = _run(["evaluate", "--metadata", folders / "metadata.json", "--real", sides["real"],
                      "--synthetic", bad, "--no-privacy", "--policy", folders / "policy.toml"], capsys)
    assert code == 1
    assert "[FAIL] individuals.individual -> modes.individual: referential_integrity" in out.out


def test_bad_input_is_one_line_naming_file_table_and_column(folders, sides, capsys, tmp_path):
    meta = json.loads((folders / "metadata.json").read_text())
    meta["tables"]["modes"]["columns"]["gc"] = {"sdtype": 7}
    (tmp_path / "bad_meta.json").write_text(json.dumps(meta))
    cases = [
        (["--metadata", tmp_path / "bad_meta.json"], "table 'modes', column 'gc'"),
        (["--metadata", folders / "metadata.json", "--synthetic-missing"], "no file for table(s) 'modes'"),
    ]
    empty = tmp_path / "one_table"
    empty.mkdir()
    pd.read_csv(sides["synthetic"] / "individuals.csv").to_csv(empty / "individuals.csv", index=False)
    for extra, expected in cases:
        synthetic = empty if "--synthetic-missing" in extra else sides["synthetic"]
        extra = [e for e in extra if e != "--synthetic-missing"]
        code, out = _run(["evaluate", *extra, "--real", sides["real"], "--synthetic", synthetic], capsys)
        assert code == 2 and expected in out.err, out.err
        assert len(out.err.strip().splitlines()) == 1
    code, out = _run(["evaluate", "--real", sides["real"], "--synthetic", sides["synthetic"]], capsys)
    assert code == 2 and "needs --metadata" in out.err


def test_metadata_errors_name_table_and_column():
    good = {"tables": {"p": {"primary_key": "id", "columns": {"id": {"sdtype": "id"}}},
                       "c": {"primary_key": "cid", "columns": {"cid": {"sdtype": "id"}, "pid": {"sdtype": "id"}}}},
            "relationships": [{"parent_table_name": "p", "parent_primary_key": "id", "child_table_name": "c",
                               "child_foreign_key": "pid"}]}
    metadata = relational_metadata_from_dict(good, "m.json")
    assert metadata.root_tables() == ["p"] and metadata.children("p")[0].child_table == "c"
    from sdv.metadata import Metadata

    assert set(Metadata.load_from_dict(metadata.to_sdv_dict()).tables) == {"p", "c"}
    bad_fk = json.loads(json.dumps(good))
    bad_fk["relationships"][0]["child_foreign_key"] = "nope"
    with pytest.raises(DataError, match=r"file m\.json, table 'c', column 'nope'"):
        relational_metadata_from_dict(bad_fk, "m.json")
    cycle = json.loads(json.dumps(good))
    cycle["tables"]["p"]["columns"]["cref"] = {"sdtype": "id"}
    cycle["relationships"].append({"parent_table_name": "c", "parent_primary_key": "cid", "child_table_name": "p",
                                   "child_foreign_key": "cref"})
    with pytest.raises(DataError, match="cycle"):
        relational_metadata_from_dict(cycle, "m.json")


def test_register_stores_every_table_hash_and_approve_checks_the_folder(folders, sides, capsys, monkeypatch):
    from core.review import auth
    from core.store import read_session, sqlite_url
    from core.store.models import Generation

    auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    url = sqlite_url(folders / "store.sqlite3")
    monkeypatch.setenv("REVIEW_DESK_PASSWORD", "pw-maker-123")
    assert _run(["users", "add", "maker", "--role", "reviewer", "--database", url], capsys)[0] == 0
    # the training mix per table, as the relational demo's manifest records it
    (folders / "manifest.json").write_text(json.dumps({"method": "HMASynthesizer", "seed": 0, "parameters": {},
                                                       "library_versions": {"sdv": "2.0.0"},
                                                       "training_mix": {"real_rows": {"individuals": 3, "modes": 12},
                                                                        "synthetic_rows": 0}}))
    code, out = _run(["register", "--metadata", folders / "metadata.json", "--real", sides["real"],
                      "--synthetic", sides["synthetic"], "--holdout", sides["holdout"], "--manifest",
                      folders / "manifest.json", "--user", "maker", "--database", url, "--policy",
                      folders / "policy.toml"], capsys)
    assert code == 0, out.err
    generation_id = int(out.out.strip().splitlines()[-1])
    from core.data.io import sha256_bytes
    from core.data.relational import combined_sha256

    with read_session(url) as session:
        generation = session.get(Generation, generation_id)
        manifest = json.loads(generation.manifest_json)
        files = {p.stem: sha256_bytes(p.read_bytes()) for p in sorted(sides["synthetic"].iterdir())}
        assert manifest["table_file_sha256"]["synthetic"] == files
        assert set(manifest["table_file_sha256"]["real"]) == {"individuals", "modes"}
        assert generation.synthetic_sha256 == combined_sha256(files)
        assert manifest["training_mix"] == {"real_rows": 15, "real_rows_by_table": {"individuals": 3, "modes": 12},
                                            "synthetic_rows": 0}
        assert generation.real_rows_seen == 15
    code, out = _run(["gate", "--generation", generation_id, "--synthetic", sides["synthetic"], "--database", url],
                     capsys)
    assert code == 1 and "not approved" in out.err  # the folder's hash matched; approval is what is missing


def test_privacy_on_the_join_is_reported_per_relationship_and_catches_copied_families():
    """A synthetic set that copies training individuals with their mode rows fails exact_copies on the join;
    a fresh split of real individuals does not."""
    from core.checks.relational import evaluate_relational
    from core.policy import parse_policy

    tables, metadata = modechoice_tables()
    outer = split_relational(tables, metadata, 0.3, seed=11)
    inner = split_relational(outer.train, metadata, 0.4, seed=12)
    policy = parse_policy(POLICY, "p.toml")
    label = "individuals.individual -> modes.individual"

    def join_gates(synthetic):
        evaluation = evaluate_relational(inner.train, synthetic, metadata, outer.holdout, policy=policy)
        (relationship,) = evaluation.to_dict()["relationships"]
        assert "exact_copies" in relationship["privacy"]
        return {g.name: g for g in evaluation.gates if g.relationship == label and g.name != "cardinality"}

    copied = {t: f.head(len(inner.holdout[t])).reset_index(drop=True) for t, f in inner.train.items()}
    copied["modes"] = inner.train["modes"][inner.train["modes"]["individual"].isin(copied["individuals"]["individual"])]
    assert not join_gates(copied)["exact_copies"].passed
    assert join_gates(inner.holdout)["exact_copies"].passed
