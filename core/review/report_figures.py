"""Plot builders of the offline HTML report: each takes data the checks already computed and RETURNS a figure.

Real and synthetic always share axes, bins and colour scales. Every text that comes from data (column
names, category labels) is passed through html.escape, because plotly renders a subset of HTML in labels;
plotted numbers are rounded to 4 decimals so the page never carries float noise.
"""
from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.checks.fidelity import JointDistribution, Marginal
from core.gates import REGISTRY, direction

REAL_COLOUR = "#1f77b4"
SYNTHETIC_COLOUR = "#ff7f0e"
HOLDOUT_COLOUR = "#6e7781"
PASS_COLOUR = "#1a7f37"
FAIL_COLOUR = "#cf222e"
COLOURS = {"real": REAL_COLOUR, "synthetic": SYNTHETIC_COLOUR, "holdout": HOLDOUT_COLOUR}
# Fixed pixel widths so a figure never pushes the page wider than its 1,040 px column, on screen (1,440 px
# viewport) or printed (A4 landscape leaves about 1,030 px at 96 dpi).
FULL_WIDTH = 1000
HALF_WIDTH = 490
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12)
LEGEND = dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom")
# Figures with subplot titles keep their legend below the plots, clear of the titles.
LEGEND_BELOW = dict(orientation="h", y=-0.18, x=0, yanchor="top")
MARGIN_BELOW = dict(l=60, r=20, t=80, b=90)
DIGITS = 4
GRID = "#e5e7eb"


def label(value: Any) -> str:
    """Data-derived text made safe for a plotly label (plotly turns entities back into the characters)."""
    return html.escape(str(value), quote=True)


def rounded(values: Any) -> list:
    """Numbers rounded to DIGITS decimals (non-finite as None), as a plain list for the figure JSON."""
    out = []
    for v in np.asarray(values, dtype=float).ravel().tolist():
        out.append(round(v, DIGITS) if math.isfinite(v) else None)
    return out


def _grid(values: np.ndarray) -> list[list]:
    return [rounded(row) for row in np.asarray(values, dtype=float)]


def _layout(fig: go.Figure, title: str, width: int, height: int, **extra: Any) -> go.Figure:
    extra.setdefault("margin", dict(l=60, r=20, t=60, b=60))
    # Styled by hand: assigning a named template deep-copies it on every figure (most of the build time).
    fig.update_layout(title=dict(text=title, font=dict(size=14)), width=width, height=height, autosize=False,
                      paper_bgcolor="white", plot_bgcolor="white", font=FONT, **extra)
    fig.update_xaxes(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID)
    return fig


def _bound(gate: Mapping[str, Any]) -> float | None:
    bound = gate.get("floor") if gate.get("floor") is not None else gate.get("threshold")
    return float(bound) if isinstance(bound, (int, float)) and math.isfinite(bound) else None


def _gate_direction(gate: Mapping[str, Any]) -> str:
    name = str(gate.get("name"))
    return direction(name) if name in REGISTRY else str(gate.get("direction") or "min")


def gates_figure(gates: Sequence[Mapping[str, Any]]) -> go.Figure | None:
    """Gates split by direction: 'at least' gates (value must reach the floor) and 'at most' gates (ceiling).

    Each bar is the gate's value, the black tick its bound; informative gates (no finite bound or value) are
    left out. None when no gate can be drawn.
    """
    groups = {"min": [], "max": []}
    for g in gates:
        value = g.get("value")
        if _bound(g) is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        groups[_gate_direction(g)].append(g)
    if not groups["min"] and not groups["max"]:
        return None
    titles = ("At least: higher passes (value ≥ floor)", "At most: lower passes (value ≤ ceiling)")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.22)
    for col, key in enumerate(("min", "max"), start=1):
        chosen = groups[key]
        if not chosen:
            fig.add_annotation(text="no gate of this kind", showarrow=False, row=1, col=col, x=0.5, y=0.5)
            continue
        names = [label(g.get("name")) for g in chosen]
        values = rounded([g["value"] for g in chosen])
        bounds = rounded([_bound(g) for g in chosen])
        colours = [PASS_COLOUR if g.get("passed") else FAIL_COLOUR for g in chosen]
        fig.add_bar(x=values, y=names, orientation="h", marker_color=colours, name="value", showlegend=col == 1,
                    text=[f"{v:.3f}" for v in values], textposition="outside",
                    hovertemplate="%{y}: %{x:.3f}<extra>value</extra>", row=1, col=col)
        fig.add_scatter(x=bounds, y=names, mode="markers", name="bound", showlegend=col == 1,
                        marker=dict(symbol="line-ns-open", size=22, color="#1f2328", line=dict(width=3)),
                        hovertemplate="%{y}: bound %{x:.3f}<extra></extra>", row=1, col=col)
        top = max([1.0] + [v for v in values + bounds if v is not None])
        fig.update_xaxes(range=[0, top * 1.15], row=1, col=col)
    fig.update_yaxes(autorange="reversed", automargin=True)
    height = 200 + 40 * max(len(groups["min"]), len(groups["max"]), 2)
    return _layout(fig, "Gates: value (bar, green passed, red failed) and its bound (tick)", FULL_WIDTH, height,
                   legend=LEGEND_BELOW, barmode="overlay", margin=MARGIN_BELOW)


