"""AppTest: the Privacy and Utility pages run their checks on a small census slice, and the Summary then gates on them.

The demo's 16,000-row tables take 20-90 s per check; a 2,000-row slice of the same files keeps each test to seconds
while going through the same code (the pages start their checks as background jobs on opening below the policy's
[jobs] auto_run_max_rows; a test waits for the job, then reruns the page as the page's polling fragment would).
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

TRAIN_ROWS, SYNTHETIC_ROWS, HOLDOUT_ROWS = 2_000, 2_000, 600
PLANTED = 5


@pytest.fixture(autouse=True)
def clear_heavy_stores():
    """Privacy and utility results live in st.cache_resource stores: start every test without them."""
    from components.cache import clear_all

    clear_all()
    yield
    clear_all()


@pytest.fixture(scope="module")
def small_review_tables(demo_files):
    """The demo's training part, synthetic table and holdout cut to a few thousand rows."""
    from core.data.io import table_from_frame

    sizes = {"real": (demo_files.train, TRAIN_ROWS), "synthetic": (demo_files.synthetic, SYNTHETIC_ROWS),
             "holdout": (demo_files.holdout, HOLDOUT_ROWS)}
    frames = {role: pd.read_csv(path, nrows=rows) for role, (path, rows) in sizes.items()}
    # plant copies of training rows 0-4 as the last synthetic rows, so the near-copy table has pairs to open
    frames["synthetic"] = pd.concat([frames["synthetic"].iloc[:-PLANTED], frames["real"].iloc[:PLANTED]],
                                    ignore_index=True)
    return {role: table_from_frame(frame, f"{role}-slice.csv") for role, frame in frames.items()}


@pytest.fixture
def small_app(app, small_review_tables):
    """The app with the review pointed at the small census slice."""
    from components.state import Review

    app.session_state["review"] = Review(dict(small_review_tables), source="upload")
    return app


def _texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def _frame_with(at, column: str) -> pd.DataFrame:
    for element in at.dataframe:
        value = element.value
        frame = getattr(value, "data", value)  # a Styler exposes its frame as .data
        if column in getattr(frame, "columns", []):
            return frame
    raise AssertionError(f"no dataframe with a '{column}' column")


def _metric(at, label_start: str) -> str:
    for metric in at.metric:
        if metric.label.startswith(label_start):
            return metric.value
    raise AssertionError(f"no metric starting with {label_start!r}: {[m.label for m in at.metric]}")


def _cached(kind: str):
    """The one finished result of this kind the pages' jobs computed."""
    from components.analysis_cache import manager

    values = [j.value for j in manager()._jobs.values() if j.kind == kind and j.state == "done"]
    assert len(values) == 1, values
    return values[0]


