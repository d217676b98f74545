"""Structure page views: the cached structure run and figures built from a StructureResult (returned, not drawn)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.figures import REAL_COLOUR, SYNTHETIC_COLOUR, titled_layout
from core.checks.structure import StructureResult

def contributions_figure(contributions: pd.Series, top: int = 15) -> go.Figure:
    """Horizontal bars: AUC lost when each column is shuffled (the columns that give synthetic rows away)."""
    shown = contributions.head(top)[::-1]
    fig = go.Figure(go.Bar(x=shown.to_numpy(), y=[str(c) for c in shown.index], orientation="h",
                           marker_color=SYNTHETIC_COLOUR))
    fig.update_layout(title="Column contributions to detection (AUC lost when shuffled)", height=120 + 22 * len(shown),
                      xaxis_title="AUC lost", margin=dict(l=10, r=10, t=40, b=10))
    return fig


def triple_frame(table: pd.DataFrame, rows: int = 20) -> pd.DataFrame:
    """The cells of one triple with the largest share differences, values as text."""
    out = table.head(rows).copy()
    for column in ("real", "synthetic", "difference"):
        out[column] = out[column].map(lambda v: f"{v:+.4f}" if column == "difference" else f"{v:.4f}")
    return out.astype(str)


def missing_heatmaps(real: pd.DataFrame, synthetic: pd.DataFrame) -> go.Figure:
    """Real and synthetic co-missingness (share of rows where both columns are missing) on one colour scale."""
    columns = [c for c in real.columns if real.at[c, c] > 0 or synthetic.at[c, c] > 0] or list(real.columns)
    r, s = real.loc[columns, columns], synthetic.loc[columns, columns]
    top = float(max(r.to_numpy().max(), s.to_numpy().max(), 1e-9))
    fig = make_subplots(1, 2, subplot_titles=("real", "synthetic"), shared_yaxes=True)
    for i, frame in enumerate((r, s), start=1):
        fig.add_trace(go.Heatmap(z=frame.to_numpy(), x=columns, y=columns, zmin=0, zmax=top, colorscale="Blues",
                                 showscale=i == 2, hovertemplate="%{y} & %{x}: %{z:.3f}<extra></extra>"), 1, i)
    fig.update_layout(title="Missing together (diagonal: missing share)", height=200 + 18 * len(columns))
    return fig


def pca_figure(projection: pd.DataFrame) -> go.Figure:
    """Real and synthetic rows projected on the real table's first two principal components (shared axes)."""
    fig = go.Figure()
    for table, colour in (("real", REAL_COLOUR), ("synthetic", SYNTHETIC_COLOUR)):
        part = projection[projection["table"] == table]
        fig.add_trace(go.Scattergl(x=part["pc1"], y=part["pc2"], mode="markers", name=table,
                                   marker=dict(color=colour, size=4, opacity=0.45)))
    fig.update_layout(title="Rows on the real table's first two principal components", xaxis_title="PC1",
                      yaxis_title="PC2", height=420)
    return fig


def explained_figure(explained: pd.DataFrame) -> go.Figure:
    """Explained variance ratio per component, real beside synthetic (and holdout)."""
    colours = {"real": REAL_COLOUR, "synthetic": SYNTHETIC_COLOUR, "holdout": "#999999"}
    fig = go.Figure([go.Bar(name=t, x=list(explained.index), y=explained[t].to_numpy(), marker_color=colours.get(t))
                     for t in explained.columns])
    fig.update_layout(barmode="group", height=320, **titled_layout("Explained variance ratio"))
    return fig


def suspicious_rows(result: StructureResult, n: int = 200) -> pd.DataFrame:
    """Synthetic rows most likely to look synthetic, with how many rules each breaks."""
    from core.checks.structure import record_scores

    scores = record_scores(result, len(result.constraints.breaking_count))
    order = np.lexsort((-scores["looks_synthetic"].fillna(0).to_numpy(), -scores["rules_broken"].to_numpy()))
    top = scores.iloc[order[:n]]
    return pd.DataFrame({"synthetic row": top.index.astype(int), "looks synthetic": top["looks_synthetic"].round(4),
                         "rules broken": top["rules_broken"].astype(int)})
