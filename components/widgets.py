"""Reusable widgets: page preamble (state + evaluation, or a clear error), tables of text, record comparison."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from components.cache import evaluation, prepared_inputs
from components.state import Review, get_review
from core.errors import ReviewError
from core.store.common import short_time  # noqa: F401  (one home: pages and components import it from here)
from core.data.io import PreparedInputs

if TYPE_CHECKING:
    from core.report import Evaluation  # type only: importing core.report (scipy, sklearn) delays the first paint

MISSING_TEXT = "(missing)"
DIFFERS_COLOUR = "background-color: #fff3cd"
SUSPICIOUS_COLOUR = "background-color: #f8d7da"
PAGE_DATA = "pages/data.py"
SHA256_WIDTH = 540  # pixels a 64-digit hex digest needs in st.dataframe (measured on the Data page): shown whole


SHORT_DIGEST = 12  # hex digits of a digest shown in a table that must fit the page; the full one in its details


def short_digest(digest: str | None) -> str:
    """The first SHORT_DIGEST hex digits of a digest and an ellipsis ('' for none)."""
    return f"{digest[:SHORT_DIGEST]}…" if digest else ""


def table_widget_key(prefix: str, frame: pd.DataFrame) -> str:
    """A widget key that changes with the table's text: st.dataframe sizes its columns when it is first drawn
    and keeps those widths while its key stays, so a table whose cells change (other files) needs a new key."""
    import hashlib

    digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:12]
    return f"{prefix}_{digest}"


def gate_details(details: list[tuple[str, str]], key: str) -> None:
    """Each gate's detail in full, in an expander under its table (the table's detail column is cut to fit
    1,440 px); `details` are (gate name, detail) pairs."""
    with st.expander("Each gate's detail in full", key=f"{key}_details"):
        for name, detail in details:
            st.markdown(f"**{plain(name)}**")
            st.text(detail)


def sha256_column(label: str) -> object:
    """Column config of a sha256 column in st.dataframe: wide enough to show the whole digest."""
    return st.column_config.TextColumn(label, width=SHA256_WIDTH)


def review_or_stop(need_evaluation: bool = True) -> tuple[Review, PreparedInputs, Evaluation | None]:
    """The current review, its prepared inputs and evaluation; on bad input, an error box and the page stops."""
    try:
        review = get_review()
        inputs = prepared_inputs(review)
        result = evaluation(review) if need_evaluation else None
    except ReviewError as exc:
        st.error(f"The tables under review cannot be used: {plain(exc)}")
        st.page_link(PAGE_DATA, label="Fix the inputs on the Data page", icon=":material/database:")
        st.stop()
    return review, inputs, result


def plain(text: str) -> str:
    """Text safe to pass to a Markdown-rendering element (st.error, st.caption): every punctuation mark escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>$:=])", r"\\\1", str(text))


def format_values(series: pd.Series) -> pd.Series:
    """Cell values as display text: whole floats without '.0', 6 significant digits, '(missing)' for gaps."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 1e15)
        text = np.where(whole, np.char.mod("%d", np.where(whole, values, 0).astype(np.int64)),
                        np.char.mod("%.6g", np.nan_to_num(values)))
        out = pd.Series(text.astype(object), index=series.index)
    elif pd.api.types.is_datetime64_any_dtype(series):
        out = series.dt.strftime("%Y-%m-%d %H:%M:%S").str.replace(" 00:00:00", "", regex=False)
    else:
        out = series.astype(str)
    text = out.to_numpy(dtype=object, copy=True)
    text[missing] = MISSING_TEXT  # on the array: a masked Series assignment costs ~0.5 ms a column, per click
    return pd.Series(text, index=series.index)


def text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame whose every cell is display text."""
    return pd.DataFrame({c: format_values(frame[c]) for c in frame.columns}, index=frame.index)


def inputs_table(review: Review) -> pd.DataFrame:
    """One line per table under review: role, file name, rows, columns, sha256 (folders: input_folders)."""
    rows = []
    for role in ("real", "synthetic", "holdout"):
        table = review.tables.get(role)
        if table is None:
            rows.append({"table": role, "file": "(none)", "rows": "", "columns": "", "sha256": ""})
            continue
        label = "real (training part)" if role == "real" else role
        rows.append({"table": label, "file": Path(table.path).name, "rows": f"{table.rows:,}",
                     "columns": str(table.columns), "sha256": table.sha256})
    return pd.DataFrame(rows)