def column_scores_figure(columns: Mapping[str, Mapping[str, Any]], title: str = "Column shapes") -> go.Figure | None:
    """Score per column (bars), with the holdout's score and the floor it was judged against when recorded."""
    names = [c for c, v in columns.items() if isinstance(v, Mapping) and v.get("score") is not None]
    if not names:
        return None
    order = sorted(names, key=lambda c: columns[c]["score"])
    fig = go.Figure()
    fig.add_bar(x=[label(c) for c in order], y=rounded([columns[c]["score"] for c in order]), name="synthetic",
                marker_color=SYNTHETIC_COLOUR, hovertemplate="%{x}: %{y:.3f}<extra>synthetic</extra>")
    for key, name, symbol in (("expected", "holdout (a fresh real sample)", "circle"), ("floor", "floor", "line-ew-open")):
        if any(columns[c].get(key) is not None for c in order):
            fig.add_scatter(x=[label(c) for c in order], y=rounded([columns[c].get(key, float("nan"))
                                                                    if columns[c].get(key) is not None else float("nan")
                                                                    for c in order]),
                            mode="markers", name=name,
                            marker=dict(symbol=symbol, size=16 if symbol != "circle" else 8, color="#1f2328",
                                        line=dict(width=2)))
    fig.update_yaxes(range=[0, 1.05], title_text="score (1 = identical)")
    fig.update_xaxes(tickangle=-35, automargin=True)
    return _layout(fig, title, FULL_WIDTH, 400, legend=LEGEND)


def _axis_values(edges: np.ndarray, sdtype: str):
    if sdtype == "datetime":
        return pd.to_datetime(edges.astype("int64"))
    return edges


def marginal_figure(marginal: Marginal, score: float | None = None) -> go.Figure:
    """Real vs synthetic shares on the same bins (numbers, dates) or categories; missing values noted."""
    fig = go.Figure()
    title = label(marginal.column) + ("" if score is None else f" (score {score:.3f})")
    if marginal.edges is not None:
        bins = len(marginal.edges) - 1
        edges = _axis_values(marginal.edges, marginal.sdtype)
        left, right = edges[:-1], edges[1:]
        if marginal.sdtype == "datetime":
            centres = [str(c) for c in (left + (right - left) / 2)]
            widths = rounded((right - left) / pd.Timedelta(milliseconds=1))
        else:
            centres, widths = rounded((left + right) / 2), rounded(right - left)
        for role, shares in (("real", marginal.real[:bins]), ("synthetic", marginal.synthetic[:bins])):
            fig.add_bar(x=centres, y=rounded(shares), width=widths, name=role, marker_color=COLOURS[role],
                        opacity=0.55, customdata=[label(l) for l in marginal.labels[:bins]],
                        hovertemplate="%{customdata}<br>share %{y:.2%}<extra>" + role + "</extra>")
        fig.update_layout(barmode="overlay", bargap=0)
        missing = [(role, s[bins]) for role, s in (("real", marginal.real), ("synthetic", marginal.synthetic))
                   if len(s) > bins]
        if missing:
            fig.add_annotation(text="missing: " + ", ".join(f"{r} {s:.1%}" for r, s in missing), xref="paper",
                               yref="paper", x=0, y=1.0, showarrow=False, xanchor="left", yanchor="bottom",
                               font=dict(size=11))
    else:
        labels = [label(l) for l in marginal.labels]
        for role, shares in (("real", marginal.real), ("synthetic", marginal.synthetic)):
            fig.add_bar(x=labels, y=rounded(shares), name=role, marker_color=COLOURS[role],
                        hovertemplate="%{x}<br>share %{y:.2%}<extra>" + role + "</extra>")
        fig.update_layout(barmode="group")
        fig.update_xaxes(type="category", tickangle=-35, tickfont=dict(size=9), automargin=True)
    fig.update_yaxes(title_text="share of rows", tickformat=".0%")
    return _layout(fig, title, HALF_WIDTH, 340, legend=LEGEND)