def _settle(at):
    """Wait for the background jobs the page started, then rerun it (what its polling fragment does)."""
    from components.analysis_cache import manager

    assert manager().wait_all(120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _open(at, open_page, name: str):
    open_page(at, name)
    return _settle(at)


def test_privacy_page_runs_the_checks_and_shows_the_gates(small_app, open_page):
    _open(small_app, open_page, "privacy")
    assert not small_app.error
    gates = _frame_with(small_app, "gate")
    assert list(gates["gate"]) == ["exact_copies", "distance_to_closest_record", "membership_inference"]
    assert set(gates["result"]) <= {"pass", "FAIL"}
    assert small_app.session_state["privacy_run"] == 0
    result = _cached("privacy")  # the numbers on the page are the result's own
    assert result.rows == {"train": TRAIN_ROWS, "synthetic": SYNTHETIC_ROWS, "holdout": HOLDOUT_ROWS}
    share = result.distance_to_closest_record.share_closer_to_train
    assert _metric(small_app, "Closer to train than holdout") == f"{share:.1%}"
    # one number for one check: the metric shows the AUC the gate judges, as the gate table does
    assert _metric(small_app, "Membership AUC") == f"{result.membership_inference.auc:.3f}"
    assert float(gates.loc[gates["gate"] == "membership_inference", "value"].iloc[0]) == pytest.approx(
        result.membership_inference.auc, abs=1e-4)
    risks = _frame_with(small_app, "control success")
    assert {"singling out", "linkability", "attribute inference"} <= set(risks["attack"])
    assert len(small_app.get("plotly_chart")) == 3  # DCR, membership, attack risks
    # The attack table spans the page: in a column beside its chart its seven columns were cut at 1,440 px.
    in_columns = [d.value for column in small_app.columns for d in column.dataframe]
    assert not any("control success" in getattr(getattr(v, "data", v), "columns", []) for v in in_columns)


def _signed_in(app):
    """Records shows real rows: only to a signed-in reviewer (the session's user, as sign-in leaves it)."""
    app.session_state["signed_in_user"] = {"name": "rita", "role": "reviewer", "email": None, "via": "password"}
    return app


def test_a_synthetic_row_opened_from_privacy_shows_on_records_beside_its_real_row(small_app, open_page, temp_store):
    _signed_in(small_app)
    review = small_app.session_state["review"]
    synthetic_row, real_row = 17, 3
    # what the Privacy page's "Open ... on Records" button stores (components.state.open_synthetic_row)
    small_app.session_state["records_open_row"] = {"synthetic": synthetic_row, "real": real_row, "distance": 0.5,
                                                   "source": "Privacy",
                                                   "synthetic_sha256": review.tables["synthetic"].sha256}
    open_page(small_app, "records")
    assert not small_app.error
    assert small_app.subheader[0].value == f"Synthetic record {synthetic_row}"
    assert f"row {real_row} of {TRAIN_ROWS:,}" in " ".join(_texts(small_app.caption))
    small_app.button(key="records_close_opened").click().run()
    assert not small_app.exception
    assert "records_open_row" not in small_app.session_state
    assert not any("opened from the Privacy page" in t for t in _texts(small_app.info))  # back on the sample


def test_privacy_open_button_switches_to_records(small_app, open_page, temp_store):
    _open(_signed_in(small_app), open_page, "privacy")
    result = _cached("privacy")
    assert result.exact_copies.synthetic_rate >= PLANTED / SYNTHETIC_ROWS
    synthetic_row, real_row, distance = result.near_copies.pairs(1)[0]
    assert distance == 0.0 and synthetic_row >= SYNTHETIC_ROWS - PLANTED
    small_app.button(key="privacy_open_pair").click().run()  # the first (closest) pair is preselected
    assert not small_app.exception
    assert small_app.subheader[0].value == f"Synthetic record {synthetic_row:,}"
    assert f"row {real_row:,} of {TRAIN_ROWS:,}" in " ".join(_texts(small_app.caption))
    noticed = " ".join(_texts(small_app.markdown))
    assert "identical to a real training record" in noticed and "Noticed:** :green-badge[nothing]" not in noticed
    assert any(str(c.value).startswith("Real training record it copies:") for c in small_app.caption)  # not "nearly"


def test_utility_page_runs_tstr_trtr_for_the_default_and_a_chosen_target(small_app, open_page):
    _open(small_app, open_page, "utility")
    assert not small_app.error
    assert small_app.selectbox(key="utility_target").value == "income_gt_50k"  # the last categorical column
    table = _frame_with(small_app, "trained on synthetic (TSTR)")
    assert set(table["model"]) == {"gradient boosting", "linear"}
    assert set(table["metric"]) == {"ROC-AUC", "F1 (macro)", "accuracy"}
    assert small_app.session_state["utility_run"] == ("income_gt_50k", (0, 1, 2))
    charts = [c.proto.spec for c in small_app.get("plotly_chart")]
    assert len(charts) == 3  # TSTR vs TRTR, blend sweep, importance
    assert "best mix" in charts[1] and "real only" in charts[1]

    small_app.number_input(key="utility_seeds").set_value(1)
    small_app.selectbox(key="utility_target").set_value("age").run()  # a numeric target: regression, one seed
    _settle(small_app)
    assert not small_app.exception and not small_app.error
    table = _frame_with(small_app, "trained on synthetic (TSTR)")
    assert set(table["metric"]) == {"R2", "MAE"}
    assert small_app.session_state["utility_run"] == ("age", (0,))


def test_summary_says_what_is_not_run_then_gates_on_privacy_and_utility(small_app, open_page, monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    downloads: list[bytes] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        if filename == "review-report.json":
            downloads.append(path_or_data)
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    open_page(small_app, "summary")
    warnings = " ".join(_texts(small_app.warning))
    assert "Privacy not run yet — open Privacy" in warnings
    assert "Utility not run yet — pick a target on Utility" in warnings
    assert not {"exact_copies", "utility"} & set(_frame_with(small_app, "gate")["gate"])
    report = json.loads(downloads[-1])
    assert report["privacy"] == {"skipped": "not run"} and "skipped" in report["utility"]

    _open(small_app, open_page, "privacy")
    _open(small_app, open_page, "utility")
    open_page(small_app, "summary")
    assert not small_app.warning
    gates = _frame_with(small_app, "gate")
    assert {"exact_copies", "distance_to_closest_record", "membership_inference", "utility"} <= set(gates["gate"])
    report = json.loads(downloads[-1])
    assert {g["name"] for g in report["gates"]} == set(gates["gate"])
    assert report["privacy"]["membership_inference"]["auc_baseline"] == 0.5
    assert report["utility"]["target"] == "income_gt_50k" and report["utility"]["blend_sweep"]["points"]
    from components.analysis_cache import manager

    computed = [j.finished_at for j in manager()._jobs.values()
                if j.state == "done" and j.kind in ("privacy", "utility")]
    assert len(computed) == 2 and report["created_at"] >= max(computed)  # not older than the runs it holds


def test_above_the_policy_size_privacy_waits_for_run_then_never_blocks_and_is_shared(small_review_tables, open_page,
                                                                                   monkeypatch):
    import threading

    from streamlit.testing.v1 import AppTest

    import components.analysis_cache as analysis_cache
    from components.state import Review, default_policy_text
    from tests.app.conftest import APP, TIMEOUT

    release, calls = threading.Event(), []
    real_run = analysis_cache.run_privacy

    def held_run(inputs, seed, progress, **kwargs):
        calls.append(seed)
        progress(0.25, "Measuring distances")
        assert release.wait(60)
        return real_run(inputs, seed, progress, **kwargs)

    monkeypatch.setattr(analysis_cache, "run_privacy", held_run)
    policy = default_policy_text() + "\n[jobs]\nauto_run_max_rows = 1000\n"  # the slice has 4,600 rows
    sessions = []
    for _ in range(2):
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
        at.session_state["review"] = Review(dict(small_review_tables), source="upload", policy_text=policy)
        sessions.append(open_page(at, "privacy"))
    first, second = sessions
    assert "press Run privacy checks" in " ".join(_texts(first.info)) and not calls  # nothing starts by itself
    first.button(key="privacy_start").click().run()
    assert not first.exception
    assert first.get("progress") and not first.get("plotly_chart")  # a progress box, the page is not blocked
    open_page(first, "columns")  # navigation stays free while the job runs
    assert first.title[0].value == "Columns" and first.get("plotly_chart")
    open_page(second, "privacy")  # another session asking for the same result waits on the same job
    assert second.get("progress") and "privacy_start" not in [b.key for b in second.button]
    release.set()
    _settle(second)
    assert calls == [0]  # computed once for both sessions
    assert _frame_with(second, "gate")["gate"].tolist()[0] == "exact_copies"
    _settle(open_page(first, "privacy"))
    assert _frame_with(first, "gate")["gate"].tolist()[0] == "exact_copies"


def test_the_pages_share_one_encoding_of_the_review(small_app, open_page, temp_store, monkeypatch):
    """Summary's evaluation, the Privacy job and Records' most-suspicious sample read one encoding of the tables."""
    import core.data.encoding as encoding_module
    from core.stats.distances import DistanceEncoding

    counts: dict = {}
    for name in ("_encode_discrete", "_encode_continuous"):
        original = getattr(encoding_module, name)

        def counted(column, sdtype, tables, _original=original):
            counts[column] = counts.get(column, 0) + 1
            return _original(column, sdtype, tables)

        monkeypatch.setattr(encoding_module, name, counted)
    fit = DistanceEncoding.fit.__func__
    fits = []
    monkeypatch.setattr(DistanceEncoding, "fit", classmethod(lambda cls, *a, **k: fits.append(1) or fit(cls, *a, **k)))
    import components.cache as cache

    searches = []
    nearest = cache.nearest_real_rows
    monkeypatch.setattr(cache, "nearest_real_rows", lambda *a: searches.append(len(a[1])) or nearest(*a))
    _open(_signed_in(small_app), open_page, "summary")
    _open(small_app, open_page, "privacy")
    small_app.session_state["_records_settings"] = {"records_method": "suspicious", "records_stratify": None,
                                                    "records_size": 20, "records_seed": 0}
    open_page(small_app, "records")
    assert not small_app.error
    assert SYNTHETIC_ROWS in searches and 20 in searches  # every row for the ranking, then the sample shown
    assert len(fits) == 1  # one record-distance encoding for the privacy checks and the Records page
    assert counts and set(counts.values()) == {1}  # each column encoded once for every page


def test_privacy_and_utility_pages_judge_under_the_review_policy_as_the_summary_does(small_review_tables, open_page):
    """A policy's false-alarm rate reaches the Privacy and Utility pages' gate tables (they once judged at the
    registry's default rate, so a page could show a verdict the Summary and the report did not)."""
    from streamlit.testing.v1 import AppTest

    from components.state import Review, default_policy_text
    from core.checks.privacy import privacy_gate_values
    from core.policy import parse_policy
    from core.report import privacy_gates, utility_gate
    from tests.app.conftest import APP, TIMEOUT

    policy_text = default_policy_text().replace("false_alarm_rate = 0.01", "false_alarm_rate = 0.2")
    assert "false_alarm_rate = 0.2" in policy_text
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.session_state["review"] = Review(dict(small_review_tables), source="upload", policy_text=policy_text)
    policy = parse_policy(policy_text, "policy")
    _open(at, open_page, "privacy")
    result = _cached("privacy")
    shown = _frame_with(at, "gate").set_index("gate")
    for gate in privacy_gates(result, policy):
        assert shown.loc[gate.name, "floor"] == f"{gate.floor:.4f}"
        assert shown.loc[gate.name, "a real sample scores"] == f"{gate.null_median:.4f}"
    default = privacy_gate_values(result)["membership_inference"]["floor"]
    assert shown.loc["membership_inference", "floor"] != f"{default:.4f}"  # not the default rate's bound
    _open(at, open_page, "utility")
    gate = utility_gate(_cached("utility"), policy)
    if gate.judgeable:
        shown = _frame_with(at, "gate").set_index("gate")
        assert shown.loc["utility", "floor"] == (f"{gate.floor:.4f}" if gate.floor is not None else "")
    _open(at, open_page, "summary")
    summary = _frame_with(at, "gate").set_index("gate")
    assert summary.loc["membership_inference", "result"] == shown_result(result, policy, "membership_inference")


def shown_result(result, policy, name: str) -> str:
    """The Summary's result cell for one privacy gate under `policy`."""
    from core.report import privacy_gates

    gate = next(g for g in privacy_gates(result, policy) if g.name == name)
    return "pass" if gate.passed else "FAIL"
