"""Privacy page views: figures and tables built from a PrivacyResult (figures are returned, never drawn here)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from components.figures import REAL_COLOUR, SYNTHETIC_COLOUR
from components.widgets import gate_details
from core.gates import rule_text
from core.checks.privacy import DCR_TAIL_QUANTILE, PrivacyResult

HOLDOUT_COLOUR = REAL_COLOUR  # the holdout is real data: it is the baseline a safe generator matches
DCR_BINS = 40
DCR_CLIP_QUANTILE = 0.99  # the histogram's last bin holds everything beyond this quantile of both tables
ECDF_POINTS = 201
PASS_COLOUR = "background-color: #d4edda"
FAIL_COLOUR = "background-color: #f8d7da; font-weight: bold"
SKIP_COLOUR = "background-color: #e2e3e5"


def _cell(value) -> str:
    """A gate number as text ('' when absent or not finite)."""
    if value is None or not np.isfinite(float(value)):
        return ""
    return f"{float(value):.4f}"


def gate_frame(gates: list[dict]):
    """A Styler of gates {name, value, threshold, passed, detail[, null_median, floor, judgeable]}: result
    coloured ('not judgeable' is a stated skip, not a pass or a failure), the null's median and floor, as text."""
    def result(g: dict) -> str:
        if g.get("judgeable", True) is False:
            return "not judgeable"
        return "pass" if g["passed"] else "FAIL"

    frame = pd.DataFrame([{
        "gate": g["name"], "result": result(g), "value": _cell(g["value"]),
        "rule": "" if g.get("judgeable", True) is False else rule_text(g["name"], g["threshold"]),
        "a real sample scores": _cell(g.get("null_median")), "floor": _cell(g.get("floor")),
        "detail": str(g["detail"]),
    } for g in gates], columns=["gate", "result", "value", "a real sample scores", "rule", "floor", "detail"])

    def colour(table: pd.DataFrame) -> pd.DataFrame:
        styles = pd.DataFrame("", index=table.index, columns=table.columns)
        styles.loc[table["result"] == "FAIL", "result"] = FAIL_COLOUR
        styles.loc[table["result"] == "pass", "result"] = PASS_COLOUR
        styles.loc[table["result"] == "not judgeable", "result"] = SKIP_COLOUR
        return styles

    return frame.style.apply(colour, axis=None)