def joint_figure(joint: JointDistribution, score: float | None = None) -> go.Figure:
    """A pair's binned joint distribution: real and synthetic side by side on shared bins and one colour scale."""
    x, y = joint.columns
    fig = make_subplots(rows=1, cols=2, subplot_titles=("real", "synthetic"), shared_yaxes=True,
                        horizontal_spacing=0.04)
    top = float(max(joint.real.max(initial=0), joint.synthetic.max(initial=0))) or 1.0
    xl, yl = [label(v) for v in joint.x_labels], [label(v) for v in joint.y_labels]
    for i, (role, shares) in enumerate((("real", joint.real), ("synthetic", joint.synthetic)), start=1):
        fig.add_trace(go.Heatmap(z=_grid(shares), x=yl, y=xl, coloraxis="coloraxis",
                                 hovertemplate=f"{label(x)} %{{y}}<br>{label(y)} %{{x}}<br>share %{{z:.2%}}"
                                               f"<extra>{role}</extra>"), 1, i)
    fig.update_layout(coloraxis=dict(colorscale="Blues", cmin=0, cmax=round(top, DIGITS),
                                     colorbar=dict(title="share", tickformat=".0%", thickness=12)))
    fig.update_xaxes(title_text=label(y), type="category", tickangle=-35, tickfont=dict(size=8), automargin=True)
    fig.update_yaxes(title_text=label(x), col=1, type="category", tickfont=dict(size=8), automargin=True)
    fig.update_yaxes(type="category", autorange="reversed")
    title = f"{label(x)} × {label(y)}" + ("" if score is None else f" (score {score:.3f})")
    return _layout(fig, title, FULL_WIDTH, max(380, 16 * len(joint.x_labels) + 200))


def association_matrices_from_pairs(pairs: Sequence[Mapping[str, Any]]) -> dict[str, pd.DataFrame] | None:
    """Real, synthetic and difference association matrices rebuilt from the report's pair records."""
    names: list[str] = []
    for p in pairs:
        for c in p.get("columns", []):
            if c not in names:
                names.append(c)
    if len(names) < 2:
        return None
    out = {}
    for role in ("real", "synthetic"):
        m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for p in pairs:
            a, b = p["columns"]
            value = p.get(role)
            m.loc[a, b] = m.loc[b, a] = np.nan if value is None else float(value)
        out[role] = m
    out["difference"] = out["synthetic"] - out["real"]
    return out


def association_heatmaps(matrices: Mapping[str, pd.DataFrame]) -> go.Figure:
    """Real, synthetic and difference (synthetic - real) association heatmaps on one colour scale, -1 to 1."""
    names = list(matrices["real"].columns)
    shown = [label(n) for n in names]
    fig = make_subplots(rows=1, cols=3, subplot_titles=("real", "synthetic", "difference (synthetic − real)"),
                        shared_yaxes=True, horizontal_spacing=0.015)
    for i, role in enumerate(("real", "synthetic", "difference"), start=1):
        z = matrices[role].loc[names, names].to_numpy(dtype=float)
        fig.add_trace(go.Heatmap(z=_grid(z), x=shown, y=shown, coloraxis="coloraxis",
                                 hovertemplate="%{y} / %{x}<br>%{z:.3f}<extra>" + role + "</extra>"), 1, i)
    fig.update_layout(coloraxis=dict(colorscale="RdBu", cmin=-1, cmax=1, cmid=0,
                                     colorbar=dict(title="assoc.", thickness=10)))
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=8), automargin=True)
    fig.update_xaxes(tickfont=dict(size=8), tickangle=-50, automargin=True)
    side = min(330, 60 + 18 * len(names))
    return _layout(fig, "Associations (Pearson r, Cramér's V, correlation ratio) on one scale", FULL_WIDTH,
                   side + 220, margin=dict(l=10, r=10, t=60, b=10))


