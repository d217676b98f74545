"""The offline HTML report: every section the review ran, charted, read out in plain words, and the sign-off trail.

Built from a core.report.Evaluation (tables at hand: per-column and per-pair distribution charts, full DCR
distributions) and/or a stored evidence bundle (its latest evaluation's report JSON and the trail: reviews,
decisions, audit chain). The page is our own fixed template: every value taken from data or the store goes
through html.escape (numbers are rounded first), figure labels are escaped too (see report_figures), and
plotly.js is inlined once in the head, so the file opens with no network. Real records (rows of real data)
appear only when the caller passes include_real=True; who may ask is decided by the caller.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import replace
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from core.checks.fidelity import joint_distribution, marginal_distribution
from core.gates import REGISTRY, rule_text
from core.store.common import short_time
from core.review import report_figures as figures

if TYPE_CHECKING:
    from core.report import Evaluation

MAX_COLUMN_CHARTS = 40
MAX_PAIR_CHARTS = 6
MAX_PAIR_ROWS = 15
MAX_AUDIT_ROWS = 25
MAX_RECORD_PAIRS = 10
JSON_DIGITS = 4

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;padding:1.5rem 20px;
max-width:1040px;color:#1f2328;line-height:1.45}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:2px solid #d0d7de;
padding-bottom:.3rem}h3{font-size:1.05rem;margin-top:1.4rem}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:.8rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.78rem;overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:.75rem;white-space:pre-wrap;max-height:30rem;overflow:auto}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.badge{display:inline-block;padding:.1rem .6rem;border-radius:1rem;color:#fff;font-weight:600}
.badge.pass{background:#1a7f37;color:#fff}.badge.fail{background:#cf222e;color:#fff}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .75rem}
.meta{color:#57606a;font-size:.9rem}
ul.reading{list-style:none;padding-left:0;margin:.6rem 0}
ul.reading li{padding:.3rem .6rem;margin:.2rem 0;border-left:4px solid #d0d7de;background:#f6f8fa}
ul.reading li.good{border-color:#1a7f37}ul.reading li.bad{border-color:#cf222e;background:#fff5f5}
nav ol{columns:3;font-size:.9rem}
.figure{margin:.6rem 0;break-inside:avoid}
.grid{display:flex;flex-wrap:wrap;gap:0 20px}
.decisions td{white-space:pre-line}.records td{font-size:.72rem}.records tr.synthetic td{background:#fff4e5}
@page{size:A4 landscape;margin:10mm}
@media print{body{padding:0;max-width:none}nav{display:none}h2{break-after:avoid}h3{break-after:avoid}
.figure{break-inside:avoid}tr{break-inside:avoid}pre{max-height:none;overflow:visible}}
"""


# ----------------------------------------------------------------------------------------------- formatting


def fmt(value: Any) -> str:
    """A value as short text: numbers rounded (3 decimals, thousands grouped), None and NaN as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return "—"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if v == 0 or abs(v) >= 0.001:
            return f"{v:.3f}"
        return f"{v:.1e}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(round_tree(value), sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


def esc(value: Any) -> str:
    """A value as escaped HTML text (formatted by fmt first)."""
    return html.escape(fmt(value), quote=True)


def pct(value: Any) -> str:
    """A share as an escaped percentage with one decimal."""
    if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return "—"
    return html.escape(f"{float(value):.1%}")


def round_tree(value: Any, digits: int = JSON_DIGITS) -> Any:
    """A copy of a JSON-like value with every float rounded to `digits` decimals (non-finite as None)."""
    if isinstance(value, Mapping):
        return {str(k): round_tree(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_tree(v, digits) for v in value]
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return round(v, digits) if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], numeric: Sequence[str] = (),
           cls: str = "") -> str:
    if not rows:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{esc(r.get(c))}</td>' if c in numeric else f"<td>{esc(r.get(c))}</td>"
                         for c in columns) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _waiver_lines(waivers: Any) -> str:
    """A decision's waivers as 'gate: reason' lines (the decisions table keeps its line breaks)."""
    if not isinstance(waivers, Sequence) or isinstance(waivers, str):
        return fmt(waivers) if waivers else ""
    return "\n".join(f"{w.get('gate')}: {w.get('reason')}" if isinstance(w, Mapping) else fmt(w) for w in waivers)


