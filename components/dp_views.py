"""Privacy dial: running DP generation, the epsilon sweep and the audit from a page, and drawing the sweep."""
from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from components.figures import REAL_COLOUR, SYNTHETIC_COLOUR
from core.data.io import LoadedTable, table_from_frame
from core.generate.sweep import CURVES, EpsilonSweep

CURVE_TITLES = {
    "fidelity_score": ("Fidelity (quality score)", "higher is better"),
    "utility_value": ("Utility (skill kept vs real)", "higher is better"),
    "membership_auc": ("Membership attack AUC", "0.5 = no leak"),
    "singling_out_risk": ("Singling-out risk", "lower is better"),
    "linkability_risk": ("Linkability risk", "lower is better"),
    "inference_risk": ("Attribute inference risk (worst column)", "lower is better"),
    "empirical_epsilon": ("Empirical epsilon (lower bound)", "must stay below the claimed epsilon"),
}
FLOOR_OF = {"utility_value": "utility", "membership_auc": "membership_inference"}


def generate_dp(train: LoadedTable, metadata: dict[str, str], rows: int, seed: int, settings) -> tuple[LoadedTable, dict]:
    """Fit MST/AIM on the training part only with progress shown; returns the table and its manifest."""
    from core.generate.dp import fit_and_sample_dp

    label = f"Generating {rows:,} rows with {settings.method} at epsilon {settings.epsilon:g}"
    with st.status(label + " (fitted on the training part only)...", expanded=True) as status:
        bar = st.progress(0.0)
        frame, manifest = fit_and_sample_dp(train.frame, metadata, rows, seed, settings,
                                            progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
        table = table_from_frame(frame, f"generated-{settings.method}-eps{settings.epsilon:g}-seed{seed}.csv")
        status.update(label=f"Generated {len(frame):,} rows with {settings.method} at epsilon {settings.epsilon:g} "
                            f"in {manifest['seconds']['total']:.0f} s", state="complete", expanded=False)
    manifest["training_sha256"] = train.sha256
    return table, manifest


def domain_frame(manifest: dict) -> pd.DataFrame:
    """Where each column's domain came from (bounds declared public or estimated privately), its bin count and the
    epsilon it spent, as text; short enough for 1,440 px (binning_details says how each number is binned)."""
    columns = (manifest.get("differential_privacy") or {}).get("columns") or {}
    rows = []
    for column, info in columns.items():
        bounds = info.get("bounds")
        rows.append({"column": column, "how": info.get("kind", ""),
                     "bounds": "" if not bounds else f"{bounds[0]:g} to {bounds[1]:g}" if None not in bounds else "",
                     "bins": str(info["bins"]) if "bins" in info else "",
                     "source": info.get("bounds_source") or info.get("categories_source") or info.get("reason", ""),
                     "epsilon spent": f"{info['epsilon_spent']:.3g}" if "epsilon_spent" in info else ""})
    return pd.DataFrame(rows, columns=["column", "how", "bounds", "bins", "source", "epsilon spent"]).astype(str)


def binning_details(manifest: dict) -> list[tuple[str, str]]:
    """(column, text) for each binned or noted column: its bin rule, where the bins came from, how a bin is
    decoded (the long texts the domain table would cut)."""
    columns = (manifest.get("differential_privacy") or {}).get("columns") or {}
    out = []
    for column, info in columns.items():
        parts = []
        if "bins" in info:
            parts.append(f"{info['bins']} bins: {info.get('binning', '')}")
        for label, key in (("from", "binning_source"), ("declared bounds not used", "declared_bounds_not_used"),
                           ("decoded", "decode")):
            if info.get(key):
                parts.append(f"{label}: {info[key]}")
        if parts:
            out.append((column, "; ".join(parts)))
    return out


def sweep_figure(sweep: EpsilonSweep) -> go.Figure:
    """Every curve against epsilon (log axis): mean over seeds with a min-max band, floors dashed, choice marked."""
    fig = make_subplots(rows=2, cols=4, subplot_titles=[CURVE_TITLES[c][0] for c in CURVES], horizontal_spacing=0.06,
                        vertical_spacing=0.18)
    finite = [e for e in sweep.epsilons if math.isfinite(e)]
    baseline_x = max(finite) * 3 if finite else 1.0
    for index, name in enumerate(CURVES):
        row, col = index // 4 + 1, index % 4 + 1
        curve = sweep.curve(name)
        dp = curve[curve["epsilon"] != math.inf]
        base = curve[curve["epsilon"] == math.inf]
        fig.add_trace(go.Scatter(x=list(dp["epsilon"]) + list(dp["epsilon"])[::-1],
                                 y=list(dp["high"]) + list(dp["low"])[::-1], fill="toself", line_width=0,
                                 fillcolor="rgba(239,85,59,0.18)", hoverinfo="skip", showlegend=False),
                      row=row, col=col)
        fig.add_trace(go.Scatter(x=dp["epsilon"], y=dp["mean"], mode="lines+markers", line_color=SYNTHETIC_COLOUR,
                                 name="DP (mean over seeds)", showlegend=index == 0), row=row, col=col)
        if not base.empty:
            fig.add_trace(go.Scatter(x=[baseline_x], y=base["mean"], mode="markers", marker_symbol="diamond",
                                     marker_size=10, marker_color=REAL_COLOUR, name="non-private baseline",
                                     showlegend=index == 0), row=row, col=col)
        gate = FLOOR_OF.get(name)
        if gate and gate in sweep.floors:
            fig.add_hline(y=sweep.floors[gate], line_dash="dash", line_color="grey", row=row, col=col)
        if name == "empirical_epsilon" and finite:
            fig.add_trace(go.Scatter(x=finite, y=finite, mode="lines", line_dash="dot", line_color="grey",
                                     name="claimed epsilon", showlegend=True), row=row, col=col)
        chosen = sweep.chosen_epsilon
        if chosen is not None and not dp[dp["epsilon"] == chosen].empty:
            fig.add_trace(go.Scatter(x=[chosen], y=dp[dp["epsilon"] == chosen]["mean"], mode="markers",
                                     marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(width=2, color="black")),
                                     name=f"chosen: epsilon {chosen:g}", showlegend=index == 0), row=row, col=col)
        fig.update_xaxes(type="log", title_text="epsilon", row=row, col=col)
    fig.update_layout(height=620, margin=dict(t=60, b=40, l=40, r=20),
                      legend=dict(orientation="h", yanchor="top", y=-0.12, x=0))
    return fig
