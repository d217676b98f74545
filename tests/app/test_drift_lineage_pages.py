"""AppTest: the Drift page reports the planted shift and not the clean batch; the Lineage page shows stored chains."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.review import auth
from core.checks.lineage import GenerationLink
from core.review.lineage_store import register_chain
from core.store import session_scope
from tests.app.conftest import APP, TIMEOUT

META = {"color": "categorical", "size": "numerical"}


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _done(at: AppTest) -> AppTest:
    """Run, wait for the background job the run started (the drift check), run again as the polling fragment does."""
    from components.analysis_cache import manager

    _ok(at.run())
    assert manager().wait_all(300)
    return _ok(at.run())


def _open(name: str) -> AppTest:
    at = _ok(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    at.switch_page(f"pages/{name}.py")
    return _ok(at.run())


def _text(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in (at.markdown, at.caption, at.info, at.warning, at.success) for e in kind)


def _columns(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "drifted" in getattr(d.value, "columns", []))


@pytest.fixture
def store(temp_store):
    """An empty migrated SQLite store as $DATABASE_URL and a temp folder for the chains' tables."""
    return temp_store


def test_drift_page_clean_batch_keeps_and_planted_shift_regenerates(store):
    at = _done(_open("drift"))
    assert not at.error
    assert at.title[0].value == "Drift"
    assert "No drift: recommendation keep" in _text(at)
    assert (_columns(at)["drifted"] == "no").all()
    assert "None" not in set(_columns(at)["p-value"].astype(str))  # a distance test says it has no p-value

    at.toggle(key="drift_plant_shift").set_value(True)
    _done(at)
    assert not at.error
    assert "DRIFTED: recommendation regenerate" in _text(at)
    table = _columns(at)
    drifted = set(table.loc[table["drifted"] == "DRIFTED", "column"])
    assert {"age", "class_of_worker", "wage_per_hour"} <= drifted
    assert table["column"].iloc[0] in drifted  # worst first
    assert any("Gig economy" in str(d.value.to_dict()) for d in at.dataframe)  # the new category is listed
    # The table fits 1,440 px (the effect's name is in its header's help); each drifted column's reasons, cut in
    # the table, are listed in full above the plots.
    assert "effect" not in table.columns
    bullets = [m.value.replace("\\", "") for m in at.markdown]  # plain() escapes punctuation
    for column in drifted:
        reasons = table.loc[table["column"] == column, "reasons"].iloc[0]
        assert f"- **{column}**: {reasons}" in bullets, column
    # the demo review's synthetic table is not registered: the page says how to keep the recommendation
    assert "not a registered generation" in _text(at)
    # The demo batch's settings outlive the page: left for Data and back, the shift was forgotten.
    at.number_input(key="drift_demo_seed").set_value(2)
    _ok(at.run())
    at.switch_page("pages/data.py")
    _ok(at.run())
    at.switch_page("pages/drift.py")
    _ok(at.run())
    assert at.toggle(key="drift_plant_shift").value is True
    assert at.number_input(key="drift_demo_seed").value == 2


