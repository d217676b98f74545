"""Turning uploads and generator runs into a new Review, checked before it replaces the current one."""
from __future__ import annotations

import streamlit as st

from components.cache import prepared_inputs
from components.state import Review, set_review
from components.widgets import plain
from core.demo import fit_and_sample
from core.errors import InputError, ReviewError
from core.data.holdout import HoldoutSplit, split_holdout
from core.data.io import LoadedTable, load_table, table_from_frame

GENERATOR_METHODS = ("GaussianCopula", "CTGAN", "TVAE")


@st.cache_data(max_entries=12, show_spinner="Reading the file...")
def load_upload(name: str, data: bytes) -> LoadedTable:
    """An uploaded CSV or Parquet file as a loaded table (raises InputError with a one-line message)."""
    return load_table(name, data=data)


def metadata_upload(name: str, data: bytes, real: LoadedTable) -> tuple[dict[str, str], dict]:
    """An uploaded SDV single-table metadata JSON: its column sdtypes (as type overrides) and, when it declares
    them, the sequence key and index as review notes (what the Sequences page and the Summary's sequence_trends
    gate read). Raises InputError naming the file and column."""
    from core.checks.sequence import check_sequence_columns, sequence_metadata_from_dict
    from core.data.metadata import metadata_from_bytes

    sdtypes, raw = metadata_from_bytes(data, name)
    unknown = [c for c in sdtypes if c not in real.frame.columns]
    if unknown:
        raise InputError("metadata names a column the real table does not have", path=name, column=unknown[0])
    notes = {"metadata_file": name}
    sequence = sequence_metadata_from_dict(raw, name)
    if sequence is not None:
        check_sequence_columns(real.frame, sequence, name)
        notes.update(sequence_notes(sequence.key, sequence.index))
    return sdtypes, notes


def sequence_notes(key: str | None, index: str | None) -> dict:
    """Review notes declaring sequential data (SDV's sequence_key / sequence_index); {} for none."""
    return {"sequence_key": key, "sequence_index": index} if key else {}


def declare_sequences(review: Review, key: str | None, index: str | None) -> Review:
    """The review with its sequence key and index declared (None: not sequential)."""
    notes = {k: v for k, v in review.notes.items() if k not in ("sequence_key", "sequence_index")}
    notes.update(sequence_notes(key, index))
    return Review(review.tables, dict(review.overrides), review.source, notes, review.policy_text)


def split_table(table: LoadedTable, fraction: float, seed: int, stratify: str | None,
                group: str | None = None) -> tuple[LoadedTable, LoadedTable, HoldoutSplit]:
    """Lock a holdout from a real table: the training part and the holdout as loaded tables, with the split
    (whole sequences when `group`, a sequence key, is given)."""
    split = split_holdout(table.frame, fraction, seed, stratify, group)
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