def _short(value: Any, limit: int) -> Any:
    """Text cut to `limit` characters with an ellipsis (long hashes and payloads in tables); None stays None."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _pass(passed: Any) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


def _reading(items: Sequence[tuple[str, str]]) -> str:
    """Plain-words reading: (kind, escaped html) with kind good | bad | info."""
    if not items:
        return ""
    mark = {"good": "✓ ", "bad": "✗ ", "info": ""}
    return '<ul class="reading">' + "".join(f'<li class="{k}">{mark[k]}{t}</li>' for k, t in items) + "</ul>"


class _Figures:
    """Collects figures as divs (plotly.js itself is inlined once, in the head)."""

    def __init__(self) -> None:
        self.count = 0

    def div(self, fig: go.Figure | None) -> str:
        if fig is None:
            return ""
        self.count += 1
        body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"figure-{self.count}",
                           config={"displaylogo": False, "responsive": False})
        return f'<div class="figure">{body}</div>'


def _section(anchor: str, title: str, body: Sequence[str]) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>' + "\n".join(b for b in body if b) + "</section>"


# ----------------------------------------------------------------------------------------------- sections


def _gate_rows(gates: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for g in gates:
        name = str(g.get("name"))
        bound = g.get("floor") if g.get("floor") is not None else g.get("threshold")
        rule = rule_text(name, bound) if name in REGISTRY else fmt(bound)
        if isinstance(bound, (int, float)) and math.isfinite(bound):
            rule = rule.replace(f"{float(bound):.4f}", fmt(float(bound)))
        rows.append({"gate": name, "rule": rule, "value": g.get("value"), "result": g.get("passed"),
                     "measures": REGISTRY[name].measures if name in REGISTRY else "", "detail": g.get("detail")})
    return rows


def _gates_section(report: Mapping[str, Any], figs: _Figures) -> str:
    gates = [g for g in report.get("gates", []) if isinstance(g, Mapping)]
    failed = [g for g in gates if not g.get("passed")]
    reading = []
    if not gates:
        reading.append(("info", "No gate was judged."))
    elif failed:
        reading.append(("bad", f"{len(failed)} of {len(gates)} gates failed: "
                        + ", ".join(f"<strong>{esc(g.get('name'))}</strong>" for g in failed)
                        + ". The verdict is fail until each is fixed or waived at sign-off."))
    else:
        reading.append(("good", f"All {len(gates)} gates passed."))
    reading.append(("info", "Each gate compares its statistic with what real-vs-real samples of the synthetic "
                    "table's size give (its null); 'at least' gates pass at or above their floor, 'at most' gates "
                    "at or below their ceiling, so the two kinds are charted apart."))
    rows = _gate_rows(gates)
    table = ("<table><colgroup><col style=\"width:15%\"><col style=\"width:12%\"><col style=\"width:8%\">"
             "<col style=\"width:7%\"><col style=\"width:23%\"><col></colgroup><thead><tr><th>gate</th><th>rule</th>"
             "<th>value</th><th>result</th><th>fails when</th><th>detail</th></tr></thead><tbody>" + "".join(
                 f"<tr><td>{esc(r['gate'])}</td><td>{esc(r['rule'])}</td><td class=\"num\">{esc(r['value'])}</td>"
                 f"<td>{_pass(r['result'])}</td><td>{esc(r['measures'])}</td><td>{esc(r['detail'])}</td></tr>"
                 for r in rows) + "</tbody></table>")
    return _section("gates", "Gates", [_reading(reading), figs.div(figures.gates_figure(gates)), table])


def _skipped(section: Mapping[str, Any]) -> bool:
    """True for a section that did not run ({"skipped": reason}); a run section may list skipped items."""
    return isinstance(section.get("skipped"), str)


def _gate(report: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return next((g for g in report.get("gates", []) if isinstance(g, Mapping) and g.get("name") == name), None)


def _column_section(report: Mapping[str, Any], evaluation: Evaluation | None, figs: _Figures,
                    max_columns: int) -> str:
    shapes = (report.get("fidelity") or {}).get("column_shapes") or {}
    columns = shapes.get("columns") or {}
    if not columns:
        return ""
    scored = {c: v for c, v in columns.items() if isinstance(v, Mapping) and v.get("score") is not None}
    reading = []
    below = [c for c, v in scored.items() if v.get("floor") is not None and v["score"] < v["floor"]]
    gate = _gate(report, "column_shapes")
    if below:
        reading.append(("bad", f"{len(below)} of {len(scored)} columns fall below their floor: "
                        + ", ".join(f"<strong>{esc(c)}</strong> {esc(scored[c]['score'])} (floor "
                                    f"{esc(scored[c]['floor'])})" for c in sorted(below, key=lambda c: scored[c]['score'])[:6])
                        + "."))
    elif gate is not None:
        reading.append(("good" if gate.get("passed") else "bad", esc(gate.get("detail"))))
    if scored:
        worst = min(scored, key=lambda c: scored[c]["score"])
        w = scored[worst]
        where = (f" The largest gap is at {esc(w.get('at'))}: real {esc(w.get('real'))} vs synthetic "
                 f"{esc(w.get('synthetic'))} ({'cumulative share' if w.get('metric') == 'KSComplement' else 'share'}).")
        reading.append(("info", f"Average column shape score {esc(shapes.get('score'))} (1 = identical marginals). "
                        f"Weakest column: <strong>{esc(worst)}</strong> {esc(w['score'])}.{where}"
                        " Numbers use 1 − the KS distance, categories 1 − the total variation distance "
                        "(sdmetrics' KSComplement / TVComplement)."))
    body = [_reading(reading), figs.div(figures.column_scores_figure(scored, "Column shapes: score per column "
                                                                            "(weakest first)"))]
    if evaluation is not None:
        frames, metadata = evaluation.inputs.frames, evaluation.inputs.metadata
        chosen = sorted(scored, key=lambda c: scored[c]["score"])[:max_columns]
        charts = []
        for column in chosen:
            if column not in frames["real"].columns:
                continue
            marginal = marginal_distribution(frames["real"][column], frames["synthetic"][column], metadata[column])
            charts.append(figs.div(figures.marginal_figure(marginal, scored[column]["score"])))
        if charts:
            more = f" (the {max_columns} weakest of {len(scored)})" if len(scored) > max_columns else ""
            body.append(f"<h3>Real vs synthetic, column by column{esc(more)}</h3>"
                        "<p class=\"meta\">Shares of rows on shared bins (numbers, dates) or categories; "
                        "weakest column first.</p><div class=\"grid\">" + "".join(charts) + "</div>")
    else:
        body.append("<p class=\"meta\">Per-column distribution charts need the tables; this report was built "
                    "from the stored evaluation only.</p>")
    rows = [{"column": c, "metric": v.get("metric"), "score": v.get("score"), "holdout": v.get("expected"),
             "floor": v.get("floor"), "largest gap at": v.get("at"), "real": v.get("real"),
             "synthetic": v.get("synthetic")} for c, v in sorted(scored.items(), key=lambda kv: kv[1]["score"])]
    body.append("<details><summary>Per-column scores</summary>" + _table(
        rows, ["column", "metric", "score", "holdout", "floor", "largest gap at", "real", "synthetic"],
        numeric=["score", "holdout", "floor", "real", "synthetic"]) + "</details>")
    skipped = (report.get("fidelity") or {}).get("skipped") or []
    if skipped:
        body.append("<details><summary>Not scored</summary>" + _table(skipped, ["item", "reason"]) + "</details>")
    return _section("column-shapes", "Column shapes (marginals)", body)


def _pair_section(report: Mapping[str, Any], evaluation: Evaluation | None, figs: _Figures, max_pairs: int) -> str:
    trends = (report.get("fidelity") or {}).get("column_pair_trends") or {}
    pairs = [p for p in trends.get("pairs") or [] if isinstance(p, Mapping) and p.get("score") is not None]
    if not pairs:
        return ""
    pairs = sorted(pairs, key=lambda p: p["score"])
    below = [p for p in pairs if p.get("floor") is not None and p["score"] < p["floor"]]
    gate = _gate(report, "column_pair_trends")
    reading = []
    if below:
        reading.append(("bad", f"{len(below)} of {len(pairs)} pairs fall below their floor: " + ", ".join(
            f"<strong>{esc(' / '.join(p['columns']))}</strong> {esc(p['score'])}" for p in below[:6]) + "."))
    elif gate is not None:
        reading.append(("good" if gate.get("passed") else "bad", esc(gate.get("detail"))))
    diffs = [p for p in pairs if p.get("real") is not None and p.get("synthetic") is not None]
    if diffs:
        worst = max(diffs, key=lambda p: abs(p["synthetic"] - p["real"]))
        reading.append(("info", f"Average pair trend score {esc(trends.get('score'))}. The association that moved "
                        f"most: <strong>{esc(' / '.join(worst['columns']))}</strong>, real {esc(worst['real'])} vs "
                        f"synthetic {esc(worst['synthetic'])}. In the difference heatmap, white is kept, red or blue "
                        "a lost or invented association."))
    body = [_reading(reading)]
    matrices = figures.association_matrices_from_pairs(pairs)
    if matrices is not None:
        body.append("<h3>Correlation heatmaps</h3>" + figs.div(figures.association_heatmaps(matrices)))
    if evaluation is not None and max_pairs > 0:
        frames, metadata = evaluation.inputs.frames, evaluation.inputs.metadata
        charts = []
        for p in _spread_pairs(pairs, max_pairs):
            x, y = p["columns"]
            joint = joint_distribution(frames["real"], frames["synthetic"], x, y, metadata)
            charts.append(figs.div(figures.joint_figure(joint, p["score"])))
        body.append(f"<h3>{len(charts)} of the weakest pairs: joint distributions</h3>"
                    "<p class=\"meta\">Binned 2-D shares (numbers in 20 shared bins, the 30 most frequent categories), "
                    "real beside synthetic on one colour scale; a column appears in at most two.</p>" + "".join(charts))
    rows = [{"pair": " / ".join(p["columns"]), "metric": p.get("metric"), "score": p["score"],
             "holdout": p.get("expected"), "floor": p.get("floor"), "real association": p.get("real"),
             "synthetic association": p.get("synthetic")} for p in pairs[:MAX_PAIR_ROWS]]
    body.append(f"<details><summary>The {len(rows)} weakest of {len(pairs)} pairs</summary>" + _table(
        rows, ["pair", "metric", "score", "holdout", "floor", "real association", "synthetic association"],
        numeric=["score", "holdout", "floor", "real association", "synthetic association"]) + "</details>")
    return _section("pair-trends", "Column pairs and correlations", body)


def _spread_pairs(pairs: Sequence[Mapping[str, Any]], limit: int, per_column: int = 2) -> list[Mapping[str, Any]]:
    """The weakest pairs (already sorted), each column in at most `per_column` of them, so one bad column does
    not fill every chart; topped up in score order when too few qualify."""
    chosen, seen = [], {}
    for p in pairs:
        if len(chosen) == limit:
            break
        if all(seen.get(c, 0) < per_column for c in p["columns"]):
            chosen.append(p)
            for c in p["columns"]:
                seen[c] = seen.get(c, 0) + 1
    chosen += [p for p in pairs if p not in chosen][: limit - len(chosen)]
    return sorted(chosen, key=lambda p: p["score"])


def _validity_section(report: Mapping[str, Any]) -> str:
    validity = report.get("validity") or {}
    columns = validity.get("columns") or {}
    if not columns:
        return ""
    reading = []
    for name in ("validity", "coverage"):
        gate = _gate(report, name)
        if gate is not None:
            reading.append(("good" if gate.get("passed") else "bad", f"<strong>{esc(name)}</strong>: "
                            + esc(gate.get("detail"))))
    dup_s, dup_r = validity.get("duplicate_rows_share_synthetic"), validity.get("duplicate_rows_share_real")
    if dup_s is not None:
        reading.append(("info", f"Duplicate rows: synthetic {pct(dup_s)}, real {pct(dup_r)}."))
    rows = [{"column": c, "out of range": v.get("out_of_range_share"), "unseen categories": v.get("unseen_category_share"),
             "category coverage": v.get("category_coverage"), "range coverage": v.get("range_coverage"),
             "missing real": v.get("missing_share_real"), "missing synthetic": v.get("missing_share_synthetic"),
             "lost categories": ", ".join(map(str, v.get("missing_categories") or [])) or None,
             "collapsed tails": ", ".join(v.get("collapsed_tails") or []) or None} for c, v in columns.items()]
    cols = ["column", "out of range", "unseen categories", "category coverage", "range coverage", "missing real",
            "missing synthetic", "lost categories", "collapsed tails"]
    return _section("validity", "Validity and coverage", [_reading(reading), _table(rows, cols, numeric=cols[1:7])])


def _privacy_section(report: Mapping[str, Any], evaluation: Evaluation | None, figs: _Figures) -> str:
    privacy = report.get("privacy") or {}
    if not privacy or _skipped(privacy):
        return ""
    copies = privacy.get("exact_copies") or {}
    dcr = privacy.get("distance_to_closest_record") or {}
    mia = privacy.get("membership_inference") or {}
    reading = []
    for name in ("exact_copies", "distance_to_closest_record", "membership_inference"):
        gate = _gate(report, name)
        if gate is not None:
            reading.append(("good" if gate.get("passed") else "bad",
                            f"<strong>{esc(name)}</strong>: {esc(gate.get('detail'))}"))
    if dcr.get("share_closer_to_train_than_holdout") is not None:
        share = dcr["share_closer_to_train_than_holdout"]
        reading.append(("info", f"{pct(share)} of synthetic rows lie closer to a training row than to a holdout row "
                        "(50% when the generator learned the population rather than the training rows). The holdout "
                        "→ train distances are what a fresh real sample looks like: synthetic distances bunched "
                        "left of them mean memorised rows."))
    inference = privacy.get("attribute_inference") or {}
    if inference.get("max_risk") is not None:
        reading.append(("info", f"Attribute inference: highest risk {esc(inference.get('max_risk'))} "
                        f"(column {esc(inference.get('max_risk_column'))}); singling out risk "
                        f"{esc((privacy.get('singling_out') or {}).get('risk'))} (anonymeter-style, 0 = none)."))
    body = [_reading(reading)]
    result = evaluation.privacy if evaluation is not None else None
    if result is not None:
        d = result.distance_to_closest_record
        dcr_fig = figures.dcr_figure(d.synthetic_to_train, d.holdout_to_train)
    else:
        dcr_fig = figures.dcr_quantiles_figure(dcr)
    body.append(figs.div(figures.privacy_rates_figure(privacy)))
    body.append('<div class="grid">' + figs.div(dcr_fig) + "</div>")
    rows = [{"measure": "exact copies", "synthetic": copies.get("synthetic_copy_rate"),
             "holdout baseline": copies.get("holdout_copy_rate_baseline"), "note": f"{fmt(copies.get('synthetic_copy_count'))} rows"},
            {"measure": "DCR tail share", "synthetic": dcr.get("tail_share"), "holdout baseline": dcr.get("tail_share_baseline"),
             "note": "synthetic rows closer to train than the holdout's 5% quantile"},
            {"measure": "membership AUC", "synthetic": mia.get("auc"), "holdout baseline": mia.get("auc_baseline"),
             "note": "95% CI " + "–".join(fmt(v) for v in (mia.get("auc_ci95") or [])[:2])}]
    for key in ("singling_out", "linkability"):
        risk = privacy.get(key) or {}
        if "risk" in risk:
            rows.append({"measure": f"{key.replace('_', ' ')} risk", "synthetic": risk.get("risk"),
                         "holdout baseline": risk.get("control_attack_success_rate_baseline"),
                         "note": f"main attack success {fmt(risk.get('main_attack_success_rate'))}"})
    body.append(_table(rows, ["measure", "synthetic", "holdout baseline", "note"],
                       numeric=["synthetic", "holdout baseline"]))
    return _section("privacy", "Privacy", body)


def _utility_section(report: Mapping[str, Any], figs: _Figures) -> str:
    utility = report.get("utility") or {}
    if not utility or _skipped(utility):
        return ""
    reading = []
    gate = _gate(report, "utility")
    if gate is not None:
        reading.append(("good" if gate.get("passed") else "bad", f"<strong>utility</strong>: {esc(gate.get('detail'))}"))
    elif utility.get("not_applicable"):
        reading.append(("info", esc(utility.get("not_applicable"))))
    body = [_reading(reading), figs.div(figures.utility_figure(utility))]
    blend = utility.get("blend_sweep") or {}
    if blend.get("points"):
        best = blend["points"][blend.get("best_index", 0)]
        gain = blend.get("best_gain_over_real_only")
        kind = "good" if gain is not None and gain > 0 else "info"
        text = (f"Best mix: {esc(best.get('family'))} {esc(best.get('setting'))} ({fmt(best.get('n_real'))} real + "
                f"{fmt(best.get('n_synthetic'))} synthetic rows) scores {esc(best.get('mean'))}")
        text += f", {esc(gain)} above real rows alone." if gain is not None else "."
        body.append("<h3>Blend sweep</h3>" + _reading([(kind, text)]) + figs.div(figures.blend_figure(blend)))
    importance = utility.get("feature_importance") or {}
    if importance.get("features"):
        agreement = importance.get("agreement_score")
        kind = "good" if agreement is not None and agreement >= 0.7 else "bad"
        body.append("<h3>Feature importance</h3>" + _reading([(kind, (
            f"The synthetic-trained model ranks features like the real-trained one with Spearman "
            f"{esc(importance.get('spearman_correlation'))} (agreement score {esc(agreement)}; 1 = same order)."))])
                    + figs.div(figures.importance_figure(importance)))
    return _section("utility", "Utility (train on synthetic, test on real)", body)


def _records_section(evaluation: Evaluation | None) -> str:
    """Real records: the synthetic rows closest to a training row beside that row (only when asked)."""
    if evaluation is None or evaluation.privacy is None:
        return ""
    d = evaluation.privacy.distance_to_closest_record
    real, synthetic = evaluation.inputs.frames["real"], evaluation.inputs.frames["synthetic"]
    order = np.argsort(np.asarray(d.synthetic_to_train, dtype=float), kind="stable")[:MAX_RECORD_PAIRS]
    columns = list(real.columns)
    head = "<th>row</th><th>distance</th>" + "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for pos in order:
        train_pos = int(d.synthetic_nearest_train_position[pos])
        dist = float(d.synthetic_to_train[pos])
        body.append('<tr class="synthetic"><td>synthetic #' + esc(int(pos)) + f"</td><td class=\"num\">{esc(dist)}</td>"
                    + "".join(f"<td>{esc(synthetic.iloc[int(pos)][c])}</td>" for c in columns) + "</tr>")
        if train_pos >= 0:
            body.append("<tr><td>training #" + esc(train_pos) + "</td><td></td>"
                        + "".join(f"<td>{esc(real.iloc[train_pos][c])}</td>" for c in columns) + "</tr>")
    return _section("records", "Closest records (real records included)", [
        '<p class="note">This section shows rows of real training data, included because the exporter asked.</p>',
        f"<p>The {len(order)} synthetic rows closest to a training row, each above its nearest training row.</p>",
        f'<table class="records"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'])


def _notes_rows(reviews: Sequence[Mapping[str, Any]], include_real: bool) -> list[dict[str, Any]]:
    from core.review.export import REDACTED

    rows = []
    for review in reviews:
        for note in review.get("notes", []):
            row = note.get("row")
            if note.get("source") == "real" and not include_real:
                row = REDACTED if row is not None else None
            rows.append({"review": review.get("id"), "reviewer": review.get("reviewer"), "row_id": note.get("row_id"),
                         "source": note.get("source"), "flag": note.get("flag"), "note": note.get("note"),
                         "row_hash": note.get("row_hash"), "row": row})
    return rows


def _trail_sections(bundle: Mapping[str, Any], include_real: bool) -> list[str]:
    generation = bundle.get("generation") or {}
    out = []
    summary = [{"field": k, "value": f"{short_time(v)} UTC" if k == "created_at" and v else v}
               for k, v in generation.items()]
    summary += [{"field": "manifest_sha256", "value": bundle.get("manifest_sha256")},
                {"field": "lineage (parent first)", "value": bundle.get("lineage")}]
    dataset, holdout = bundle.get("dataset") or {}, bundle.get("holdout") or {}
    out.append(_section("generation", "Generation and source data", [
        _table(summary, ["field", "value"]),
        _table([{"what": "dataset", **{k: dataset.get(k) for k in ("id", "name", "sha256", "rows")}},
                {"what": "holdout", **{k: holdout.get(k) for k in ("id", "sha256", "rows", "seed", "split_fraction",
                                                                   "stratify_column")}}],
               ["what", "id", "name", "sha256", "rows", "seed", "split_fraction", "stratify_column"]),
        "<h3>Manifest</h3><pre>" + html.escape(json.dumps(round_tree(bundle.get("manifest")), indent=2,
                                                          sort_keys=True, ensure_ascii=False, default=str)) + "</pre>"]))
    reviews = list(bundle.get("reviews") or [])
    decisions = [{**d, "evidence": "matches" if d.get("evidence_matches") else "DOES NOT MATCH",
                  "at (UTC)": short_time(d.get("at"))} for d in bundle.get("decisions") or []]
    chain = bundle.get("audit_chain") or {}
    events = list(bundle.get("audit_events") or [])
    head = events[-1] if events else None
    reading = [("good" if chain.get("ok") else "bad",
                f"Audit chain verified at export: {_pass(chain.get('ok'))} — {esc(chain.get('reason'))}. "
                f"Latest event of this generation: {esc(head.get('id') if head else None)}, hash <code>{esc(head.get('hash') if head else None)}</code>.")]
    if decisions:
        last = decisions[-1]
        reading.append(("good" if last.get("evidence_matches") else "bad",
                        f"Latest decision: <strong>{esc(last.get('kind'))}</strong> by {esc(last.get('signer'))} at "
                        f"{esc(last.get('at (UTC)'))} UTC; its evidence hash {esc(last.get('evidence'))} the stored evidence."))
    else:
        reading.append(("info", "No decision recorded yet."))
    reading.append(("info", f"{len(reviews)} review(s); state <strong>{esc(bundle.get('state'))}</strong>."))
    shown = [{**e, "payload": _short(fmt(e.get("payload")), 160), "hash": _short(e.get("hash"), 16),
              "at (UTC)": short_time(e.get("at"))} for e in events[-MAX_AUDIT_ROWS:]]
    decisions = [{**d, **{k: _short(d.get(k), 16) for k in ("evidence_sha256", "policy_sha256")},
                  "waivers": _waiver_lines(d.get("waivers"))} for d in decisions]
    reviews_shown = [{**r, "synthetic_sha256": _short(r.get("synthetic_sha256"), 16),
                      "submitted (UTC)": short_time(r.get("submitted_at"))} for r in reviews]
    changes = bundle.get("changes_since_last_approval")
    if changes:
        body = [_reading([("info", esc(changes.get("summary")))])]
        if changes.get("fields"):
            body.append("<h3>Documented fields that changed</h3>" + _table(
                [{"field": c["field"], "approved": fmt(c["before"]), "this generation": fmt(c["after"])}
                 for c in changes["fields"]], ["field", "approved", "this generation"]))
        if changes.get("base_generation_id") is not None and changes.get("gates"):
            verdict = {True: "pass", False: "FAIL", None: "-"}
            body.append("<h3>Gates</h3>" + _table(
                [{"gate": g["name"], "before": g["value_before"], "now": g["value_after"],
                  "verdict before": verdict[g["passed_before"]], "verdict now": verdict[g["passed_after"]],
                  "changed": "yes" if g["verdict_changed"] else ""} for g in changes["gates"]],
                ["gate", "before", "now", "verdict before", "verdict now", "changed"], numeric=["before", "now"]))
        out.append(_section("changes", "What changed since the last approval", body))
    out.append(_section("signoff", "Sign-off trail", [
        _reading(reading),
        "<h3>Decisions</h3>" + _table(decisions, ["id", "kind", "signer", "at (UTC)", "round", "comment", "waivers",
                                                   "evidence_sha256", "evidence", "policy_sha256"], cls="decisions"),
        "<h3>Reviews</h3>" + _table(reviews_shown, ["id", "reviewer", "round", "status", "records_read", "synthetic_sha256",
                                              "submitted (UTC)", "comment"]),
        "<h3>Record notes</h3>" + _table([{**n, "row_hash": _short(n.get("row_hash"), 16)}
                                          for n in _notes_rows(reviews, include_real)],
                                         ["review", "reviewer", "row_id", "source", "flag", "note", "row_hash", "row"]),
        f"<h3>Audit log (last {len(shown)} of {len(events)} events)</h3>"
        + _table(shown, ["id", "at (UTC)", "actor", "action", "entity", "entity_id", "payload", "hash"])
        + '<p class="meta">Hashes shortened to 16 characters and payloads to 160; the JSON bundle holds them in '
          "full.</p>"]))
    return out


# ----------------------------------------------------------------------------------------------- the page


def same_tables(report: Mapping[str, Any], evaluation: Evaluation) -> bool:
    """True when a stored report was computed on the evaluation's tables (same sha256 for every role)."""
    stored = report.get("inputs") or {}
    current = evaluation.inputs.identities()
    if not stored:
        return False
    sha = lambda i: i.get("sha256") if isinstance(i, Mapping) else None
    return all(sha(stored.get(role)) == sha(current.get(role)) for role in ("real", "synthetic", "holdout"))


