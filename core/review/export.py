"""Self-contained HTML report of a generation's evidence bundle (opens offline: plotly.js is inlined).

This is the one place the desk writes HTML. The page is our own fixed template; every value taken from the
bundle (manifest, report, notes, comments, audit payloads) goes through html.escape before it is placed in it.
Real records are shown only when the bundle itself includes them (export_evidence_bundle(include_real_records=True));
otherwise note rows from real data and report fields holding real records are dropped here as well, and the
page says so.
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from core.store.repository import REAL_RECORD_KEYS

REDACTED = "[redacted: real records]"
REDACTED_CATEGORY = "[redacted]"
# Report keys whose values are real category values (besides the real records of REAL_RECORD_KEYS).
REAL_CATEGORY_KEYS = frozenset({"missing_categories"})
# Gate and check details quote real category values as Python reprs ('Private', "O'Neil").
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2328}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.8rem}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;max-height:30rem}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .75rem}
"""


def esc(value: Any) -> str:
    """A value as escaped HTML text (None as an empty string, dicts and lists as JSON)."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return html.escape(str(value), quote=True)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pass(passed: Any) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


def redact_real_records(value: Any) -> Any:
    """A copy of a report with every field named in REAL_RECORD_KEYS replaced by a redaction marker."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if k in REAL_RECORD_KEYS else redact_real_records(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_real_records(v) for v in value]
    return value


def gates_figure(gates: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Each gate's value beside its threshold (bars coloured by pass/fail)."""
    names = [str(g.get("name")) for g in gates]
    fig = go.Figure()
    fig.add_bar(name="value", x=names, y=[g.get("value") for g in gates],
                marker_color=["#1a7f37" if g.get("passed") else "#cf222e" for g in gates])
    fig.add_scatter(name="threshold", x=names, y=[g.get("threshold") for g in gates], mode="markers",
                    marker={"symbol": "line-ew-open", "size": 28, "color": "#1f2328", "line": {"width": 3}})
    fig.update_layout(title="Gates: value (bar) and threshold (line)", height=380, margin={"t": 50, "b": 80},
                      template="plotly_white")
    return fig


def column_shapes_figure(report: Mapping[str, Any]) -> go.Figure | None:
    """Column shape score per column (with the holdout's expected score when recorded), or None without one."""
    columns = (report.get("fidelity") or {}).get("column_shapes", {}).get("columns") or {}
    if not isinstance(columns, Mapping) or not columns:
        return None
    names = list(columns)
    fig = go.Figure()
    fig.add_bar(name="synthetic score", x=names, y=[columns[c].get("score") for c in names])
    if any(columns[c].get("expected") is not None for c in names):
        fig.add_scatter(name="holdout (expected)", x=names, y=[columns[c].get("expected") for c in names],
                        mode="markers", marker={"color": "#1f2328"})
    fig.update_layout(title="Column shapes: score per column", height=380, yaxis_range=[0, 1.02],
                      margin={"t": 50, "b": 120}, template="plotly_white")
    return fig


def _figures_html(figures: Sequence[go.Figure]) -> list[str]:
    out = []
    for i, fig in enumerate(figures):
        out.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False},
                               div_id=f"figure-{i}"))
    return out


def _notes_rows(reviews: Sequence[Mapping[str, Any]], include_real: bool) -> list[dict[str, Any]]:
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


def evidence_report_html(bundle: Mapping[str, Any], evaluation: Any = None) -> str:
    """The evidence bundle of one generation as a self-contained HTML page (no network needed to open it).

    Real records appear only when the bundle itself includes them; an Evaluation of the same tables, when the
    caller has one, adds the per-column and per-pair distribution charts (see core.review.html_report).
    """
    from core.review.html_report import report_html

    include_real = bool((bundle.get("real_records") or {}).get("included"))
    return report_html(evaluation, bundle=bundle, include_real=include_real)


# ----------------------------------------------------------------------------------------------- bundle rules


