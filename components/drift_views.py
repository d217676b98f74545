"""Drift page pieces: the demo new batch, the cached drift check, its figures and tables, and keeping the
recommendation on the generation's record (an audit event, see core/review/drift_store.py)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.cache import manager
from components.figures import titled_layout
from core import __version__, code_version
from core.jobs import Job, content_key
from core.checks.drift import ColumnDrift, DriftPolicy, DriftResult, detect_drift
from core.data.io import LoadedTable, table_from_frame
from core.data.metadata import check_schemas, coerce_to_metadata, resolve_metadata

THEN_COLOUR = "#1f77b4"
NOW_COLOUR = "#d62728"
EFFECT_HELP = ("Wasserstein distance normed by the reference range for numbers, Jensen-Shannon distance for "
               "categories, whichever test judged the column")
TEST_NAMES = {"ks": "Kolmogorov-Smirnov", "wasserstein_normed": "Wasserstein (normed)",
              "chi_squared": "chi-squared", "jensenshannon": "Jensen-Shannon", "none": "none (no values)"}


@st.cache_resource(show_spinner="Reading the census rows the demo did not use (once, a few seconds)...")
def _unused_rows() -> pd.DataFrame:
    from core.demo.drift import unused_census_rows

    return unused_census_rows()


@st.cache_data(max_entries=8, show_spinner=False)
def demo_batch(rows: int, seed: int, shift: bool) -> LoadedTable:
    """A demo new batch of real rows as a loaded table (census rows the demo never used, maybe shifted).

    Kept in the result cache by its settings: a restarted app does not read the census table again."""
    from core.demo.drift import demo_new_batch

    key = content_key("drift-demo-batch", code_version(), rows, seed, shift)
    found = manager().result(key)
    if found is not None:
        return found
    frame = demo_new_batch(rows, seed, shift, _unused_rows())
    table = table_from_frame(frame, f"demo-new-batch-{rows}-seed{seed}{'-shifted' if shift else ''}.csv")
    manager().put(key, table, "drift demo batch")
    return table


def drift_key(reference: LoadedTable, current: LoadedTable, overrides: dict[str, str], policy: DriftPolicy) -> str:
    """Content key of a drift check: both tables' hashes, the type overrides and the drift thresholds."""
    record = {"reference": reference.sha256, "current": current.sha256, "overrides": dict(sorted(overrides.items())),
              "policy": asdict(policy), "version": __version__}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def drift_job(reference: LoadedTable, current: LoadedTable, overrides: dict[str, str], policy: DriftPolicy,
              metadata: dict[str, str] | None = None) -> Job:
    """The drift check of the two tables as a background job, shared by every session and kept in the result
    cache by content key. Column types: `metadata` when given (the review's, for its own real table), else
    detected from the reference here, in the page's thread (SDV is imported there, never in a worker)."""
    key = drift_key(reference, current, overrides, policy)
    job = manager().status(key)
    if job is not None and job.state != "failed":
        return job
    if metadata is None:
        with st.spinner("Detecting the reference table's column types..."):
            metadata = resolve_metadata(reference.frame, dict(overrides) or None, reference.path)
    types = dict(metadata)

    def compute(progress):
        progress(0.05, "Checking the schemas and coercing the columns")
        tables = {"real": reference, "synthetic": current}
        check_schemas({role: (t.path, t.frame) for role, t in tables.items()})
        columns = list(reference.frame.columns)
        frames = {role: coerce_to_metadata(t.frame[columns], types, t.path) for role, t in tables.items()}
        progress(0.3, "Testing every column and pair")
        return detect_drift(frames["real"], frames["synthetic"], types, policy)

    return manager().submit(key, "Drift checks", compute, kind="drift", size=reference.rows + current.rows)


def _num(value) -> float:
    return float("nan") if value is None else float(value)


