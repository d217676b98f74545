"""Thin caches over core/ keyed on content hashes (table sha256s + type overrides + policy text).

Heavy steps (preparing inputs, the evaluation, record suspicion) live in a bounded store held by
st.cache_resource, filled with a visible st.status on a miss; light derived results (marginals, joint
distributions, association matrices, plot samples) use st.cache_data keyed on the same content key.
Arguments whose name starts with "_" are not hashed by Streamlit: the string key stands for them.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd
import streamlit as st

from components.state import Review
from core import code_version
from core.demo import default_cache_dir
from core.jobs import JobManager, content_key, job_manager
from core.checks.fidelity import JointDistribution, Marginal, association_matrices, joint_distribution, marginal_distribution
from core.data.io import LoadedTable, PreparedInputs, load_table, prepare_inputs
from core.policy import parse_policy
from core.data.encoding import EncodedTables, encode_tables
from core.review.records import (NearestReal, RecordSample, Suspicion, nearest_real_rows, noticed_reasons,
                                 reason_label, sample_records, suspicion_scores)

if TYPE_CHECKING:
    from core.report import Evaluation  # imported when first needed: scipy and sklearn take seconds to import

PLOT_POINTS = 5_000  # points drawn per table in a scatter or box plot; scores use every row
MAX_DISTANCE_ROWS = 20_000  # synthetic rows whose nearest real record is measured for "most suspicious first"
STORE_ENTRIES = 4


class _Store:
    """A small LRU of heavy results keyed by content key, with one lock per key.

    Two sessions asking for one key compute it once (the second waits on that key's lock); a session asking
    for another key, or for a value already stored, never waits on someone else's computation."""

    def __init__(self, entries: int):
        self.entries = entries
        self.items: OrderedDict[str, object] = OrderedDict()
        self.lock = threading.Lock()  # guards items and key_locks only; never held while computing
        self.key_locks: dict[str, threading.Lock] = {}

    def _hit(self, key: str) -> tuple[bool, object]:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return True, self.items[key]
            return False, None

    def get(self, key: str, compute: Callable[[], object]) -> object:
        found, value = self._hit(key)
        if found:
            return value
        with self.lock:
            key_lock = self.key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found, value = self._hit(key)  # another session may have computed it while we waited
            if found:
                return value
            value = compute()
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.entries:
                    self.items.popitem(last=False)
                self.key_locks.pop(key, None)
        return value

    def peek(self, key: str) -> object | None:
        """The stored value of key, or None (never computes, never waits)."""
        with self.lock:
            return self.items.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.items

    def __len__(self) -> int:
        return len(self.items)


@st.cache_resource(show_spinner=False)
def _stores() -> dict[str, _Store]:
    return {"prepared": _Store(STORE_ENTRIES), "encoded": _Store(STORE_ENTRIES), "evaluation": _Store(STORE_ENTRIES),
            "suspicion": _Store(STORE_ENTRIES)}


JOBS_FOLDER = "jobs"


def manager() -> JobManager:
    """The process-wide job manager and result cache (core.jobs), under <cache dir>/jobs; shared by every session."""
    return job_manager(default_cache_dir() / JOBS_FOLDER)


def _file_identity(path) -> list:
    stat = Path(path).stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


@st.cache_resource(show_spinner="Loading the demo (census income)...")
def demo_tables() -> tuple[dict[str, LoadedTable], dict]:
    """The demo's training part, holdout and synthetic table as loaded tables, plus its manifest.

    Read once per process; after the first run the parsed tables come from a pickle in the result cache
    (keyed by the files' paths, sizes and times), which is much faster than parsing the CSVs again."""
    from core.demo import build_demo

    files = build_demo()
    paths = (files.train, files.synthetic, files.holdout)
    key = content_key("demo-tables", code_version(), [_file_identity(p) for p in paths])
    cached = manager().result(key)
    if cached is not None:
        return cached
    tables = {"real": load_table(files.train), "synthetic": load_table(files.synthetic),
              "holdout": load_table(files.holdout)}
    value = (tables, files.load_manifest())
    manager().put(key, value, "demo tables")
    return value


def _with_status(label: str, compute: Callable[[Callable[[float, str], None]], object]) -> object:
    """Run compute(progress) inside an st.status box with a progress bar; the box goes away when done."""
    slot = st.empty()
    try:
        with slot.status(label, expanded=True) as status:
            bar = st.progress(0.0)

            def progress(fraction: float, message: str) -> None:
                bar.progress(float(min(max(fraction, 0.0), 1.0)), text=message)

            value = compute(progress)
            status.update(label=label.rstrip(".") + ": done", state="complete", expanded=False)
    finally:
        slot.empty()  # on success the box has done its job; on failure the page shows the error instead
    return value


def prepared_inputs(review: Review) -> PreparedInputs:
    """Tables checked against one schema and coerced to their column types (raises InputError/SchemaError)."""
    store = _stores()["prepared"]
    key = review.table_key()
    # Type detection imports SDV (torch, sdmetrics: 15-30 s on a cold process); the prepared tables are kept in
    # the result cache by content key, so a restarted app opens without importing SDV at all.
    disk_key = content_key("prepared", code_version(), key)

    def compute(progress):
        progress(0.1, "Detecting column types and checking the schemas")
        value = prepare_inputs(review.tables["real"], review.tables["synthetic"], review.tables.get("holdout"),
                               dict(review.overrides) or None)
        manager().put(disk_key, value, "prepared tables")
        return value

    def cached_or_compute():
        found = manager().result(disk_key)
        return found if found is not None else _with_status("Preparing the tables...", compute)

    return store.get(key, cached_or_compute)


def encoded_tables(review: Review) -> EncodedTables:
    """The review's tables encoded once (core.data.encoding.encode_tables) for the evaluation, the background
    checks and the Records page; each part is computed when first read, then shared."""
    inputs = prepared_inputs(review)
    key = f"{review.table_key()}:{id(inputs)}"  # the bundle holds these very frames
    bundle = _stores()["encoded"].get(key, lambda: encode_tables(inputs.frames, inputs.metadata))
    return bundle if bundle.covers(inputs.frames, inputs.metadata) else encode_tables(inputs.frames, inputs.metadata)


def evaluation(review: Review) -> Evaluation:
    """Fidelity, validity and gates of the review under its policy text, over every row.

    Privacy (minutes at 100k rows) and utility (needs a target) are not run here: their pages run them on
    demand (components.analysis_cache) and the Summary adds their sections and gates once computed."""
    from core.report import evaluate

    store = _stores()["evaluation"]
    key = review.evaluation_key()
    inputs = prepared_inputs(review)
    policy = parse_policy(review.policy_text, "policy")
    if "engine" in review.notes:  # too big for memory: components/engine_views.py
        from components.engine_views import engine_evaluation

        return store.get(key, lambda: _with_status("Scoring every row out-of-core...",
                                                   lambda p: engine_evaluation(review, policy)))
    def compute(progress):
        result = evaluate(inputs, policy, progress, privacy=False, encoded=encoded_tables(review))
        if review.sequence is not None:  # declared sequential: the sequences section and sequence_trends gate
            from core.checks.sequence import attach_sequences
            from core.report import null_settings

            progress(0.95, "Scoring the sequences")
            result = attach_sequences(result, review.sequence, null_settings(policy))
        return result

    return store.get(key, lambda: _with_status("Scoring every row...", compute))


def suspicion(review: Review, seed: int) -> Suspicion:
    """Per-row suspicion of the synthetic table; nearest-real distances measured for up to MAX_DISTANCE_ROWS rows."""
    from components.analysis_cache import computed_structure  # below this module: imported when needed
    from core.checks.structure import record_scores

    store = _stores()["suspicion"]
    inputs = prepared_inputs(review)
    structure = computed_structure(review)  # when the structure checks ran: rule breaks and detection join in
    key = f"{review.table_key()}:{seed}:{'structure' if structure is not None else 'plain'}"

    def compute(progress):
        real, synthetic = inputs.frames["real"], inputs.frames["synthetic"]
        progress(0.05, "Finding each synthetic record's nearest real record")
        measured = np.arange(len(synthetic))
        if len(synthetic) > MAX_DISTANCE_ROWS:
            measured = np.sort(np.random.default_rng(seed).choice(len(synthetic), MAX_DISTANCE_ROWS, replace=False))
        encoded = encoded_tables(review)
        nearest = nearest_real_rows(encoded, measured)
        distance = np.full(len(synthetic), np.nan)
        distance[measured] = nearest.distances
        progress(0.9, "Checking ranges, categories and combinations")
        scores = record_scores(structure, len(synthetic)) if structure is not None else None
        return suspicion_scores(real, synthetic, inputs.metadata, distance, encoded=encoded, structure_scores=scores)
    return store.get(key, lambda: _with_status("Scoring every synthetic record...", compute))


def quick_suspicion(review: Review) -> Suspicion:
    """Per-row suspicion without nearest-record distances (cheap; for random and stratified samples)."""
    store = _stores()["suspicion"]
    inputs = prepared_inputs(review)
    return store.get(f"{review.table_key()}:quick", lambda: suspicion_scores(
        inputs.frames["real"], inputs.frames["synthetic"], inputs.metadata, encoded=encoded_tables(review)))


def record_sample(review: Review, method: str, n: int, seed: int, stratify: str | None) -> RecordSample:
    """A reproducible sample of synthetic rows (see core.review.records.sample_records)."""
    # Scores are computed (with their status box) outside the cached function so nothing is replayed.
    scores = suspicion(review, seed) if method == "suspicious" else quick_suspicion(review)
    return _record_sample(review.table_key(), method, n, seed, stratify, _review=review, _scores=scores)


@st.cache_data(max_entries=32, show_spinner=False)
def _record_sample(key: str, method: str, n: int, seed: int, stratify: str | None, _review: Review,
                   _scores: Suspicion) -> RecordSample:
    strata = prepared_inputs(_review).frames["synthetic"][stratify] if method == "stratified" else None
    return sample_records(_scores, n, seed, method, strata)


def record_scores(review: Review, method: str, seed: int) -> tuple[str, Suspicion]:
    """(key, scores) the Records page colours cells with: full suspicion for "most suspicious first", else the
    quick one; the key names the scores' content (it changes when the structure checks join in)."""
    if method != "suspicious":
        return "quick", quick_suspicion(review)
    from components.analysis_cache import computed_structure  # below this module: imported when needed

    structure = computed_structure(review)
    return f"suspicious:{seed}:{'structure' if structure is not None else 'plain'}", suspicion(review, seed)


def sample_overview(review: Review, sample_key: tuple, positions: np.ndarray, distances: np.ndarray) -> list[str]:
    """The "noticed" text of every sampled row (one core rule: noticed_reasons), computed once per sample.

    `sample_key` (method, size, seed, stratify) stands for the positions and distances: only it is hashed."""
    return _sample_overview(review.table_key(), sample_key, _review=review, _positions=positions,
                            _distances=distances)


@st.cache_data(max_entries=32, show_spinner=False)
def _sample_overview(key: str, sample_key: tuple, _review: Review, _positions: np.ndarray,
                     _distances: np.ndarray) -> list[str]:
    quick = quick_suspicion(_review)
    return ["; ".join(reason_label(quick, int(p), r, short=True) for r in noticed_reasons(quick, int(p), float(d)))
            for p, d in zip(_positions, _distances)]


def nearest_real(review: Review, positions: tuple[int, ...]) -> NearestReal:
    """Nearest real training row of the given synthetic rows."""
    return _nearest_real(review.table_key(), positions, _review=review)


@st.cache_data(max_entries=64, show_spinner=False)
def _nearest_real(key: str, positions: tuple[int, ...], _review: Review) -> NearestReal:
    return nearest_real_rows(encoded_tables(_review), np.asarray(positions, dtype=np.int64))


def marginal(review: Review, column: str) -> Marginal:
    """One column's real vs synthetic distribution on shared bins."""
    return _marginal(review.table_key(), column, _review=review)


@st.cache_data(max_entries=256, show_spinner=False)
def _marginal(key: str, column: str, _review: Review) -> Marginal:
    inputs = prepared_inputs(_review)
    return marginal_distribution(inputs.frames["real"][column], inputs.frames["synthetic"][column],
                                 inputs.metadata[column])


def associations(review: Review, method: str = "pearson") -> dict[str, pd.DataFrame]:
    """Real, synthetic and difference association matrices."""
    return _associations(review.table_key(), method, _review=review)


@st.cache_data(max_entries=16, show_spinner="Computing association matrices...")
def _associations(key: str, method: str, _review: Review) -> dict[str, pd.DataFrame]:
    inputs = prepared_inputs(_review)
    tables = {"real": inputs.frames["real"], "synthetic": inputs.frames["synthetic"]}
    return association_matrices(tables, inputs.metadata, method)


def joint(review: Review, x: str, y: str) -> JointDistribution:
    """Binned joint distribution of a pair, real vs synthetic, over every row."""
    return _joint(review.table_key(), x, y, _review=review)


@st.cache_data(max_entries=256, show_spinner=False)
def _joint(key: str, x: str, y: str, _review: Review) -> JointDistribution:
    inputs = prepared_inputs(_review)
    return joint_distribution(inputs.frames["real"], inputs.frames["synthetic"], x, y, inputs.metadata)


def plot_sample(review: Review, columns: tuple[str, ...], n: int = PLOT_POINTS, seed: int = 0) -> pd.DataFrame:
    """At most n seeded rows per table (real, synthetic) of the given columns, with a 'table' column."""
    return _plot_sample(review.table_key(), columns, n, seed, _review=review)


@st.cache_data(max_entries=256, show_spinner=False)
def _plot_sample(key: str, columns: tuple[str, ...], n: int, seed: int, _review: Review) -> pd.DataFrame:
    inputs = prepared_inputs(_review)
    parts = []
    for role in ("real", "synthetic"):
        frame = inputs.frames[role]
        rows = np.random.default_rng(seed).choice(len(frame), min(n, len(frame)), replace=False)
        part = frame.iloc[np.sort(rows)][list(columns)].copy()
        part["table"] = role
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def figure(key: tuple, build: Callable[[], object]) -> object:
    """The Plotly figure `build()` returns, kept per content key (building one costs 0.2-0.8 s a rerun).

    Held by st.cache_resource, not pickled: callers must not change the figure they get."""
    return _figure(key, _build=build)


@st.cache_resource(max_entries=64, show_spinner=False)
def _figure(key: tuple, _build: Callable[[], object]) -> object:
    return _build()


def overrides_json(overrides: dict[str, str]) -> str:
    """Canonical text of type overrides (for keys and display)."""
    return json.dumps(dict(sorted(overrides.items())))


def clear_all() -> None:
    """Forget every cached result (tests, or after the core changed)."""
    from components.analysis_cache import clear_jobs  # imports this module: imported late

    st.cache_data.clear()
    _stores.clear()
    _figure.clear()
    clear_jobs()
