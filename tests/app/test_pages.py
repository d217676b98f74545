"""AppTest: every page renders on the demo without an exception, and its main interactions change what is shown."""
from __future__ import annotations

import json


def _texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def _frame_with(at, column: str):
    """The first st.dataframe whose table has this column (AppTest does not expose dataframe keys)."""
    for element in at.dataframe:
        value = element.value
        if column in getattr(value, "columns", []):
            return value
    raise AssertionError(f"no dataframe with a '{column}' column")


def test_data_page_shows_the_demo_tables_and_types(app):
    assert not app.error
    assert app.title[0].value == "Data"
    inputs = _frame_with(app, "sha256")
    assert list(inputs["table"]) == ["real (training part)", "synthetic", "holdout"]
    assert all(len(h) == 64 for h in inputs["sha256"])
    assert app.selectbox(key=next(k for k in _keys(app) if k.endswith("_age"))).value == "numerical"


def _keys(at) -> list[str]:
    return [s.key for s in at.selectbox if s.key]


def test_type_override_is_applied_and_a_bad_one_gives_a_message_not_a_traceback(app):
    key = next(k for k in _keys(app) if k.endswith("_num_persons_worked_for_employer"))
    app.selectbox(key=key).set_value("numerical")
    app.button(key="data_types_apply").click().run()
    assert not app.exception and not app.error
    assert app.session_state["review"].overrides == {"num_persons_worked_for_employer": "numerical"}

    key = next(k for k in _keys(app) if k.endswith("_education"))
    app.selectbox(key=key).set_value("numerical")
    app.button(key="data_types_apply").click().run()
    assert not app.exception
    assert any("education" in e and "expected numbers" in e for e in _texts(app.error))
    # the previous, valid review is kept and the other pages still work
    assert app.session_state["review"].overrides == {"num_persons_worked_for_employer": "numerical"}


def _as_reviewer(app, store, name="rita"):
    """Sign `name` (a reviewer in the temp store) into the AppTest session."""
    from core.review import auth
    from core.store import session_scope

    with session_scope(store) as s:
        auth.create_user(s, name, "password123", "reviewer")
    app.session_state["signed_in_user"] = {"name": name, "role": "reviewer", "email": None, "via": "password"}
    return app


def test_records_needs_a_signed_in_reviewer(app, open_page, temp_store):
    open_page(app, "records")
    assert "Sign in" in " ".join(_texts(app.info)) and not app.subheader  # no real record shown
    app.session_state["signed_in_user"] = {"name": "vic", "role": "viewer", "email": None, "via": "password"}
    open_page(app, "records")
    assert "needs 'reviewer'" in " ".join(_texts(app.info)) and not app.subheader


def test_records_sample_next_and_flag(app, open_page, temp_store, click):
    open_page(_as_reviewer(app, temp_store), "records")
    assert not app.error
    heading = app.subheader[0].value
    assert heading.startswith("Synthetic record")
    # The record on screen is counted at once (the counter does not lag by one).
    assert app.metric[0].value == "1 / 200"
    click(app, "records_nav", "next")
    assert app.session_state["_records_cursor"] == 1 and app.metric[0].value == "2 / 200"
    assert app.subheader[0].value != heading
    click(app, "records_nav", "next")
    click(app, "records_nav", "previous")
    assert app.session_state["_records_cursor"] == 1

    app.radio(key="records_method").set_value("suspicious").run()
    assert not app.exception
    assert "method 'suspicious', seed 0" in " ".join(_texts(app.caption))
    assert app.session_state["_records_cursor"] == 0  # a new sample starts at its first record
    suspicious_heading = app.subheader[0].value

    app.number_input(key="records_seed").set_value(5).run()
    app.radio(key="records_method").set_value("random").run()
    assert "method 'random', seed 5" in " ".join(_texts(app.caption))
    # the same method and seed give the same sample again
    app.number_input(key="records_seed").set_value(0).run()
    app.radio(key="records_method").set_value("suspicious").run()
    assert app.subheader[0].value == suspicious_heading

    # Leaving the page and coming back keeps the sample settings (not back to Random).
    open_page(app, "columns")
    open_page(app, "records")
    assert app.radio(key="records_method").value == "suspicious"
    assert "method 'suspicious', seed 0" in " ".join(_texts(app.caption))

    click(app, "records_nav", "next")
    app.text_input(key="records_flag_note").input("too young for a doctorate")
    app.selectbox(key="records_flag_reason").set_value("privacy risk")
    click(app, "records_flag_buttons", "flag")
    assert not app.exception
    flags = app.session_state["review_work"]["rita"][app.session_state["review"].tables["synthetic"].sha256]["flags"]
    assert len(flags) == 1
    (flag,) = flags.values()
    assert flag["reason"] == "privacy risk" and flag["note"] == "too young for a doctorate"
    assert len(flag["row_hash"]) == 16
    assert "1" in app.metric[1].value  # flagged in this sample


