"""What changed since the last approval: a generation against the last approved generation of the same data.

"The same data" is the dataset name: a new version of the source data (another sha256) under the same name
is exactly the change a reviewer must see. The comparison covers what a generation is documented by (method,
parameters, epsilon and delta, seed, source-data hash, synthetic hash, rows, library and tool versions) and
every gate's value and verdict in the latest evaluation of each.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.store import generation_detail, list_generations


@dataclass(frozen=True)
class FieldChange:
    """One documented field that differs (None where one side does not have it)."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class GateChange:
    """One gate's value and verdict in the approved generation and in this one."""

    name: str
    value_before: float | None
    value_after: float | None
    passed_before: bool | None
    passed_after: bool | None

    @property
    def verdict_changed(self) -> bool:
        """True when the gate passed in one and failed (or was missing) in the other."""
        return self.passed_before != self.passed_after


@dataclass
class GenerationChanges:
    """The diff of a generation against the last approved one of the same dataset name."""

    generation_id: int
    base_generation_id: int | None  # None: nothing of this dataset was approved before
    fields: list[FieldChange] = field(default_factory=list)
    gates: list[GateChange] = field(default_factory=list)
    unchanged_fields: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line: what changed, for a page header and `signoff status`."""
        if self.base_generation_id is None:
            return "no earlier approved generation of this dataset: nothing to compare against"
        flipped = [g.name for g in self.gates if g.verdict_changed]
        parts = [f"{len(self.fields)} documented field(s) changed"
                 + (f" ({', '.join(c.field for c in self.fields[:6])})" if self.fields else "")]
        parts.append(f"verdict changed on {', '.join(flipped)}" if flipped else "no gate verdict changed")
        return f"since approved generation {self.base_generation_id}: " + "; ".join(parts)

    def to_dict(self) -> dict:
        """JSON form (gate verdict flips marked)."""
        return {"generation_id": self.generation_id, "base_generation_id": self.base_generation_id,
                "summary": self.summary, "fields": [asdict(c) for c in self.fields],
                "gates": [dict(asdict(g), verdict_changed=g.verdict_changed) for g in self.gates],
                "unchanged_fields": list(self.unchanged_fields)}


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    """Nested dicts as dotted keys (lists and scalars kept whole)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def documented_fields(detail: dict) -> dict[str, Any]:
    """The fields a generation is documented by, from a generation_detail dict, as dotted keys."""
    manifest = detail["manifest"]
    dp = manifest.get("differential_privacy") or {}
    evaluations = detail.get("evaluations") or []
    fields: dict[str, Any] = {
        "method": manifest.get("method"), "seed": manifest.get("seed"), "rows": manifest.get("rows"),
        "source_data_sha256": detail["dataset"].get("sha256"), "synthetic_sha256": manifest.get("synthetic_sha256"),
        "epsilon": dp.get("epsilon"), "delta": dp.get("delta"),
        "training_mix.real_rows": (manifest.get("training_mix") or {}).get("real_rows"),
        "training_mix.synthetic_rows": (manifest.get("training_mix") or {}).get("synthetic_rows"),
        "tool_version": evaluations[-1].get("tool_version") if evaluations else None,
        "holdout_sha256": (detail.get("holdout") or {}).get("sha256"),
    }
    fields.update(_flatten(manifest.get("parameters") or {}, "parameters"))
    fields.update(_flatten(manifest.get("library_versions") or {}, "library_versions"))
    return fields


def latest_gates(detail: dict) -> dict[str, dict]:
    """Gate records by label (core.gates.gate_label: the name, with its table or relationship in a relational
    report) from the generation's latest evaluation (empty without one)."""
    from core.gates import gate_label

    evaluations = detail.get("evaluations") or []
    if not evaluations:
        return {}
    report = evaluations[-1].get("report") or {}
    return {gate_label(g): g for g in report.get("gates", [])}


def diff_generations(before: dict | None, after: dict) -> GenerationChanges:
    """The changes from `before` (an approved generation's detail, or None) to `after` (both detail dicts)."""
    generation_id = after["summary"]["id"]
    if before is None:
        return GenerationChanges(generation_id, None)
    old, new = documented_fields(before), documented_fields(after)
    changes, same = [], []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str):
            same.append(key)
        else:
            changes.append(FieldChange(key, a, b))
    old_gates, new_gates = latest_gates(before), latest_gates(after)
    gates = [GateChange(name, (old_gates.get(name) or {}).get("value"), (new_gates.get(name) or {}).get("value"),
                        (old_gates.get(name) or {}).get("passed"), (new_gates.get(name) or {}).get("passed"))
             for name in list(dict.fromkeys([*new_gates, *old_gates]))]
    return GenerationChanges(generation_id, before["summary"]["id"], changes, gates, same)


def last_approved(session: Session, generation_id: int) -> int | None:
    """The newest approved generation of the same dataset name created before `generation_id`, if any."""
    this = generation_detail(session, generation_id)
    name = this.summary.dataset_name
    approved = [g for g in list_generations(session, state="approved")
                if g.dataset_name == name and g.id < generation_id]
    return max((g.id for g in approved), default=None)


def changes_since_last_approval(session: Session, generation_id: int) -> GenerationChanges:
    """The diff of `generation_id` against the last approved generation of the same dataset name."""
    after = generation_detail(session, generation_id).to_dict()
    base = last_approved(session, generation_id)
    before = generation_detail(session, base).to_dict() if base is not None else None
    return diff_generations(before, after)