def dcr_figure(synthetic_to_train: np.ndarray, holdout_to_train: np.ndarray, bins: int = 40) -> go.Figure:
    """Distance to the closest training record: synthetic rows vs holdout rows, shares on shared bins."""
    s = np.asarray(synthetic_to_train, dtype=float)
    h = np.asarray(holdout_to_train, dtype=float)
    s, h = s[np.isfinite(s)], h[np.isfinite(h)]
    both = np.concatenate([s, h])
    high = float(np.quantile(both, 0.995)) if both.size else 1.0
    edges = np.linspace(0.0, high if high > 0 else 1.0, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    for role, values, colour in (("synthetic → train", s, SYNTHETIC_COLOUR), ("holdout → train", h, HOLDOUT_COLOUR)):
        counts = np.histogram(np.clip(values, 0, edges[-1]), bins=edges)[0].astype(float)
        fig.add_bar(x=rounded(centres), y=rounded(counts / max(values.size, 1)), width=rounded(np.diff(edges)),
                    name=role, marker_color=colour, opacity=0.55,
                    hovertemplate="distance %{x:.3f}<br>share %{y:.2%}<extra>" + role + "</extra>")
    fig.update_layout(barmode="overlay", bargap=0)
    fig.update_xaxes(title_text="distance to the closest training row (last bin holds the top 0.5%)")
    fig.update_yaxes(title_text="share of rows", tickformat=".0%")
    return _layout(fig, "Distance to closest record", HALF_WIDTH, 360, legend=LEGEND)


def dcr_quantiles_figure(dcr: Mapping[str, Any]) -> go.Figure | None:
    """DCR quantiles of synthetic and holdout rows (from the report's summary when the distances are gone)."""
    synthetic = dcr.get("synthetic_distance_quantiles") or {}
    holdout = dcr.get("holdout_distance_quantiles_baseline") or {}
    if not synthetic or not holdout:
        return None
    keys = [k for k in synthetic if k in holdout]
    fig = go.Figure()
    for role, q, colour in (("synthetic → train", synthetic, SYNTHETIC_COLOUR), ("holdout → train", holdout, HOLDOUT_COLOUR)):
        fig.add_scatter(x=[label(k) for k in keys], y=rounded([q[k] if q[k] is not None else float("nan") for k in keys]),
                        mode="lines+markers", name=role, marker_color=colour)
    fig.update_xaxes(title_text="quantile", type="category")
    fig.update_yaxes(title_text="distance to the closest training row")
    return _layout(fig, "Distance to closest record (quantiles)", HALF_WIDTH, 360, legend=LEGEND)


def privacy_rates_figure(privacy: Mapping[str, Any]) -> go.Figure | None:
    """Copies (exact, near) and the DCR tail share, synthetic beside the holdout's rate; membership AUC with CI."""
    copies = privacy.get("exact_copies") or {}
    near = privacy.get("near_copies") or {}
    dcr = privacy.get("distance_to_closest_record") or {}
    mia = privacy.get("membership_inference") or {}
    if not copies and not mia:
        return None
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.14,
                        subplot_titles=("Copies and close rows: synthetic vs holdout", "Membership attack AUC"))
    cats = ["exact copies", "near copies", "DCR tail share"]
    syn = [copies.get("synthetic_copy_rate"), near.get("synthetic_near_copy_rate"), dcr.get("tail_share")]
    base = [copies.get("holdout_copy_rate_baseline"), near.get("holdout_near_copy_rate_baseline"),
            dcr.get("tail_share_baseline")]
    for name, values, colour in (("synthetic", syn, SYNTHETIC_COLOUR), ("holdout (baseline)", base, HOLDOUT_COLOUR)):
        vals = rounded([float("nan") if v is None else v for v in values])
        fig.add_bar(x=cats, y=vals, name=name, marker_color=colour, row=1, col=1,
                    text=[None if v is None else f"{v:.1%}" for v in vals], textposition="outside",
                    hovertemplate="%{x}: %{y:.2%}<extra>" + name + "</extra>")
    fig.update_yaxes(tickformat=".0%", title_text="share of rows", row=1, col=1)
    if mia.get("auc") is not None:
        auc = float(mia["auc"])
        low, high = (mia.get("auc_ci95") or [auc, auc])[:2]
        fig.add_scatter(x=["attack"], y=[round(auc, DIGITS)], mode="markers", name="AUC (95% CI)",
                        marker=dict(size=12, color=SYNTHETIC_COLOUR),
                        error_y=dict(type="data", symmetric=False, array=[round(high - auc, DIGITS)],
                                     arrayminus=[round(auc - low, DIGITS)]), row=1, col=2)
        fig.add_hline(y=0.5, line_dash="dot", line_color=HOLDOUT_COLOUR, annotation_text="0.5 = no leak",
                      annotation_position="bottom right", row=1, col=2)
        fig.update_yaxes(range=[0.3, 1.0], title_text="AUC", row=1, col=2)
    return _layout(fig, "Privacy: copies, close rows and membership inference", FULL_WIDTH, 420,
                   legend=LEGEND_BELOW, margin=MARGIN_BELOW, barmode="group")


