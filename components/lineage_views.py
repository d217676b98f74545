"""Lineage page pieces: the store's chains rebuilt (cached by store URL and generation), their metrics per cycle
as a table, and line charts over cycles with one line per chain."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.review.lineage_store import StoredChain, chain_tips, lineage_from_store
from components.store_access import store_engine
from core.store import database_url, read_session

CHAIN_COLOURS = ("#d62728", "#2ca02c")
# (metric title, function of a cycle, y-axis format, y range)
METRICS = (
    ("synthetic share of the training mix", lambda c: c.synthetic_share, ".0%", [0, 1.05]),
    ("fresh real rows", lambda c: c.n_fresh_real_rows, ",d", None),
    ("tail health score", lambda c: c.tail_health_score, ".2f", [0, 1.05]),
    ("rare-category coverage", lambda c: c.rare_category_coverage, ".0%", [0, 1.05]),
    ("extreme quantiles: tail mass kept", lambda c: c.tail_mass_score, ".2f", [0, 1.05]),
    ("extreme quantiles: 1%-99% range vs original",
     lambda c: _mean([t.quantile_range_ratio for t in c.columns.values()]), ".2f", None),
    ("variance score", lambda c: c.variance_score, ".2f", [0, 1.05]),
    ("distinct values score", lambda c: c.distinct_score, ".2f", [0, 1.05]),
)


def _mean(values) -> float | None:
    known = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(known)) if known else None


def store_url() -> str:
    """The store the page reads: $DATABASE_URL, else the SQLite file of core.store.engine.database_url."""
    return database_url()


def stored_tips(url: str) -> list[tuple[int, str, int]]:
    """The last generation of each stored chain, newest first: (generation id, manifest sha256, chain length)."""
    from core.store.repository import lineage
    from core.store.models import Generation

    with read_session(store_engine()) as session:
        out = []
        for gid in chain_tips(session):
            out.append((gid, session.get(Generation, gid).manifest_sha256, len(lineage(session, gid)) + 1))
        return out


def stored_chain(url: str, generation_id: int, manifest_sha256: str) -> StoredChain:
    """The chain ending at a stored generation, rebuilt from the store and the cache folder (cached: immutable)."""
    return _stored_chain(url, generation_id, manifest_sha256)


@st.cache_data(max_entries=32, show_spinner="Reading the chain's tables and measuring their tails...")
def _stored_chain(url: str, generation_id: int, manifest_sha256: str) -> StoredChain:
    with read_session(store_engine()) as session:
        return lineage_from_store(session, generation_id)


def cycles_table(chain: StoredChain) -> pd.DataFrame:
    """One row per cycle: generation, training mix, tail-health components and warnings."""
    rows = []
    for gid, c in zip(chain.generation_ids, chain.result.cycles):
        rows.append({"cycle": c.cycle, "generation": gid, "synthetic share": c.synthetic_share,
                     "fresh real rows": c.n_fresh_real_rows, "real rows": c.n_real_rows,
                     "synthetic rows": c.n_synthetic_rows, "rare coverage": c.rare_category_coverage,
                     "tail mass": c.tail_mass_score, "variance": c.variance_score, "distinct": c.distinct_score,
                     "tail health": c.tail_health_score, "warnings": len(c.warnings)})
    return pd.DataFrame(rows)


def metrics_figure(chains: list[tuple[str, StoredChain]]) -> go.Figure:
    """Each metric over cycles as a small line chart, one line per chain (same colours in every chart)."""
    cols = 4
    fig = make_subplots(rows=2, cols=cols, subplot_titles=[m[0] for m in METRICS], horizontal_spacing=0.06,
                        vertical_spacing=0.2)
    for index, (title, value, fmt, yrange) in enumerate(METRICS):
        row, col = index // cols + 1, index % cols + 1
        for (label, chain), colour in zip(chains, CHAIN_COLOURS):
            cycles = chain.result.cycles
            fig.add_trace(go.Scatter(
                x=[c.cycle for c in cycles], y=[value(c) for c in cycles], mode="lines+markers", name=label,
                legendgroup=label, showlegend=index == 0, line=dict(color=colour, width=2), marker=dict(size=7),
                hovertemplate="cycle %{x}<br>%{y:" + fmt + "}<extra>" + label + "</extra>"), row, col)
        fig.update_yaxes(tickformat=fmt, row=row, col=col, **({"range": yrange} if yrange else {}))
        fig.update_xaxes(dtick=1, title_text="cycle" if row == 2 else None, row=row, col=col)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=560, margin=dict(l=10, r=10, t=70, b=10),
                      legend=dict(orientation="h", y=1.08, x=0, xanchor="left", yanchor="bottom"))
    return fig


def column_tails_table(chain: StoredChain, column: str) -> pd.DataFrame:
    """One column across a chain's cycles: its extreme quantiles, tail mass, variance and distinct values."""
    rows = []
    for gid, c in zip(chain.generation_ids, chain.result.cycles):
        t = c.columns[column]
        row = {"cycle": c.cycle, "generation": gid, "distinct": t.distinct_synthetic,
               "distinct (original)": t.distinct_original}
        if t.rare_categories:
            row.update({"rare kept": len(t.rare_present), "rare (original)": len(t.rare_categories),
                        "rare lost": ", ".join(k for k in t.rare_categories if k not in t.rare_present) or "-"})
        if t.low_quantile_original is not None:
            row.update({"low quantile": t.low_quantile_synthetic, "low (original)": t.low_quantile_original,
                        "high quantile": t.high_quantile_synthetic, "high (original)": t.high_quantile_original,
                        "tail mass": t.tail_mass_synthetic, "tail mass (original)": t.tail_mass_original,
                        "variance ratio": t.variance_ratio})
        rows.append(row)
    return pd.DataFrame(rows)