def _latest_report(bundle: Mapping[str, Any] | None) -> tuple[dict, Mapping[str, Any] | None]:
    evaluations = list((bundle or {}).get("evaluations") or [])
    latest = evaluations[-1] if evaluations else None
    return dict((latest or {}).get("report") or {}), latest


def report_html(evaluation: Evaluation | None = None, *, bundle: Mapping[str, Any] | None = None,
                include_real: bool = False, max_columns: int = MAX_COLUMN_CHARTS,
                max_pairs: int = MAX_PAIR_CHARTS) -> str:
    """The self-contained offline HTML report of an evaluation and/or a stored evidence bundle.

    A bundle's latest stored report is shown when there is a bundle (the signed evidence); an evaluation of the
    same tables (same sha256) then only feeds the distribution charts. Without a bundle the evaluation's own
    report is shown. The bundle adds the sign-off trail. Real records only if include_real.
    """
    from core.review.export import redact_real_records

    if evaluation is None and bundle is None:
        raise ValueError("report_html needs an evaluation or an evidence bundle")
    stored, latest = _latest_report(bundle)
    mismatch = ""
    if bundle is not None and evaluation is not None:
        if same_tables(stored, evaluation):
            report = stored  # the signed evidence; the evaluation only lends its tables to the charts
            privacy = stored.get("privacy") or {}
            if evaluation.privacy is None or privacy.get("seed") != evaluation.privacy.seed:
                evaluation = replace(evaluation, privacy=None)
        else:
            mismatch = ("The tables loaded when this report was made are not the ones of the stored evaluation, "
                        "so per-column and per-pair distribution charts are left out.") if stored else ""
            evaluation, report = None, stored
    else:
        report = evaluation.to_dict() if evaluation is not None else stored
    from_store = report is stored
    if not include_real:
        report = redact_real_records(report)
    generation = (bundle or {}).get("generation") or {}
    title = (f"Generation {generation.get('id', '?')} — synthetic data report" if bundle is not None
             else "Synthetic data report")
    figs = _Figures()
    verdict = report.get("verdict")
    inputs = report.get("inputs") or {}
    meta_bits = [f"created {esc(report.get('created_at'))}", f"tool {esc(report.get('tool_version'))}"]
    if latest is not None and from_store:
        meta_bits.append(f"evaluation {esc(latest.get('id'))}, report sha256 <code>{esc(latest.get('sha256'))}</code>")
    header = [f"<h1>{esc(title)}</h1>",
              f"<p>Verdict: <span class=\"badge {'pass' if verdict == 'pass' else 'fail'}\">"
              f"{esc(verdict or 'not evaluated')}</span></p>",
              f"<p class=\"meta\">{' · '.join(meta_bits)}</p>"]
    if mismatch:
        header.append(f'<p class="note">{esc(mismatch)}</p>')
    real_note = bundle.get("real_records") if bundle is not None else None
    if include_real:
        header.append('<p class="note">Real records: <strong>included</strong> (the exporter chose to include them).</p>')
    else:
        extra = ""
        if real_note:
            extra = (f": {esc(real_note.get('redacted_note_rows', 0))} note row(s) and "
                     f"{esc(real_note.get('redacted_report_fields', 0))} report field(s) holding real records were "
                     "left out; hashes still refer to the full content")
        header.append(f'<p class="note">Real records: <strong>excluded</strong>{extra}. Charts show shares of '
                      "rows on shared bins, never individual real rows.</p>")

    sections: list[tuple[str, str, str]] = []  # (anchor, title, html)

    def add(anchor: str, title_: str, content: str) -> None:
        if content:
            sections.append((anchor, title_, content))

    # Summary: inputs and which sections ran.
    rows = [{"table": role, "file": (i or {}).get("path") if isinstance(i, Mapping) else None,
             "rows": (i or {}).get("rows") if isinstance(i, Mapping) else None,
             "sha256": (i or {}).get("sha256") if isinstance(i, Mapping) else None}
            for role, i in inputs.items() if i]
    reading = []
    for key in ("privacy", "utility"):
        section = report.get(key) or {}
        if _skipped(section):
            reading.append(("info", f"{esc(key.capitalize())} was not run: {esc(section['skipped'])}."))
    for warning in report.get("warnings") or []:
        reading.append(("bad", esc(warning)))
    fidelity = report.get("fidelity") or {}
    if fidelity.get("score") is not None:
        reading.insert(0, ("info", f"Quality score {esc(fidelity.get('score'))} (mean of column shapes "
                           f"{esc((fidelity.get('column_shapes') or {}).get('score'))} and pair trends "
                           f"{esc((fidelity.get('column_pair_trends') or {}).get('score'))}, as sdmetrics' "
                           "QualityReport)."))
    if report:
        add("summary", "Summary", _section("summary", "Summary", [_reading(reading),
                                                                   _table(rows, ["table", "file", "rows", "sha256"],
                                                                          numeric=["rows"])]))
        add("gates", "Gates", _gates_section(report, figs))
        add("column-shapes", "Column shapes", _column_section(report, evaluation, figs, max_columns))
        add("pair-trends", "Column pairs", _pair_section(report, evaluation, figs, max_pairs))
        add("validity", "Validity", _validity_section(report))
        add("privacy", "Privacy", _privacy_section(report, evaluation, figs))
        add("utility", "Utility", _utility_section(report, figs))
        if include_real:
            add("records", "Closest records", _records_section(evaluation))
    else:
        add("summary", "Summary", _section("summary", "Summary", ["<p><em>No evaluation recorded.</em></p>"]))
    if bundle is not None:
        for part in _trail_sections(bundle, include_real):
            anchor = part.split('"', 2)[1]
            add(anchor, {"generation": "Generation", "changes": "Changes since approval",
                         "signoff": "Sign-off trail"}[anchor], part)
    if report:
        add("appendix", "Full report (JSON)", _section("appendix", "Full report (JSON)", [
            "<details><summary>The evaluation report, numbers rounded to 4 decimals (the JSON bundle keeps full "
            "precision)</summary><pre>" + html.escape(json.dumps(round_tree(report), indent=2, sort_keys=True,
                                                                 ensure_ascii=False, default=str)) + "</pre></details>"]))
    nav = "<nav><ol>" + "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t, _ in sections) + "</ol></nav>"
    body = "\n".join(header) + nav + "\n".join(s for _, _, s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
            f"<style>{STYLE}</style><script type=\"text/javascript\">{get_plotlyjs()}</script></head>"
            f"<body>\n{body}\n</body></html>\n")
