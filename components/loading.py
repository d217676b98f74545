"""Turning uploads and generator runs into a new Review, checked before it replaces the current one."""
from __future__ import annotations

import streamlit as st

from components.cache import prepared_inputs
from components.state import Review, set_review
from components.widgets import plain
from core.demo import fit_and_sample
from core.errors import ReviewError
from core.data.holdout import HoldoutSplit, split_holdout
from core.data.io import LoadedTable, load_table, table_from_frame

GENERATOR_METHODS = ("GaussianCopula", "CTGAN", "TVAE")


@st.cache_data(max_entries=12, show_spinner="Reading the file...")
def load_upload(name: str, data: bytes) -> LoadedTable:
    """An uploaded CSV or Parquet file as a loaded table (raises InputError with a one-line message)."""
    return load_table(name, data=data)


def split_table(table: LoadedTable, fraction: float, seed: int, stratify: str | None) -> tuple[LoadedTable, LoadedTable, HoldoutSplit]:
    """Lock a holdout from a real table: the training part and the holdout as loaded tables, with the split."""
    split = split_holdout(table.frame, fraction, seed, stratify)
    train = table_from_frame(split.train, f"{table.path} (training part)")
    holdout = table_from_frame(split.holdout, f"{table.path} (holdout)")
    return train, holdout, split


def generate_synthetic(train: LoadedTable, rows: int, seed: int, method: str, epochs: int | None) -> tuple[LoadedTable, dict]:
    """Fit an SDV synthesizer on the training part only and sample `rows`, showing progress; returns table and manifest."""
    with st.status(f"Generating {rows:,} rows with {method} (fitted on {train.rows:,} training rows)...",
                   expanded=True) as status:
        st.write("Fitting the synthesizer on the training part only" +
                 (f" ({epochs} epochs)" if method != "GaussianCopula" else ""))
        frame, manifest = fit_and_sample(train.frame, rows, seed, method, epochs)
        st.write(f"Sampled {len(frame):,} rows with seed {seed}")
        table = table_from_frame(frame, f"generated-{method}-seed{seed}.csv")
        status.update(label=f"Generated {len(frame):,} rows with {method}", state="complete", expanded=False)
    manifest["training_sha256"] = train.sha256
    return table, manifest


def try_review(review: Review) -> bool:
    """Check the review's tables against one schema; make it current if they fit, else show why and keep the old one."""
    try:
        prepared_inputs(review)
    except ReviewError as exc:
        st.error(f"Not loaded: {plain(exc)}")
        return False
    set_review(review)
    return True


def use_generated(review: Review, table: LoadedTable, manifest: dict) -> None:
    """Make a generated table the synthetic table under review (with its manifest); rerun if it fits."""
    tables = dict(review.tables, synthetic=table)
    notes = dict(review.notes, manifest=manifest)
    if try_review(Review(tables, dict(review.overrides), "generated", notes, review.policy_text)):
        st.rerun()
