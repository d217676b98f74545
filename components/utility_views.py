"""Utility page views: TSTR vs TRTR bars, the blend-ratio sweep and importance agreement (figures returned)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.figures import LAYOUT, REAL_COLOUR, SYNTHETIC_COLOUR
from core.checks.utility import METRIC_LABELS, BlendSweep, ImportanceAgreement, UtilityScore

REPLACE_COLOUR = "#2ca02c"
AUGMENT_COLOUR = "#9467bd"
BEST_COLOUR = "#d62728"
MODEL_LABELS = {"gradient_boosting": "gradient boosting", "linear": "linear"}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def comparison_frame(score: UtilityScore) -> pd.DataFrame:
    """One line per model and metric: TRTR and TSTR mean ± std over seeds, min-max, and TSTR relative to TRTR."""
    rows = []
    for model, metrics in score.models.items():
        for metric, c in metrics.items():
            rows.append({
                "model": MODEL_LABELS.get(model, model), "metric": METRIC_LABELS.get(metric, metric),
                "better": "higher" if c.greater_is_better else "lower",
                "trained on real (TRTR)": f"{c.trtr.mean:.4f} ± {c.trtr.std:.4f}",
                "trained on synthetic (TSTR)": f"{c.tstr.mean:.4f} ± {c.tstr.std:.4f}",
                "TSTR range over seeds": f"{min(c.tstr.values):.4f} to {max(c.tstr.values):.4f}",
                "synthetic / real": "n/a" if c.relative_score is None else f"{c.relative_score:.3f}",
            })
    return pd.DataFrame(rows)


def comparison_figure(score: UtilityScore) -> go.Figure:
    """One panel per metric: TRTR and TSTR bars per model (mean over seeds, error bar = std over seeds)."""
    metrics = list(score.task.metrics)
    models = list(score.models)
    titles = [f"{METRIC_LABELS.get(m, m)} ({'higher' if score.models[models[0]][m].greater_is_better else 'lower'}"
              " is better)" for m in metrics]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=titles, horizontal_spacing=0.07)
    for col, metric in enumerate(metrics, start=1):
        for label, colour, attr in (("trained on real (TRTR)", REAL_COLOUR, "trtr"),
                                    ("trained on synthetic (TSTR)", SYNTHETIC_COLOUR, "tstr")):
            spreads = [getattr(score.models[m][metric], attr) for m in models]
            means = [s.mean for s in spreads]
            fig.add_trace(go.Bar(
                x=[MODEL_LABELS.get(m, m) for m in models], y=means, name=label, marker_color=colour,
                legendgroup=label, showlegend=col == 1, text=[f"{v:.3f}" for v in means], textposition="outside",
                error_y=dict(type="data", array=[s.std for s in spreads], color="#333", thickness=1.2, width=5),
                customdata=np.array([[s.std, min(s.values), max(s.values)] for s in spreads]),
                hovertemplate="%{x}<br>mean %{y:.4f} ± %{customdata[0]:.4f}<br>seeds %{customdata[1]:.4f} to "
                "%{customdata[2]:.4f}<extra>" + label + "</extra>"), 1, col)
        values = [v for m in models for s in (score.models[m][metric].trtr, score.models[m][metric].tstr)
                  for v in s.values]
        low, high = min(values), max(values)
        if metric in ("roc_auc",):
            floor = max(0.0, min(0.5, low - 0.05))
        else:
            floor = min(0.0, low - 0.05 * abs(high - low or 1))
        fig.update_yaxes(range=[floor, high + 0.12 * (high - floor or 1)], row=1, col=col)
    fig.update_layout(barmode="group", height=400, bargap=0.25, margin=dict(l=10, r=10, t=80, b=10),
                      legend=dict(orientation="h", y=1.14, x=0, xanchor="left", yanchor="bottom"))
    return fig


def sweep_figure(sweep: BlendSweep) -> go.Figure:
    """Holdout score vs the synthetic share of the training rows, for the replace and the augment family.

    replace keeps the real table's size and swaps a share of its rows for synthetic ones; augment keeps every
    real row and adds synthetic ones (share r / (1 + r)). Both start at the real-only mix. Line = mean over
    seeds, band = min to max over seeds; the best mix is starred, the dashed line is the real-only score.
    """
    label = METRIC_LABELS.get(sweep.metric, sweep.metric)
    real_only = sweep.real_only
    fig = go.Figure()
    for family, colour, name in (("replace", REPLACE_COLOUR, "replace: same size, a share of rows synthetic"),
                                 ("augment", AUGMENT_COLOUR, "augment: every real row plus synthetic rows")):
        points = [p for p in sweep.points if p.plan.family == family]
        if family == "augment" and real_only is not None and points:
            points = [real_only] + points  # r = 0 is the real-only mix
        if not points:
            continue
        x = np.array([p.plan.synthetic_share for p in points])
        mean = np.array([p.score.mean for p in points])
        low = np.array([min(p.score.values) for p in points])
        high = np.array([max(p.score.values) for p in points])
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([high, low[::-1]]),
                                 mode="lines", fill="toself", fillcolor=_rgba(colour, 0.18), line=dict(width=0),
                                 hoverinfo="skip",
                                 legendgroup=family, showlegend=False, name=f"{family} min-max"))
        text = [_mix_label(p) for p in points]  # hover; drawn beside the augment points, whose x is a share
        custom = np.array([[p.plan.n_real, p.plan.n_synthetic, min(p.score.values), max(p.score.values), p.score.std]
                           for p in points])
        fig.add_trace(go.Scatter(
            x=x, y=mean, mode="lines+markers+text" if family == "augment" else "lines+markers", name=name,
            legendgroup=family, line=dict(color=colour, width=3),
            marker=dict(size=9, color=colour, line=dict(color="white", width=1.5)),
            text=[t if t != "real only" else "" for t in text], textposition="top center",
            textfont=dict(size=11, color=colour), customdata=custom,
            hovertemplate=("%{text}<br>%{customdata[0]:,} real + %{customdata[1]:,} synthetic rows<br>"
                           f"{label} " + "%{y:.4f} (seeds %{customdata[2]:.4f} to %{customdata[3]:.4f})<extra>"
                           + family + "</extra>")))
    if real_only is not None:
        fig.add_hline(y=real_only.score.mean, line=dict(color=REAL_COLOUR, dash="dash", width=1.5),
                      annotation_text=f"real only {real_only.score.mean:.4f}", annotation_position="bottom right",
                      annotation_font=dict(color=REAL_COLOUR, size=11))
    best = sweep.best
    fig.add_trace(go.Scatter(
        x=[best.plan.synthetic_share], y=[best.score.mean], mode="markers", name="best mix",
        marker=dict(symbol="star", size=20, color=BEST_COLOUR, line=dict(color="white", width=1.5)),
        hovertemplate=f"best: {best.plan.family} {best.plan.n_real:,} real + {best.plan.n_synthetic:,} synthetic"
        f"<br>{label} {best.score.mean:.4f}<extra></extra>"))
    right = best.plan.synthetic_share < 0.7
    fig.add_annotation(x=best.plan.synthetic_share, y=best.score.mean, showarrow=True, arrowhead=0,
                       ax=40 if right else -40, ay=-40, xanchor="left" if right else "right",
                       text=f"best: {_mix_label(best)}, {best.score.mean:.4f}", font=dict(color=BEST_COLOUR, size=12),
                       bgcolor="rgba(255,255,255,0.85)")
    all_low = min(min(p.score.values) for p in sweep.points)
    all_high = max(max(p.score.values) for p in sweep.points)
    pad = 0.15 * (all_high - all_low or 0.01)
    shares = sorted({round(p.plan.synthetic_share, 4) for p in sweep.points})
    fig.update_layout(height=480, hovermode="closest", **LAYOUT)
    fig.update_xaxes(title_text="synthetic share of the training rows (augment: r synthetic rows per real row "
                     "is a share of r / (1 + r))", tickformat=".0%", range=[-0.04, 1.04], zeroline=False,
                     tickvals=shares)
    fig.update_yaxes(title_text=f"{label} on the holdout (higher is better)", range=[all_low - 2 * pad,
                                                                                      all_high + 2 * pad])
    return fig


def _mix_label(point) -> str:
    plan = point.plan
    if plan.n_synthetic == 0:
        return "real only"
    if plan.family == "replace":
        return "synthetic only" if plan.n_real == 0 else f"{plan.setting:.0%} replaced"
    return f"+{plan.setting:g}x synthetic"


def sweep_frame(sweep: BlendSweep) -> pd.DataFrame:
    """The sweep's points as text: family, mix, row counts, mean ± std and min-max over seeds, best mark."""
    return pd.DataFrame([{
        "family": p.plan.family,
        "mix": _mix_label(p),
        "real rows": f"{p.plan.n_real:,}", "synthetic rows": f"{p.plan.n_synthetic:,}",
        "synthetic share": f"{p.plan.synthetic_share:.0%}",
        "score": f"{p.score.mean:.4f} ± {p.score.std:.4f}",
        "seeds min to max": f"{min(p.score.values):.4f} to {max(p.score.values):.4f}",
        "best": "best" if p.best else "",
    } for p in sweep.points])


def importance_figure(agreement: ImportanceAgreement) -> go.Figure:
    """Permutation importance of each feature, real-trained beside synthetic-trained (most important on top)."""
    order = np.argsort(agreement.real)  # plotly draws the first category at the bottom
    features = [agreement.features[i] for i in order]
    fig = go.Figure()
    for label, colour, values, stds in (("trained on real", REAL_COLOUR, agreement.real, agreement.real_std),
                                        ("trained on synthetic", SYNTHETIC_COLOUR, agreement.synthetic,
                                         agreement.synthetic_std)):
        fig.add_trace(go.Bar(
            y=features, x=[values[i] for i in order], orientation="h", name=label, marker_color=colour,
            error_x=dict(type="data", array=[stds[i] for i in order], color="#333", thickness=1, width=3),
            hovertemplate="%{y}<br>importance %{x:.4f}<extra>" + label + "</extra>"))
    label = METRIC_LABELS.get(agreement.metric, agreement.metric)
    fig.update_layout(barmode="group", height=max(320, 30 * len(features) + 120), bargap=0.25, **LAYOUT)
    fig.update_xaxes(title_text=f"drop in holdout {label} when the feature is shuffled")
    fig.update_yaxes(type="category", tickfont=dict(size=11))
    return fig