def show_gates(gates: list[dict], key: str) -> None:
    """Draw a gate table (value, rule, pass/FAIL/not judgeable, the null's median and floor, the detail's start)
    and each gate's detail in full below it."""
    st.dataframe(gate_frame(gates), hide_index=True, width="stretch", key=key,
                 column_config={"detail": st.column_config.TextColumn("detail", width="large")})
    gate_details([(g["name"], str(g["detail"])) for g in gates], key=key)


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def dcr_figure(result: PrivacyResult) -> go.Figure:
    """DCR to the training rows of synthetic and holdout rows: histogram (shares, shared bins) and ECDF overlay."""
    dcr = result.distance_to_closest_record
    tables = {"synthetic → train": (_finite(dcr.synthetic_to_train), SYNTHETIC_COLOUR),
              "holdout → train (baseline)": (_finite(dcr.holdout_to_train), HOLDOUT_COLOUR)}
    both = np.concatenate([v for v, _ in tables.values()])
    top = float(np.quantile(both, DCR_CLIP_QUANTILE)) if both.size else 1.0
    top = top if top > 0 else float(both.max(initial=1.0)) or 1.0
    edges = np.linspace(0.0, top, DCR_BINS + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    cutoff = float(np.quantile(tables["holdout → train (baseline)"][0], DCR_TAIL_QUANTILE)) \
        if tables["holdout → train (baseline)"][0].size else None

    fig = make_subplots(rows=1, cols=2, shared_xaxes=True, horizontal_spacing=0.08,
                        subplot_titles=("share of rows per distance bin", "share of rows at or below a distance"))
    for name, (values, colour) in tables.items():
        if not values.size:
            continue
        shares = np.histogram(np.clip(values, 0.0, top), bins=edges)[0] / values.size
        fig.add_trace(go.Bar(x=centres, y=shares, width=width, name=name, marker_color=colour, opacity=0.55,
                             legendgroup=name, hovertemplate="distance %{x:.3f}<br>share %{y:.2%}<extra>"
                             + name + "</extra>"), 1, 1)
        levels = np.linspace(0.0, 1.0, ECDF_POINTS)
        fig.add_trace(go.Scatter(x=np.quantile(values, levels), y=levels, mode="lines", name=name,
                                 line=dict(color=colour, width=2.5, shape="hv"), legendgroup=name, showlegend=False,
                                 hovertemplate="distance %{x:.3f}<br>%{y:.1%} of rows at or below<extra>"
                                 + name + "</extra>"), 1, 2)
    if cutoff is not None:
        fig.add_vline(x=cutoff, line=dict(color="#6c757d", dash="dash", width=1), row=1, col=2)
        fig.add_annotation(x=cutoff, y=1.0, xref="x2", yref="y2 domain", showarrow=False, xanchor="left",
                           yanchor="top", xshift=4, font=dict(size=11, color="#6c757d"),
                           text=f"holdout {DCR_TAIL_QUANTILE:.0%} quantile")
    fig.update_layout(barmode="overlay", bargap=0, height=400, margin=dict(l=10, r=10, t=80, b=10),
                      legend=dict(orientation="h", y=1.14, x=0, xanchor="left", yanchor="bottom"))
    fig.update_xaxes(title_text="distance to the closest training row", range=[0, top])
    fig.update_yaxes(tickformat=".0%", col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], col=2)
    return fig


def quantile_frame(section: dict) -> pd.DataFrame:
    """DCR and NNDR quantiles of the synthetic rows beside the holdout's (the report's numbers), as text."""
    dcr = section["distance_to_closest_record"]
    rows = []
    for label, synthetic, holdout in (("distance to closest record", dcr["synthetic_distance_quantiles"],
                                       dcr["holdout_distance_quantiles_baseline"]),
                                      ("nearest-neighbour distance ratio", dcr["nndr_synthetic_quantiles"],
                                       dcr["nndr_holdout_quantiles_baseline"])):
        for table, quantiles in (("synthetic", synthetic), ("holdout (baseline)", holdout)):
            rows.append({"measure": label, "rows": table,
                         **{f"q{float(q) * 100:g}": _text(v) for q, v in quantiles.items()}})
    return pd.DataFrame(rows)


