"""AppTest: the relational demo loads from the Data page, the table picker moves every page to one table, the
Relations page draws the schema with the demo's row counts and runs the relational gates, and Records shows a
synthetic parent with its children beside the nearest real one."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from core.data.relational import load_relational_metadata, read_table_folder


@pytest.fixture(scope="module")
def relational_files():
    """The relational demo (built once into the cache folder, about 2-3 minutes; then read from it)."""
    from core.demo.relational import build_relational_demo

    return build_relational_demo()


@pytest.fixture(autouse=True)
def clear_heavy_stores():
    from components.cache import clear_all

    clear_all()
    yield
    clear_all()


def _frame_with(at, column: str) -> pd.DataFrame:
    for element in at.dataframe:
        value = element.value
        frame = getattr(value, "data", value)
        if column in getattr(frame, "columns", []):
            return frame
    raise AssertionError(f"no dataframe with a '{column}' column")


def _load_demo(app):
    app.button(key="data_rel_demo").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def test_relational_demo_loads_and_the_picker_moves_the_pages(app, open_page, relational_files):
    metadata = load_relational_metadata(relational_files.metadata)
    real = read_table_folder(relational_files.train, metadata)
    _load_demo(app)
    # the largest table is shown first; the picker (Data page; the sidebar's twin is checked in Chromium) lists
    # every table
    review = app.session_state["review"]
    assert review.source == "relational:flights"
    assert review.tables["real"].rows == len(real["flights"])
    picker = app.selectbox(key="data_rel_table")
    assert list(picker.options) == [f"{t} ({len(real[t]):,} real rows)" for t in metadata.tables]
    picker.set_value("planes").run()
    assert not app.exception, [e.value for e in app.exception]
    review = app.session_state["review"]
    assert review.source == "relational:planes" and review.tables["real"].rows == len(real["planes"])
    assert review.overrides["tailnum"] == "id"  # keys are never compared as values
    # the single-table Columns page now reviews planes
    app.switch_page("pages/columns.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    # loading the single-table demo again leaves the relational mode
    app.switch_page("pages/data.py")
    app.run()
    app.button(key="data_demo_load").click().run()
    assert app.session_state["review"].source == "demo"
    open_page(app, "relations")
    assert any("No relational data is loaded" in i.value for i in app.info)


def test_relations_page_schema_gates_and_records(app, open_page, temp_store, relational_files):
    from components.cache import manager

    metadata = load_relational_metadata(relational_files.metadata)
    real = read_table_folder(relational_files.train, metadata)
    synthetic = read_table_folder(relational_files.synthetic, metadata)
    _load_demo(app)
    open_page(app, "relations")
    schema = _frame_with(app, "primary key")
    assert list(schema["table"]) == ["airlines", "airports", "planes", "flights"]
    assert list(schema["real rows"]) == [f"{len(real[t]):,}" for t in schema["table"]]
    assert list(schema["synthetic rows"]) == [f"{len(synthetic[t]):,}" for t in schema["table"]]
    assert list(schema["primary key"]) == ["carrier", "faa", "tailnum", "flight_id"]
    # nothing is computed before Run
    assert not any("relational" in str(g) for g in [e.value for e in app.error])
    app.button(key="relations_run").click().run()
    assert manager().wait_all(600)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    gates = _frame_with(app, "real sample (null median)")
    labels = {"airlines.carrier -> flights.carrier", "planes.tailnum -> flights.tailnum", "airports.faa -> flights.dest"}
    for name in ("referential_integrity", "cardinality", "intertable_trends"):
        assert set(gates.loc[gates["gate"] == name, "on"]) == labels, name
    # HMA keeps every key inside its parents: no orphan, duplicate or null key, and the gate says pass
    integrity = gates[gates["gate"] == "referential_integrity"]
    assert set(integrity["value"]) == {"0.0000"} and set(integrity["verdict"]) == {"pass"}
    counts = _frame_with(app, "orphan foreign keys")
    assert set(counts["orphan foreign keys"]) == {"0 / 0"}
    # Fits 1,440 px: the schema table is page-wide (not in a narrow column), headers and the privacy label are
    # short, and the gates' details are in full in an expander below their table.
    in_columns = [d.value for column in app.columns for d in column.dataframe]
    assert not any("primary key" in getattr(v, "columns", []) for v in in_columns)
    assert max(len(c) for c in counts.columns) <= 25
    assert len(app.checkbox(key="relations_privacy").label) <= 50
    import json

    config = json.loads(next(d.proto.columns for d in app.dataframe if "real sample (null median)" in d.value.columns))
    assert config["detail"]["width"] <= 300
    details = " ".join(str(t.value) for t in app.expander(key="relations_gates_details").text)
    assert all(detail in details for detail in gates["detail"])
    rows = dict(zip(counts["relationship"], counts["child rows"]))
    assert rows["planes.tailnum -> flights.tailnum"] == f"{len(real['flights']):,} / {len(synthetic['flights']):,}"
    assert len(app.get("plotly_chart")) >= 1  # the cardinality histogram (and the heatmaps)
    # Records: a synthetic parent beside the nearest real parent, children on both sides
    app.session_state["signed_in_user"] = {"name": "rita", "role": "reviewer", "email": None, "via": "password"}
    open_page(app, "records")
    assert app.selectbox(key="records_rel_parent").value == "airlines"
    app.selectbox(key="records_rel_parent").set_value("planes").run()
    assert not app.exception, [e.value for e in app.exception]
    captions = [str(c.value).replace("\\", "") for c in app.caption]
    where = next(c for c in captions if c.startswith("Synthetic planes row"))
    found = re.search(r"row ([\d,]+) .*nearest real row ([\d,]+)", where)
    syn_pos, real_pos = (int(g.replace(",", "")) for g in found.groups())
    # brute force: the child rows shown are the flights whose tailnum is that parent's key, on each side
    syn_key = synthetic["planes"]["tailnum"].iloc[syn_pos]
    real_key = real["planes"]["tailnum"].iloc[real_pos]
    expected = [f"flights.tailnum: {(synthetic['flights']['tailnum'] == syn_key).sum():,} child rows",
                f"flights.tailnum: {(real['flights']['tailnum'] == real_key).sum():,} child rows"]
    assert [c for c in captions if c.startswith("flights.tailnum:")] == expected


def test_uploaded_relational_files_give_one_message_naming_file_table_and_column(relational_files):
    """The Data page's relational upload path (components.relations_views.from_uploads) on broken inputs."""
    from components.relations_views import from_uploads
    from core.data.relational import DataError

    meta = relational_files.metadata.read_bytes()
    files = {role: {f"{t}.csv": (folder / f"{t}.csv").read_bytes() for t in ("airlines", "airports", "planes",
                                                                               "flights")}
             for role, folder in (("real", relational_files.train), ("synthetic", relational_files.synthetic))}
    loaded = from_uploads("metadata.json", meta, {**files, "holdout": None})
    assert loaded.rows("real")["flights"] == len(read_table_folder(relational_files.train,
                                                                   load_relational_metadata(relational_files.metadata))["flights"])
    with pytest.raises(DataError, match=r"^file metadata\.json: metadata is not valid JSON"):
        from_uploads("metadata.json", b"{not json", files)
    broken = dict(files["synthetic"])
    broken["planes.csv"] = b"tailnum,year\nN1,2000\nN2,2001\n"
    with pytest.raises(DataError, match=r"^file planes\.csv, table 'planes', column 'type': column is in the metadata"):
        from_uploads("metadata.json", meta, {"real": files["real"], "synthetic": broken})
    missing = {k: v for k, v in files["synthetic"].items() if k != "airlines.csv"}
    with pytest.raises(DataError, match="no file for table\\(s\\) 'airlines'"):
        from_uploads("metadata.json", meta, {"real": files["real"], "synthetic": missing})


