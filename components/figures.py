"""Plotly figure builders: each takes core results (or a plot sample) and RETURNS a figure; nothing is drawn here."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.checks.fidelity import JointDistribution, Marginal

REAL_COLOUR = "#1f77b4"
SYNTHETIC_COLOUR = "#ff7f0e"
COLOURS = {"real": REAL_COLOUR, "synthetic": SYNTHETIC_COLOUR}
# Legends sit top-left: Plotly's toolbar (modebar) is drawn top-right and used to cover them.
LEGEND = dict(orientation="h", y=1.02, x=0, xanchor="left", yanchor="bottom")
LAYOUT = dict(margin=dict(l=10, r=10, t=50, b=10), legend=LEGEND)
TITLE_MARGIN = 80  # top margin of a titled figure: the title on top, the legend on its own line below it


def titled_layout(title: str) -> dict:
    """LAYOUT for a figure with a title: the title top-left, the legend below it, neither over the other."""
    if not title:
        return LAYOUT
    return dict(LAYOUT, margin=dict(LAYOUT["margin"], t=TITLE_MARGIN),
                title=dict(text=title, font=dict(size=14), x=0, xanchor="left", y=1, yanchor="top",
                           yref="container", pad=dict(t=10)))


# Plotly's toolbar (modebar) shows on hover at the top right, over whatever is there: with its nine buttons it
# reached over titles and annotations of half-width charts. Every figure of the app keeps four (download, zoom,
# pan, reset), through a default template (use_app_template, called by app.py), so no page can forget it.
MODEBAR_REMOVE = ["select2d", "lasso2d", "autoScale2d", "zoomIn2d", "zoomOut2d", "hoverClosestCartesian",
                  "hoverCompareCartesian", "toggleSpikelines"]
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": MODEBAR_REMOVE}
APP_TEMPLATE = "review_desk"


def use_app_template() -> None:
    """Make Plotly's default template "plotly+review_desk": the app's modebar (MODEBAR_REMOVE) on every figure."""
    import plotly.io as pio

    if APP_TEMPLATE not in pio.templates:
        pio.templates[APP_TEMPLATE] = go.layout.Template(layout=dict(modebar=dict(remove=MODEBAR_REMOVE)))
    pio.templates.default = f"plotly+{APP_TEMPLATE}"
MAX_BOX_CATEGORIES = 15


def _axis_values(edges: np.ndarray, sdtype: str):
    if sdtype == "datetime":
        return pd.to_datetime(edges.astype("int64"))
    return edges


def marginal_figure(marginal: Marginal, title: str = "") -> go.Figure:
    """Real vs synthetic shares on the same bins (histogram), categories (bars) or time bins (dates)."""
    fig = go.Figure()
    if marginal.edges is not None:
        bins = len(marginal.edges) - 1
        edges = _axis_values(marginal.edges, marginal.sdtype)
        left, right = edges[:-1], edges[1:]
        if marginal.sdtype == "datetime":
            centres = left + (right - left) / 2
            widths = (right - left) / pd.Timedelta(milliseconds=1)  # plotly date widths are milliseconds
        else:
            centres, widths = (left + right) / 2, (right - left)
        for role, shares in (("real", marginal.real[:bins]), ("synthetic", marginal.synthetic[:bins])):
            fig.add_bar(x=centres, y=shares, width=widths, name=role, marker_color=COLOURS[role], opacity=0.55,
                        customdata=np.column_stack([[str(l) for l in marginal.labels[:bins]]]),
                        hovertemplate="%{customdata[0]}<br>share %{y:.2%}<extra>" + role + "</extra>")
        fig.update_layout(barmode="overlay", bargap=0)
        missing = [(role, s[bins]) for role, s in (("real", marginal.real), ("synthetic", marginal.synthetic))
                   if len(s) > bins]
        if missing:
            text = "missing: " + ", ".join(f"{role} {share:.1%}" for role, share in missing)
            fig.add_annotation(text=text, xref="paper", yref="paper", x=1, y=1.0, showarrow=False,
                               xanchor="right", yanchor="bottom", yshift=24, font=dict(size=11))
    else:
        for role, shares in (("real", marginal.real), ("synthetic", marginal.synthetic)):
            fig.add_bar(x=list(marginal.labels), y=shares, name=role, marker_color=COLOURS[role],
                        hovertemplate="%{x}<br>share %{y:.2%}<extra>" + role + "</extra>")
        fig.update_layout(barmode="group")
        fig.update_xaxes(type="category", tickangle=-30)
    fig.update_yaxes(title_text="share of rows", tickformat=".0%")
    fig.update_xaxes(title_text=marginal.column)
    fig.update_layout(height=420, **titled_layout(title))
    return fig


def association_heatmaps(matrices: dict[str, pd.DataFrame]) -> go.Figure:
    """Real, synthetic and difference (synthetic - real) association heatmaps on one colour scale, -1 to 1."""
    names = list(matrices["real"].columns)
    fig = make_subplots(rows=1, cols=3, subplot_titles=("real", "synthetic", "difference (synthetic - real)"),
                        shared_yaxes=True, horizontal_spacing=0.02)
    for i, role in enumerate(("real", "synthetic", "difference"), start=1):
        z = matrices[role].loc[names, names].to_numpy(dtype=float)
        fig.add_trace(go.Heatmap(z=z, x=names, y=names, coloraxis="coloraxis",
                                 hovertemplate="%{y} / %{x}<br>%{z:.3f}<extra>" + role + "</extra>"), 1, i)
    fig.update_layout(coloraxis=dict(colorscale="RdBu", cmin=-1, cmax=1, cmid=0,
                                     colorbar=dict(title="association", thickness=12)),
                      height=460, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=9))
    fig.update_xaxes(tickfont=dict(size=9), tickangle=-45)
    return fig


def contingency_heatmaps(joint: JointDistribution) -> go.Figure:
    """Two categorical columns: real and synthetic shares of each cell side by side on one colour scale."""
    x, y = joint.columns
    fig = make_subplots(rows=1, cols=2, subplot_titles=("real", "synthetic"), shared_yaxes=True,
                        horizontal_spacing=0.03)
    top = float(max(joint.real.max(initial=0), joint.synthetic.max(initial=0))) or 1.0
    for i, (role, shares) in enumerate((("real", joint.real), ("synthetic", joint.synthetic)), start=1):
        fig.add_trace(go.Heatmap(z=shares, x=list(joint.y_labels), y=list(joint.x_labels), coloraxis="coloraxis",
                                 hovertemplate=f"{x} %{{y}}<br>{y} %{{x}}<br>share %{{z:.2%}}<extra>{role}</extra>"),
                      1, i)
    fig.update_layout(coloraxis=dict(colorscale="Blues", cmin=0, cmax=top,
                                     colorbar=dict(title="share", tickformat=".0%", thickness=12)),
                      height=max(380, 22 * len(joint.x_labels) + 140), margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(title_text=y, type="category", tickangle=-30, tickfont=dict(size=9))
    fig.update_yaxes(title_text=x, col=1, type="category", tickfont=dict(size=9), autorange="reversed")
    return fig


def box_pair(points: pd.DataFrame, category: str, number: str) -> go.Figure:
    """A categorical and a numeric column: box plots of the number per category, real beside synthetic.

    The quartiles and whiskers (1.5 IQR, clipped to the data) are computed here, so the browser gets a few
    numbers per box instead of every point (drawing raw points cost most of a rerun)."""
    counts = points[category].astype(str).value_counts()
    keep = list(counts.index[:MAX_BOX_CATEGORIES])
    fig = go.Figure()
    for role in ("real", "synthetic"):
        sub = points[points["table"] == role]
        stats = _box_stats(sub[category].astype(str), pd.to_numeric(sub[number], errors="coerce"), keep)
        if not stats["x"]:
            continue
        fig.add_trace(go.Box(name=role, marker_color=COLOURS[role], boxpoints=False, **stats))
    fig.update_layout(boxmode="group", height=440, **LAYOUT)
    fig.update_xaxes(title_text=category, type="category", categoryorder="array", categoryarray=keep,
                     tickangle=-30)
    fig.update_yaxes(title_text=number)
    return fig


def _box_stats(categories: pd.Series, values: pd.Series, keep: list[str]) -> dict[str, list]:
    """Per kept category: q1, median, q3 and the whiskers (furthest points within 1.5 IQR of the box)."""
    out: dict[str, list] = {k: [] for k in ("x", "q1", "median", "q3", "lowerfence", "upperfence")}
    frame = pd.DataFrame({"c": categories.to_numpy(), "v": values.to_numpy(dtype=float)}).dropna()
    for name, group in frame.groupby("c", sort=False):
        if name not in keep:
            continue
        v = np.sort(group["v"].to_numpy())
        q1, median, q3 = np.quantile(v, [0.25, 0.5, 0.75])
        iqr = q3 - q1
        inside = v[(v >= q1 - 1.5 * iqr) & (v <= q3 + 1.5 * iqr)]
        for key, value in (("x", name), ("q1", q1), ("median", median), ("q3", q3),
                           ("lowerfence", inside.min()), ("upperfence", inside.max())):
            out[key].append(value if key == "x" else float(value))
    return out
