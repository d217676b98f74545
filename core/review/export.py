"""Exports of a generation's evidence: who may have which bundle, what is redacted from it, and its HTML page.

Real records and real category values leave the store only in a bundle an approver asked for (an audited
event); the default bundle and `signoff status` redact them and count what they redacted. The HTML page
itself is built by core.review.html_report.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.store.repository import REAL_RECORD_KEYS

REDACTED = "[redacted: real records]"
REDACTED_CATEGORY = "[redacted]"
# Report keys whose values are real category values (besides the real records of REAL_RECORD_KEYS).
REAL_CATEGORY_KEYS = frozenset({"missing_categories"})
# Gate and check details quote real category values as Python reprs ('Private', "O'Neil").
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def redact_real_records(value: Any) -> Any:
    """A copy of a report with every field named in REAL_RECORD_KEYS replaced by a redaction marker."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if k in REAL_RECORD_KEYS else redact_real_records(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_real_records(v) for v in value]
    return value


def evidence_report_html(bundle: Mapping[str, Any], evaluation: Any = None) -> str:
    """The evidence bundle of one generation as a self-contained HTML page (no network needed to open it).

    Real records appear only when the bundle itself includes them; an Evaluation of the same tables, when the
    caller has one, adds the per-column and per-pair distribution charts (see core.review.html_report).
    """
    from core.review.html_report import report_html

    include_real = bool((bundle.get("real_records") or {}).get("included"))
    return report_html(evaluation, bundle=bundle, include_real=include_real)


# ----------------------------------------------------------------------------------------------- bundle rules


def redact_real_categories(value: Any, keep: frozenset[str] | None = None) -> tuple[Any, int]:
    """A copy of a report with real category values removed (REAL_CATEGORY_KEYS, quoted values in `detail`
    strings), and how many fields it changed. Quoted column names stay (they are the schema, not data): those of
    `keep`, by default the report's own `metadata` columns."""
    if keep is None:
        metadata = value.get("metadata") if isinstance(value, Mapping) else None
        keep = frozenset(str(c) for c in metadata) if isinstance(metadata, Mapping) else frozenset()

    def quoted(match: re.Match) -> str:
        return match.group(0) if match.group(0)[1:-1] in keep else REDACTED_CATEGORY

    if isinstance(value, Mapping):
        out, n = {}, 0
        for k, v in value.items():
            if k in REAL_CATEGORY_KEYS and v:
                out[k], n = f"{REDACTED_CATEGORY}: {len(v) if isinstance(v, (list, tuple)) else 1} value(s)", n + 1
            elif k == "detail" and isinstance(v, str) and _QUOTED.search(v):
                out[k] = _QUOTED.sub(quoted, v)
                n += out[k] != v
            else:
                out[k], m = redact_real_categories(v, keep)
                n += m
        return out, n
    if isinstance(value, list):
        items = [redact_real_categories(v, keep) for v in value]
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


def report_for_viewer(report: Any, role: str | None) -> tuple[Any, int]:
    """A stored report as a page may show it to a visitor of `role` (None: not signed in), and how many fields
    were redacted: reviewers and above, who read real records on Records anyway, see it whole; viewers and
    visitors who are not signed in get real records and real category values redacted."""
    from core.store.roles import ROLE_RANK

    if role is not None and ROLE_RANK.get(role, -1) >= ROLE_RANK["reviewer"]:
        return report, 0
    return _redact_report(report)


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