def columns_table(result: DriftResult) -> pd.DataFrame:
    """One row per column: test, statistic, threshold, p-value, drifted, effect size (named in EFFECT_HELP) and
    reasons; worst first."""
    rows = []
    for c in result.columns.values():
        cut = {"jensenshannon": result.policy.jensenshannon_threshold,
               "wasserstein_normed": result.policy.wasserstein_threshold}[c.distance_name]
        rows.append({
            "column": c.column, "type": c.sdtype, "test": TEST_NAMES.get(c.test, c.test),
            "statistic": _num(c.statistic), "threshold": _num(c.threshold),
            "p-value": "n/a (distance test)" if c.p_value is None else f"{c.p_value:.3g}",
            "drifted": "DRIFTED" if c.drifted else "no", "effect size": _num(c.distance),
            "reasons": "; ".join(c.reasons),
            "_order": (0 if c.drifted else 1, -(_num(c.distance) / cut if c.distance is not None else 0.0)),
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    return frame


def categories_table(result: DriftResult) -> pd.DataFrame:
    """Columns with categories new in the current batch or vanished from it, and the shares of rows they hold."""
    rows = [{"column": c.column, "new categories": ", ".join(c.new_categories) or "-",
             "share of current rows": c.new_category_share,
             "vanished categories": ", ".join(c.vanished_categories) or "-",
             "share of reference rows": c.vanished_category_share}
            for c in result.columns.values() if c.new_categories or c.vanished_categories]
    return pd.DataFrame(rows).sort_values("share of current rows", ascending=False) if rows else pd.DataFrame()


def missing_table(result: DriftResult) -> pd.DataFrame:
    """Columns whose missing share changed, largest change first."""
    rows = [{"column": c.column, "missing then": c.missing_share_reference, "missing now": c.missing_share_current,
             "change": c.missing_share_change,
             "flagged": "yes" if any(r.startswith("missing") for r in c.reasons) else "no"}
            for c in result.columns.values() if c.missing_share_change != 0]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    return frame.reindex(frame["change"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def pairs_table(result: DriftResult, only_moved: bool = True) -> pd.DataFrame:
    """Pairs whose association moved past the threshold (or every pair), largest move first."""
    rows = [{"pair": f"{p.columns[0]} / {p.columns[1]}", "measure": p.measure.replace("_", " "),
             "then": _num(p.reference), "now": _num(p.current), "change": _num(p.change), "threshold": p.threshold,
             "moved": "LARGE" if p.large else ("yes" if p.flagged else "no")}
            for p in result.pairs if p.flagged or not only_moved]
    return pd.DataFrame(rows)


def _sides(ref: dict, cur: dict) -> tuple:
    """(legend name, drawing values, colour) of the reference and the current table."""
    return (("real then (reference)", ref, THEN_COLOUR), ("real now (new batch)", cur, NOW_COLOUR))


def column_figure(column: ColumnDrift) -> go.Figure:
    """Real-then (reference) vs real-now (current) shares on the shared bins or categories of one column."""
    fig = go.Figure()
    ref, cur = column.reference, column.current
    if ref.get("kind") == "histogram":
        edges = np.asarray(ref["bin_edges"], dtype=float)
        if column.sdtype == "datetime":
            edges_axis = pd.to_datetime((edges * 1e9).astype("int64"))
            centres = edges_axis[:-1] + (edges_axis[1:] - edges_axis[:-1]) / 2
            widths = (edges_axis[1:] - edges_axis[:-1]) / pd.Timedelta(milliseconds=1)
        else:
            centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        for name, side, colour in _sides(ref, cur):
            counts = np.asarray(side["counts"], dtype=float)
            shares = counts / counts.sum() if counts.sum() else counts
            fig.add_bar(x=centres, y=shares, width=widths, name=name, marker_color=colour, opacity=0.55,
                        hovertemplate="%{x}<br>share %{y:.2%}<extra>" + name + "</extra>")
        fig.update_layout(barmode="overlay", bargap=0)
    elif ref.get("kind") == "frequencies":
        keys = list(dict.fromkeys(list(ref["shares"]) + list(cur["shares"])))
        for name, side, colour in _sides(ref, cur):
            fig.add_bar(x=keys, y=[side["shares"].get(k, 0.0) for k in keys], name=name, marker_color=colour,
                        hovertemplate="%{x}<br>share %{y:.2%}<extra>" + name + "</extra>")
        fig.update_layout(barmode="group")
        fig.update_xaxes(type="category", tickangle=-30)
    stat = f"{column.distance_name.replace('_', ' ')} {column.distance:.3f}" if column.distance is not None else ""
    fig.update_yaxes(title_text="share of rows", tickformat=".0%")
    fig.update_xaxes(title_text=column.column)
    fig.update_layout(height=380, **titled_layout(f"{column.column}: {stat}"))
    return fig


def recording_target(review) -> tuple[int | None, str | None, str]:
    """(generation id, signed-in user, why not): where the recommendation can be kept, via the sign-off pages'
    store access (components/store_access.py): the generation registered for the synthetic table under review."""
    from sqlalchemy.exc import SQLAlchemyError

    from components.store_access import current_generation_id, current_user, write_permission
    from core.errors import ReviewError

    try:
        generation_id = current_generation_id(review.tables["synthetic"].sha256)
    except (ReviewError, SQLAlchemyError) as exc:
        return None, None, f"The store cannot be read ({str(exc).splitlines()[0]})."
    if generation_id is None:
        return None, None, ("The synthetic table under review is not a registered generation yet: register it on "
                            "the Generation page to keep this recommendation in its audit log.")
    allowed, why = write_permission("reviewer")
    if not allowed:
        return generation_id, None, why
    return generation_id, current_user()["name"], ""