def _text(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def near_copy_frame(result: PrivacyResult, limit: int) -> pd.DataFrame:
    """The closest near-copy pairs (synthetic row, training row, distance), closest first."""
    pairs = result.near_copies.pairs(limit)
    return pd.DataFrame({
        "synthetic row": [s for s, _, _ in pairs],
        "training row": [t for _, t, _ in pairs],
        "distance": [d for _, _, d in pairs],
        "exact copy": ["yes" if d == 0 else "" for _, _, d in pairs],
    })


def risk_frame(result: PrivacyResult) -> pd.DataFrame:
    """Anonymeter-style attack risks: risk with its 95% CI, main vs control attack success rates."""
    attacks = [("singling out", "", result.singling_out)]
    if result.linkability is not None:
        attacks.append(("linkability", "", result.linkability))
    attacks += [("attribute inference", secret, risk) for secret, risk in result.attribute_inference.items()]
    return pd.DataFrame([{
        "attack": name, "secret": secret, "risk": r.risk, "ci low": r.ci_low, "ci high": r.ci_high,
        "main success": r.main_rate, "control success": r.control_rate, "attacks": r.n_attacks,
    } for name, secret, r in attacks])


RISK_HIGHLIGHT = 0.1  # bars above this risk are drawn red


def risk_table(risks: pd.DataFrame) -> pd.DataFrame:
    """The risk frame as display text: risk, its 95% CI, main and control success rates, attacks."""
    return pd.DataFrame({
        "attack": risks["attack"], "secret": risks["secret"],
        "risk": [f"{r:.3f}" for r in risks["risk"]],
        "95% CI": [f"{lo:.3f} to {hi:.3f}" for lo, hi in zip(risks["ci low"], risks["ci high"])],
        "main success": [f"{v:.1%}" for v in risks["main success"]],
        "control success": [f"{v:.1%}" for v in risks["control success"]],
        "attacks": [f"{int(v):,}" for v in risks["attacks"]],
    })


def risk_figure(risks: pd.DataFrame) -> go.Figure:
    """Horizontal bars of each attack's risk with its 95% CI (0 = the synthetic data helps no more than chance)."""
    labels = [a if not s else f"infer {s}" for a, s in zip(risks["attack"], risks["secret"])]
    order = np.argsort(risks["risk"].to_numpy())  # highest risk on top
    risk = risks["risk"].to_numpy()[order]
    low, high = risks["ci low"].to_numpy()[order], risks["ci high"].to_numpy()[order]
    names = [labels[i] for i in order]
    colours = ["#d62728" if r > RISK_HIGHLIGHT else SYNTHETIC_COLOUR for r in risk]
    fig = go.Figure(go.Bar(
        x=risk, y=names, orientation="h", marker_color=colours,
        error_x=dict(type="data", symmetric=False, array=np.maximum(high - risk, 0),
                     arrayminus=np.maximum(risk - low, 0),
                     color="#444", thickness=1.2, width=4),
        customdata=np.column_stack([low, high]),
        hovertemplate="%{y}<br>risk %{x:.3f}<br>95% CI %{customdata[0]:.3f} to %{customdata[1]:.3f}<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="#6c757d", width=1))
    fig.update_layout(height=max(260, 24 * len(names) + 90), showlegend=False,
                      margin=dict(l=10, r=10, t=30, b=10),
                      title=dict(text="risk = (main - control success) / (1 - control success), 95% CI",
                                 font=dict(size=13)))
    fig.update_xaxes(title_text="risk (0 = chance)",
                     range=[min(-0.05, float(low.min(initial=0)) - 0.02), max(0.3, float(high.max(initial=0)) + 0.05)])
    fig.update_yaxes(tickfont=dict(size=11), type="category")
    return fig


def membership_figure(result: PrivacyResult, threshold: float) -> go.Figure:
    """The membership-inference AUC with its 95% CI on the 0.5 (no leak) to 1 scale, with the bound the gate
    applied (`threshold`: the measured null's, as in the gate table, not the policy's fallback)."""
    mia = result.membership_inference
    fig = go.Figure(go.Scatter(
        x=[mia.auc], y=["AUC"], mode="markers", marker=dict(size=14, color=SYNTHETIC_COLOUR, symbol="diamond"),
        error_x=dict(type="data", symmetric=False, array=[mia.ci_high - mia.auc], arrayminus=[mia.auc - mia.ci_low],
                     color="#444", thickness=1.5, width=8),
        hovertemplate="AUC %{x:.3f}<extra></extra>", name="attack AUC"))
    fig.add_vline(x=0.5, line=dict(color=HOLDOUT_COLOUR, dash="dot"), annotation_text="0.5 no leak",
                  annotation_position="top")
    fig.add_vline(x=threshold, line=dict(color="#d62728", dash="dash"), annotation_text=f"gate bound {threshold:.3f}",
                  annotation_position="top")
    low = min(0.4, mia.ci_low - 0.02)
    high = max(threshold + 0.02, mia.ci_high + 0.02, 0.55)
    # The top margin keeps the line labels below the toolbar, which shows on hover in the figure's top 30 px.
    fig.update_layout(height=170, showlegend=False, margin=dict(l=10, r=10, t=50, b=10))
    fig.update_xaxes(range=[low, high], title_text="ROC-AUC of telling training rows from holdout rows")
    fig.update_yaxes(visible=False)
    return fig