def test_records_merged_clicks_each_count_and_flags_follow_the_row_on_screen(app, open_page, temp_store):
    """Three Next clicks that reached the server as one rerun move three records; a flag clicked while record 2
    was on screen flags record 2, although Next clicks merged with it moved on."""
    import json

    open_page(_as_reviewer(app, temp_store), "records")
    nav = lambda: json.loads(next(e for e in app.get("bidi_component") if e.proto.id.endswith("-records_nav")).proto.json)
    assert nav()["items"][1]["label"] == "Record 1 of 200"
    app.session_state["records_nav"] = {"clicks": {"nonce": "t", "events": [[1, "next", {}]]}}
    app.run()
    second = int(app.subheader[0].value.split()[-1].replace(",", ""))
    app.session_state["records_nav"] = {"clicks": {"nonce": "t", "events": [[2, "next", {}], [3, "next", {}],
                                                                            [4, "next", {}]]}}
    app.session_state["records_flag_buttons"] = {"clicks": {"nonce": "u", "events": [[1, "flag", {"row": second}]]}}
    app.run()
    assert not app.exception
    assert app.session_state["_records_cursor"] == 4 and nav()["items"][1]["label"] == "Record 5 of 200"
    flags = app.session_state["review_work"]["rita"][app.session_state["review"].tables["synthetic"].sha256]["flags"]
    assert list(flags) == [second] and len(flags[second]["row_hash"]) == 16
    app.run()  # a rerun for another reason applies nothing twice
    assert app.session_state["_records_cursor"] == 4 and len(flags) == 1


def test_records_stratified_sample(app, open_page, temp_store):
    open_page(_as_reviewer(app, temp_store), "records")
    app.radio(key="records_method").set_value("stratified").run()
    app.selectbox(key="records_stratify").set_value("income_gt_50k").run()
    assert not app.exception and not app.error
    assert "stratified by income_gt_50k" in " ".join(_texts(app.caption))


def test_columns_choose_a_column(app, open_page):
    open_page(app, "columns")
    assert not app.error
    table = _frame_with(app, "passes")
    assert list(table["score"]) == sorted(table["score"])  # worst first
    first = app.selectbox(key="columns_choice").value
    assert first == table["column"].iloc[0]
    chart = lambda: json.loads(app.get("plotly_chart")[0].proto.spec)
    before = chart()["layout"]["xaxis"]["title"]["text"]
    app.selectbox(key="columns_choice").set_value("education").run()
    assert not app.exception
    assert chart()["layout"]["xaxis"]["title"]["text"] == "education" != before


def test_correlations_choose_a_pair(app, open_page):
    open_page(app, "correlations")
    assert not app.error
    charts = lambda: [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    assert len(charts()) == 2  # heatmaps, then the chosen pair
    heatmap = charts()[0]
    assert [t["type"] for t in heatmap["data"]] == ["heatmap"] * 3

    app.selectbox(key="correlations_pair").set_value("age / weeks_worked_in_year").run()
    assert not app.exception
    # Two numbers: shares on a grid of shared bins over every row (light to draw), each table's shares sum to 1.
    joint = charts()[1]["data"]
    assert [t["type"] for t in joint] == ["heatmap", "heatmap"] and joint[0]["x"] == joint[1]["x"]
    assert "over every row" in " ".join(_texts(app.caption))

    app.selectbox(key="correlations_pair").set_value("education / marital_stat").run()
    assert {t["type"] for t in charts()[1]["data"]} == {"heatmap"}

    app.selectbox(key="correlations_pair").set_value("age / education").run()
    boxes = charts()[1]["data"]
    assert {t["type"] for t in boxes} == {"box"}
    # Box statistics are computed on the server: the median drawn is the plot sample's median per category.
    from components.cache import plot_sample

    sample = plot_sample(app.session_state["review"], ("education", "age"))
    real = sample[sample["table"] == "real"]
    first = boxes[0]
    category = first["x"][0]
    assert first["name"] == "real"
    assert abs(first["median"][0] - real.loc[real["education"].astype(str) == category, "age"].median()) < 1e-9


def test_summary_shows_verdict_gates_and_report(app, open_page):
    open_page(app, "summary")
    assert not app.error
    gates = _frame_with(app, "gate")
    assert {"column_shapes", "column_pair_trends", "validity", "coverage"} <= set(gates["gate"])
    assert set(gates["result"]) <= {"pass", "FAIL"}
    assert app.get("download_button")
    review = app.session_state["review"]
    assert review.source == "demo"