def input_folders(review: Review) -> list[str]:
    """The folders of the files under review, in role order, each once (none for uploads: a bare file name)."""
    folders = [str(Path(t.path).parent) for t in (review.tables.get(r) for r in ("real", "synthetic", "holdout")) if t]
    return [f for f in dict.fromkeys(folders) if f != "."]


def record_comparison(synthetic_row: pd.DataFrame, real_row: pd.DataFrame, metadata: dict[str, str],
                      differs: pd.Series, cell_reasons: pd.Series, reason_text: dict[str, str]):
    """A Styler of one synthetic record (one-row frame) beside its nearest real record, as text, one line per
    column, with differing (yellow) and suspicious (red) cells coloured."""
    return style_comparison(*comparison_table(synthetic_row, real_row, metadata, differs, cell_reasons, reason_text))


def comparison_table(synthetic_row: pd.DataFrame, real_row: pd.DataFrame, metadata: dict[str, str],
                     differs: pd.Series, cell_reasons: pd.Series, reason_text: dict[str, str]
                     ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(table, differing rows, suspicious rows): the record comparison as text, one line per column, and the
    masks record_comparison colours (kept apart so the table can be cached and the Styler built cheaply)."""
    columns = list(synthetic_row.columns)
    syn_text = text_frame(synthetic_row)
    real_text = text_frame(real_row)
    checks = [reason_text.get(cell_reasons.get(c, ""), "") if cell_reasons.get(c, "") else "" for c in columns]
    table = pd.DataFrame({
        "column": columns,
        "type": [metadata.get(c, "") for c in columns],
        "synthetic": [syn_text[c].iloc[0] for c in columns],
        "nearest real": [real_text[c].iloc[0] for c in columns],
        "check": [("differs" if bool(differs.get(c, False)) else "same") + (f"; {t}" if t else "")
                  for c, t in zip(columns, checks)],
    })
    suspicious = np.array([bool(cell_reasons.get(c, "")) for c in columns])
    different = np.array([bool(differs.get(c, False)) for c in columns])
    return table, different, suspicious


def style_comparison(table: pd.DataFrame, different: np.ndarray, suspicious: np.ndarray):
    """The comparison table as a Styler: differing synthetic cells yellow, failed checks red."""

    def colour(frame: pd.DataFrame) -> pd.DataFrame:
        styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
        styles.loc[different, "synthetic"] = DIFFERS_COLOUR
        styles.loc[suspicious, "synthetic"] = SUSPICIOUS_COLOUR
        styles.loc[suspicious, "check"] = SUSPICIOUS_COLOUR
        return styles

    return table.style.apply(colour, axis=None)


def verdict_badge(verdict: str, quality: float) -> None:
    """The verdict and quality score as a badge and metric (fixed text; a failed verdict is not an error box)."""
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Verdict**")
        if verdict == "pass":
            st.badge("PASS: every gate passed", icon=":material/check_circle:", color="green")
        else:
            st.badge("FAIL: at least one gate failed", icon=":material/cancel:", color="red")
    right.metric("Quality score (mean of column shapes and pair trends)", f"{quality:.3f}")


def sidebar_summary() -> None:
    """The tables under review, in the sidebar of every page."""
    review = st.session_state.get("review")
    if review is None:
        return
    with st.sidebar:
        st.caption("Under review")
        for role in ("real", "synthetic", "holdout"):
            table = review.tables.get(role)
            if table is not None:
                st.caption(f"{role}: {table.rows:,} rows x {table.columns} · sha256 {table.sha256[:12]}")


def require_holdout(review, why: str) -> None:
    """Stop the page with a pointer to the Data page when the review has no locked holdout."""
    if review.has_holdout:
        return
    st.info(f"{why}, and this review has none. Add a holdout (or split one off the real table) on the Data page.",
            icon=":material/info:")
    st.page_link(PAGE_DATA, label="Data: add a holdout", icon=":material/database:")
    st.stop()


def follow_table_selection(event, options: list[str], choice_key: str) -> None:
    """Let a row picked in a selectable st.dataframe set the selectbox stored under `choice_key`.

    Only a newly picked row moves the choice, so choosing in the selectbox afterwards is not undone on rerun."""
    last_key = f"{choice_key}_last_row"
    rows = event.selection.rows if event is not None else []
    if rows and st.session_state.get(last_key) != rows[0]:
        st.session_state[last_key] = rows[0]
        st.session_state[choice_key] = options[rows[0]]
    if st.session_state.get(choice_key) not in options:
        st.session_state[choice_key] = options[0]
