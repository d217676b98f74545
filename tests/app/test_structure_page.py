"""AppTest: the Structure page runs its checks on a small census slice with planted rule breaks, shows every gate,
and opens a rule-breaking synthetic row on the Records page."""
from __future__ import annotations

import pandas as pd
import pytest

TRAIN_ROWS, SYNTHETIC_ROWS, HOLDOUT_ROWS = 1_500, 1_000, 600
BROKEN = (3, 11, 42, 57, 101, 230, 444, 777)  # synthetic rows given a negative age: they break "age >= 0"


@pytest.fixture(autouse=True)
def clear_heavy_stores():
    """Structure results live in st.cache_resource stores: start every test without them."""
    from components.cache import clear_all

    clear_all()
    yield
    clear_all()


@pytest.fixture
def small_app(app, demo_files):
    """The app with the review pointed at a small slice of the demo, a few synthetic ages made negative."""
    from components.state import Review
    from core.data.io import table_from_frame

    sizes = {"real": (demo_files.train, TRAIN_ROWS), "synthetic": (demo_files.synthetic, SYNTHETIC_ROWS),
             "holdout": (demo_files.holdout, HOLDOUT_ROWS)}
    frames = {role: pd.read_csv(path, nrows=rows) for role, (path, rows) in sizes.items()}
    frames["synthetic"].loc[list(BROKEN), "age"] = -5
    app.session_state["review"] = Review({r: table_from_frame(f, f"{r}-slice.csv") for r, f in frames.items()},
                                         source="upload")
    return app


def _frame_with(at, column: str) -> pd.DataFrame:
    for element in at.dataframe:
        value = element.value
        frame = getattr(value, "data", value)
        if column in getattr(frame, "columns", []):
            return frame
    raise AssertionError(f"no dataframe with a '{column}' column")


def _settle(at):
    """Wait for the background job the page started, then rerun it (what its polling fragment does)."""
    from components.cache import manager

    assert manager().wait_all(300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_structure_page_shows_the_gates_and_opens_a_rule_breaking_row_on_records(small_app, open_page, temp_store):
    # Records shows real rows: only to a signed-in reviewer
    small_app.session_state["signed_in_user"] = {"name": "rita", "role": "reviewer", "email": None, "via": "password"}
    _settle(open_page(small_app, "structure"))
    assert not small_app.error, [e.value for e in small_app.error]
    gates = _frame_with(small_app, "gate")
    assert {"detection", "three_way_trends", "missing_values", "constraints"} <= set(gates["gate"])
    constraints = gates[gates["gate"] == "constraints"].iloc[0]
    assert constraints["result"] == "FAIL"
    rules = _frame_with(small_app, "kind")
    assert rules.loc[rules["rule"] == "age >= 0", "result"].iloc[0] == "FAIL"
    small_app.selectbox(key="structure_rule_choice").select("age >= 0").run()
    assert small_app.selectbox(key="structure_rule_row").options == [str(r) for r in BROKEN]
    small_app.selectbox(key="structure_rule_row").select(BROKEN[1]).run()
    small_app.button(key="structure_open_rule").click().run()
    assert not small_app.exception, [e.value for e in small_app.exception]
    assert small_app.subheader[0].value == f"Synthetic record {BROKEN[1]}"


def test_structure_page_without_holdout_says_why(app, demo_files, open_page):
    from components.state import Review
    from core.data.io import table_from_frame

    frames = {"real": pd.read_csv(demo_files.train, nrows=500), "synthetic": pd.read_csv(demo_files.synthetic, nrows=500)}
    app.session_state["review"] = Review({r: table_from_frame(f, f"{r}.csv") for r, f in frames.items()}, source="upload")
    open_page(app, "structure")
    assert any("holdout" in str(i.value) for i in app.info)
