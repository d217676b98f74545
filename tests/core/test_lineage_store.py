"""Chains recorded in the store and rebuilt from it: the recursive one is warned and fails the gate, not the fresh."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.review import auth
from core.errors import InputError
from core.checks.lineage import GenerationLink, lineage_gate, lineage_gate_value
from core.review.lineage_store import chain_tips, lineage_from_store, register_chain
from core.policy import parse_policy
from core.store import init_db, read_session, session_scope, sqlite_url

auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
META = {"color": "categorical", "size": "numerical"}


def _original() -> pd.DataFrame:
    colors = ["a"] * 80 + ["b"] * 10 + ["c"] * 5 + ["d"] * 5
    return pd.DataFrame({"color": colors, "size": np.arange(100, dtype=float)})


def _chains(original: pd.DataFrame) -> dict[str, list[GenerationLink]]:
    """Recursive: each cycle drops a rare category and trims the tails, fitted on synthetic rows only. Fresh: copies."""
    step1 = original[original["color"] != "d"].assign(size=lambda f: f["size"].clip(3, 96))
    step2 = step1[step1["color"] != "c"].assign(size=lambda f: f["size"].clip(8, 90))
    recursive = [GenerationLink("g1", None, 100, 0, 100, original), GenerationLink("g2", "g1", 0, 100, 0, step1),
                 GenerationLink("g3", "g2", 0, 100, 0, step2)]
    fresh = [GenerationLink("g1", None, 100, 0, 100, original), GenerationLink("g2", "g1", 100, 100, 100, original),
             GenerationLink("g3", "g2", 100, 100, 100, original)]
    return {"recursive": recursive, "fresh": fresh}


@pytest.fixture
def store(tmp_path):
    url = sqlite_url(tmp_path / "store.sqlite3")
    engine = init_db(url)
    with session_scope(engine) as s:
        auth.create_user(s, "lineage-demo", None, role="reviewer")
    yield engine
    engine.dispose()


def test_chains_rebuilt_from_the_store_warn_the_recursive_one_only(store, tmp_path):
    cache = tmp_path / "tables"
    original = _original()
    ids = {}
    with session_scope(store) as s:
        for name, links in _chains(original).items():
            ids[name] = register_chain(s, original, links, name=name, metadata=META, created_by="lineage-demo",
                                       cache_dir=cache)
    assert len(list(cache.glob("*.csv"))) == 3  # original, step1, step2: tables are kept once by content hash
    with read_session(store) as s:
        assert chain_tips(s) == [ids["fresh"][-1], ids["recursive"][-1]]
        recursive = lineage_from_store(s, ids["recursive"][-1], cache_dir=cache)
        fresh = lineage_from_store(s, ids["fresh"][-1], cache_dir=cache)
        middle = lineage_from_store(s, ids["recursive"][1], cache_dir=cache)

    assert recursive.generation_ids == ids["recursive"] and recursive.name == "recursive"
    assert [c.synthetic_share for c in recursive.result.cycles] == [0.0, 1.0, 1.0]
    assert [c.n_fresh_real_rows for c in recursive.result.cycles] == [100, 0, 0]
    assert recursive.result.recursive_training and recursive.result.collapse_in_progress
    assert sum("recursive training" in w for w in recursive.result.warnings) == 2
    assert lineage_gate_value(recursive.result) == 0.0
    assert not lineage_gate(recursive.result).passed

    assert [c.synthetic_share for c in fresh.result.cycles] == [0.0, 0.5, 0.5]
    assert fresh.result.warnings == []
    assert lineage_gate_value(fresh.result) == pytest.approx(1.0)
    assert lineage_gate(fresh.result, parse_policy("[gates.lineage]\nthreshold = 0.9\n")).passed
    assert middle.generation_ids == ids["recursive"][:2]  # a chain is read from its root up to the generation


def test_the_signoff_rules_see_the_lineage_gate(store, tmp_path, monkeypatch):
    from core.policy import load_policy
    from core.review.signoff import generation_gates

    monkeypatch.setenv("REVIEW_DESK_LINEAGE_CACHE", str(tmp_path / "tables"))
    original = _original()
    with session_scope(store) as s:
        ids = {name: register_chain(s, original, links, name=name, metadata=META, created_by="lineage-demo")
               for name, links in _chains(original).items()}
    with read_session(store) as s:
        recursive = next(g for g in generation_gates(s, ids["recursive"][-1], load_policy()) if g["name"] == "lineage")
        fresh = next(g for g in generation_gates(s, ids["fresh"][-1], load_policy()) if g["name"] == "lineage")
        root = generation_gates(s, ids["fresh"][0], load_policy())
    assert not recursive["passed"] and "recursive training" in recursive["detail"]
    assert fresh["passed"] and fresh["value"] == pytest.approx(1.0)
    assert all(g["name"] != "lineage" for g in root)


def test_a_table_missing_from_the_cache_is_a_clear_error(store, tmp_path):
    original = _original()
    with session_scope(store) as s:
        ids = register_chain(s, original, _chains(original)["recursive"], name="r", metadata=META,
                             created_by="lineage-demo", cache_dir=tmp_path / "tables")
    with read_session(store) as s, pytest.raises(InputError, match="not in the cache folder"):
        lineage_from_store(s, ids[-1], cache_dir=tmp_path / "elsewhere")