def test_drift_page_bad_policy_is_an_error_message_not_a_traceback(store):
    at = _ok(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    at.session_state["review"].policy_text = "[drift]\nwasserstein = 5.0\n"
    at.switch_page("pages/drift.py")
    _ok(at.run())
    assert any("unknown key" in str(e.value) for e in at.error)


def _register_chains(url: str) -> dict[str, list[int]]:
    original = pd.DataFrame({"color": ["a"] * 80 + ["b"] * 10 + ["c"] * 5 + ["d"] * 5,
                             "size": np.arange(100, dtype=float)})
    step1 = original[original["color"] != "d"].assign(size=lambda f: f["size"].clip(3, 96))
    step2 = step1[step1["color"] != "c"].assign(size=lambda f: f["size"].clip(8, 90))
    chains = {
        "recursive": [GenerationLink("g1", None, 100, 0, 100, original), GenerationLink("g2", "g1", 0, 100, 0, step1),
                      GenerationLink("g3", "g2", 0, 100, 0, step2)],
        "fresh": [GenerationLink("g1", None, 100, 0, 100, original),
                  GenerationLink("g2", "g1", 100, 100, 100, original),
                  GenerationLink("g3", "g2", 100, 100, 100, original)],
    }
    with session_scope(url) as s:
        auth.create_user(s, "lineage-demo", None, role="reviewer")
        return {name: register_chain(s, original, links, name=f"{name} chain", metadata=META,
                                     created_by="lineage-demo") for name, links in chains.items()}


def test_lineage_page_offers_the_demo_on_an_empty_store(store):
    at = _open("lineage")
    assert not at.error
    assert "no chains of generations" in _text(at)
    assert at.button(key="lineage_run_demo").label == "Run the lineage demo"


def test_lineage_demo_runs_in_the_background_and_its_chains_show_when_done(store, monkeypatch):
    import functools

    import core.demo.lineage as lineage_demo
    from components.analysis_cache import manager

    # the real demo (SDV, 2,000 rows, 5 cycles) takes about a minute: the same code on a smaller table
    monkeypatch.setattr(lineage_demo, "run_and_register_demo_chains",
                        functools.partial(lineage_demo.run_and_register_demo_chains, rows=300, cycles=2))
    at = _open("lineage")
    at.button(key="lineage_run_demo").click()
    _ok(at.run())
    assert at.get("progress") and "lineage_run_demo" not in [b.key for b in at.button]  # returns at once
    assert manager().wait_all(300)
    _ok(at.run())  # what the progress fragment does when the job ends
    assert not at.error
    assert any("Lineage demo recorded" in str(s.value) for s in at.success)
    assert len([m for m in at.metric if m.label == "lineage gate"]) == 2
    assert "Recursive training without fresh real data." in _text(at)


def test_lineage_page_shows_both_stored_chains_and_the_warnings(store):
    ids = _register_chains(store)
    at = _open("lineage")
    assert not at.error
    assert at.selectbox(key="lineage_chain_0").value == ids["recursive"][-1]
    assert at.selectbox(key="lineage_chain_1").value == ids["fresh"][-1]
    text = _text(at)
    assert "recursive chain" in text and "fresh chain" in text
    assert "Recursive training without fresh real data." in text and "Collapse in progress" in text
    assert "No warnings" in text
    cycles = [d.value for d in at.dataframe if "synthetic share" in getattr(d.value, "columns", [])]
    assert [list(c["synthetic share"]) for c in cycles] == [[0.0, 1.0, 1.0], [0.0, 0.5, 0.5]]
    # page-wide, not in the chains' half-width columns (there the twelve columns scrolled sideways)
    in_columns = [d.value for column in at.columns for d in column.dataframe]
    assert not any("synthetic share" in getattr(v, "columns", []) for v in in_columns)
    gates = [m for m in at.metric if m.label == "lineage gate"]
    assert [g.value for g in gates] == ["0.000", "1.000"]
    assert len(at.get("plotly_chart")) == 1


def test_regenerate_recommendation_is_kept_in_the_generation_audit_log(store):
    from core.review.drift_store import drift_recommendations
    from core.store import read_session, register_dataset, register_generation, verify_chain

    at = _ok(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    review = at.session_state["review"]
    with session_scope(store) as s:
        auth.create_user(s, "rita", None, role="reviewer")
        dataset = register_dataset(s, name="demo", sha256=review.tables["real"].sha256, rows=review.tables["real"].rows,
                                   schema={}, created_by="rita")
        generation_id = register_generation(s, {
            "method": "GaussianCopulaSynthesizer", "parameters": {}, "seed": 7, "library_versions": {},
            "source_dataset_id": dataset.id, "synthetic_sha256": review.tables["synthetic"].sha256,
            "rows": review.tables["synthetic"].rows, "training_mix": {"real_rows": 16000, "synthetic_rows": 0}},
            created_by="rita").id
    at.session_state["signed_in_user"] = {"name": "rita", "role": "reviewer", "email": None, "via": "password"}
    at.switch_page("pages/drift.py")
    _done(at)
    at.toggle(key="drift_plant_shift").set_value(True)
    _done(at)
    assert at.button(key="drift_record").label == f"Record 'regenerate' on generation {generation_id}"
    at.button(key="drift_record").click()
    _ok(at.run())
    assert not at.error
    assert any("Recorded as audit event" in str(s.value) for s in at.success)  # on the first click
    assert "drift_record" not in [b.key for b in at.button]  # no second click in this session
    # another session (or a reload) recording the same result writes nothing new and says so
    again = _ok(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    again.session_state["signed_in_user"] = at.session_state["signed_in_user"]
    again.switch_page("pages/drift.py")
    _done(again)
    again.toggle(key="drift_plant_shift").set_value(True)
    _done(again)
    again.button(key="drift_record").click()
    _ok(again.run())
    assert any("already recorded there" in str(s.value) for s in again.success)
    with read_session(store) as s:
        kept = drift_recommendations(s, generation_id)
        assert [e["payload"]["recommendation"] for e in kept] == ["regenerate"]
        assert kept[0]["actor"] == "rita" and kept[0]["payload"]["drift"]["columns"]["age"]["drifted"]
        assert verify_chain(s).ok