def utility_figure(utility: Mapping[str, Any]) -> go.Figure | None:
    """Train-on-synthetic vs train-on-real (TSTR vs TRTR) holdout scores per model and metric, with seed spread."""
    models = utility.get("models") or {}
    if not models:
        return None
    metrics = list(next(iter(models.values())).get("metrics", {}))
    fig = make_subplots(rows=1, cols=max(len(metrics), 1), subplot_titles=[label(m) for m in metrics],
                        horizontal_spacing=0.08)
    for col, metric in enumerate(metrics, start=1):
        names = [label(m) for m in models]
        for role, key, colour in (("trained on real (TRTR)", "trtr", REAL_COLOUR),
                                  ("trained on synthetic (TSTR)", "tstr", SYNTHETIC_COLOUR)):
            spreads = [models[m]["metrics"].get(metric, {}).get(key) or {} for m in models]
            means = rounded([s.get("mean", float("nan")) for s in spreads])
            fig.add_bar(x=names, y=means, name=role, marker_color=colour, showlegend=col == 1,
                        error_y=dict(type="data", array=rounded([s.get("std", 0.0) for s in spreads])),
                        text=[None if v is None else f"{v:.3f}" for v in means], textposition="outside",
                        hovertemplate="%{x}: %{y:.3f}<extra>" + role + "</extra>", row=1, col=col)
    target = label(utility.get("target"))
    return _layout(fig, f"Holdout scores predicting '{target}' (mean ± std over seeds)", FULL_WIDTH, 420,
                   legend=LEGEND_BELOW, margin=MARGIN_BELOW, barmode="group")


def blend_figure(blend: Mapping[str, Any]) -> go.Figure | None:
    """Holdout score of each blend of real and synthetic training rows (replace by share; augment by ratio)."""
    points = blend.get("points") or []
    if not points:
        return None
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=("replace: synthetic share of a real-sized mix",
                                        "augment: all real rows + synthetic rows per real row"))
    for col, family, key in ((1, "replace", "synthetic_share"), (2, "augment", "synthetic_to_real_ratio")):
        part = [p for p in points if p.get("family") == family]
        if not part:
            continue
        fig.add_scatter(x=rounded([p.get(key) or 0.0 for p in part]), y=rounded([p["mean"] for p in part]),
                        error_y=dict(type="data", array=rounded([p.get("std", 0.0) for p in part])),
                        mode="lines+markers", name=family, marker=dict(size=9, color=SYNTHETIC_COLOUR),
                        showlegend=False, hovertemplate="%{x:.2f}: %{y:.3f}<extra>" + family + "</extra>",
                        row=1, col=col)
        best = [p for p in part if p.get("best")]
        if best:
            fig.add_scatter(x=rounded([best[0].get(key) or 0.0]), y=rounded([best[0]["mean"]]), mode="markers",
                            name="best mix", marker=dict(size=16, symbol="star", color=PASS_COLOUR), row=1, col=col)
    fig.update_xaxes(title_text="synthetic share", row=1, col=1)
    fig.update_xaxes(title_text="synthetic rows per real row", row=1, col=2)
    fig.update_yaxes(title_text=label(blend.get("metric")), row=1, col=1)
    return _layout(fig, f"Blend sweep ({label(blend.get('model'))}, holdout {label(blend.get('metric'))})",
                   FULL_WIDTH, 400, legend=LEGEND_BELOW, margin=MARGIN_BELOW)


def importance_figure(importance: Mapping[str, Any]) -> go.Figure | None:
    """Permutation importance of each feature on the holdout: real-trained vs synthetic-trained model."""
    features = importance.get("features") or []
    if not features:
        return None
    order = sorted(features, key=lambda f: f.get("real") or 0.0)
    names = [label(f["feature"]) for f in order]
    fig = go.Figure()
    for role, key, colour in (("real-trained", "real", REAL_COLOUR), ("synthetic-trained", "synthetic", SYNTHETIC_COLOUR)):
        fig.add_bar(y=names, x=rounded([f.get(key) or 0.0 for f in order]), orientation="h", name=role,
                    marker_color=colour, error_x=dict(type="data", array=rounded([f.get(key + "_std") or 0.0
                                                                                 for f in order])),
                    hovertemplate="%{y}: %{x:.4f}<extra>" + role + "</extra>")
    fig.update_xaxes(title_text=f"mean drop of {label(importance.get('metric'))} when shuffled")
    fig.update_yaxes(automargin=True)
    return _layout(fig, "Feature importance: real-trained vs synthetic-trained", FULL_WIDTH,
                   140 + 26 * len(names), legend=LEGEND, barmode="group")