def test_relational_generation_registers_every_table_hash_and_signs_off(app, open_page, temp_store, relational_files):
    """Generation page with the relational demo: registered with every table file's sha256 (their combined hash,
    what `python -m core gate --synthetic folder/` recomputes), the demo's HMA manifest (a per-table training
    mix) accepted; a reviewer's review of any table counts; the approver signs it; the pipeline gate opens."""
    from components.cache import manager
    from core.data.relational import combined_sha256, folder_file_hashes
    from core.review import auth
    from core.review.signoff import gate_check
    from core.store import generation_detail, read_session, session_scope

    with session_scope(temp_store) as s:
        for name, role in (("maker", "approver"), ("rita", "reviewer"), ("alex", "approver")):
            auth.create_user(s, name, "password123", role)

    def as_user(name, role):
        app.session_state["signed_in_user"] = {"name": name, "role": role, "email": None, "via": "password"}

    _load_demo(app)
    app.session_state["review"].policy_text = \
        "[review]\nmin_records_read = 1\nrequired_reviewers = 1\nallow_waivers = true\n"
    as_user("maker", "approver")
    open_page(app, "generation")
    assert any("Run the relational checks on the Relations page first" in i.value for i in app.info)
    open_page(app, "relations")
    app.button(key="relations_run").click().run()
    assert manager().wait_all(600)
    open_page(app, "generation")
    app.button(key="gen_register_relational").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert any("registered as generation #1" in s.value for s in app.success)
    files = {side: folder_file_hashes(folder) for side, folder in
             (("real", relational_files.train), ("synthetic", relational_files.synthetic),
              ("holdout", relational_files.holdout))}
    with read_session(temp_store) as s:
        detail = generation_detail(s, 1)
        manifest = detail.manifest
        assert detail.summary.synthetic_sha256 == combined_sha256(files["synthetic"])
        assert manifest["table_file_sha256"] == files
        assert manifest["training_mix"]["real_rows"] == sum(manifest["training_mix"]["real_rows_by_table"].values())
        report = detail.evaluations[-1]["report"]
        assert report["mode"] == "relational" and set(report["tables"]) == {"airlines", "airports", "planes", "flights"}

    as_user("rita", "reviewer")
    open_page(app, "records")
    app.text_area(key="records_review_comment").input("read a flight")
    app.button(key="records_review_submit").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("submitted" in s.value for s in app.success), [e.value for e in app.error]

    as_user("alex", "approver")
    open_page(app, "signoff")
    pick = app.selectbox(key="signoff_pick")
    assert pick.value == 1 and "under review here" in pick.options[0]  # found by the combined synthetic hash
    for i in range(1, 11):
        app.checkbox(key=f"signoff_rule_{i}").check()
    for box in app.text_input:
        if box.key and box.key.startswith("signoff_waiver_"):
            box.input("HMA demo: failed shapes reviewed by hand")
    app.run()
    app.button(key="signoff_sign").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert any("Frozen evidence sha256" in s.value for s in app.success)
    with read_session(temp_store) as s:
        ok, why = gate_check(s, 1, combined_sha256(folder_file_hashes(relational_files.synthetic)))
        assert ok, why
        changed = dict(files["synthetic"], flights="0" * 64)
        assert not gate_check(s, 1, combined_sha256(changed))[0]