def redact_real_categories(value: Any) -> tuple[Any, int]:
    """A copy of a report with real category values removed (REAL_CATEGORY_KEYS, quoted values in `detail`
    strings), and how many fields it changed."""
    if isinstance(value, Mapping):
        out, n = {}, 0
        for k, v in value.items():
            if k in REAL_CATEGORY_KEYS and v:
                out[k], n = f"{REDACTED_CATEGORY}: {len(v) if isinstance(v, (list, tuple)) else 1} value(s)", n + 1
            elif k == "detail" and isinstance(v, str) and _QUOTED.search(v):
                out[k], n = _QUOTED.sub(REDACTED_CATEGORY, v), n + 1
            else:
                out[k], m = redact_real_categories(v)
                n += m
        return out, n
    if isinstance(value, list):
        items = [redact_real_categories(v) for v in value]
        return [i for i, _ in items], sum(n for _, n in items)
    return value, 0


def _redact_report(report: Any) -> tuple[Any, int]:
    report, records = redact_real_records(report), _count_real_record_keys(report)
    report, categories = redact_real_categories(report)
    return report, records + categories


def _count_real_record_keys(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(1 if k in REAL_RECORD_KEYS else _count_real_record_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_count_real_record_keys(v) for v in value)
    return 0


def export_bundle(session, generation_id: int, *, actor: str, include_real_records: bool = False) -> dict[str, Any]:
    """The evidence bundle as `actor` may have it: a reviewer or higher gets the redacted bundle (real records
    and real category values left out, and counted); real records need the approver role and are an audit event."""
    from core.store.audit import append_event, lock_chain
    from core.store.repository import export_evidence_bundle, get_user
    from core.store.roles import require_role

    user = get_user(session, actor)
    require_role(user, "approver" if include_real_records else "reviewer")
    if include_real_records:
        lock_chain(session)
        append_event(session, actor=actor, action="export.include_real_records", entity="generation",
                     entity_id=generation_id, generation_id=generation_id, payload={"format": "evidence bundle"})
    from core.review.changes import changes_since_last_approval

    bundle = export_evidence_bundle(session, generation_id, include_real_records=include_real_records)
    bundle = dict(bundle, changes_since_last_approval=changes_since_last_approval(session, generation_id).to_dict())
    return bundle if include_real_records else redact_bundle(bundle)


def redact_bundle(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """A redacted evidence bundle (core.store's) with real category values removed too, and counted."""
    redacted = 0
    evaluations = []
    for evaluation in bundle.get("evaluations") or []:
        report, n = redact_real_categories(evaluation.get("report"))
        redacted += n
        evaluations.append({**evaluation, "report": report})
    real = dict(bundle.get("real_records") or {})
    real["redacted_report_fields"] = int(real.get("redacted_report_fields", 0)) + redacted
    real["redacted_category_fields"] = redacted
    real["note"] = (str(real.get("note", "")) + f"; real category values ({sorted(REAL_CATEGORY_KEYS)} and quoted "
                    "values in gate details) are replaced too")
    return {**bundle, "evaluations": evaluations, "real_records": real}


def redacted_status(session, generation_id: int) -> dict[str, Any]:
    """A generation's detail (the CLI's `signoff status`) without real records or real category values."""
    from core.store.repository import generation_detail

    detail = generation_detail(session, generation_id).to_dict()
    notes_redacted = fields_redacted = 0
    reviews = []
    for review in detail.get("reviews") or []:
        notes = []
        for note in review.get("notes") or []:
            if note.get("source") == "real" and note.get("row") is not None:
                note, notes_redacted = {**note, "row": REDACTED}, notes_redacted + 1
            notes.append(note)
        reviews.append({**review, "notes": notes})
    evaluations = []
    for evaluation in detail.get("evaluations") or []:
        report, n = _redact_report(evaluation.get("report"))
        fields_redacted += n
        evaluations.append({**evaluation, "report": report})
    return {**detail, "reviews": reviews, "evaluations": evaluations,
            "real_records": {"included": False, "redacted_note_rows": notes_redacted,
                             "redacted_report_fields": fields_redacted}}
