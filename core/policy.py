"""The review policy: gate thresholds and sign-off rules, from a TOML file over built-in defaults."""
from __future__ import annotations

import hashlib
import math
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import PolicyError

if TYPE_CHECKING:
    from core.drift import DriftPolicy

DEFAULT_POLICY_TOML = """\
# Gate thresholds. With a holdout, a score fails when it falls below the holdout's own score (what a
# fresh real sample of that size earns) by more than `tolerance` plus the sampling noise of the two
# sizes; without a holdout, when it is below `threshold`.
[gates.column_shapes]
threshold = 0.80
tolerance = 0.02

[gates.column_pair_trends]
threshold = 0.80
tolerance = 0.02

# Largest share of a column's synthetic values the real data could not have produced (outside the real
# range, or an unseen category), beyond the holdout's own share.
[gates.validity]
threshold = 0.01

# Share of the real categories and tails that a sample of the synthetic size is all but certain to
# contain (and that the synthetic data kept).
[gates.coverage]
threshold = 1.0

# Privacy, judged against the holdout and net of sampling noise: synthetic rows identical to a training
# row beyond the holdout's own rate; share of synthetic rows closer to training than the closest 5% of
# holdout rows are (5% for a safe generator; its lower confidence bound is judged); the lower 95% bound
# of a distance-based membership attack's AUC (0.5 = no leak).
[gates.exact_copies]
threshold = 0.01

[gates.distance_to_closest_record]
threshold = 0.08

[gates.membership_inference]
threshold = 0.60

# Utility: train on synthetic, test on the real holdout (TSTR) relative to train on real (TRTR).
[gates.utility]
threshold = 0.90

[review]
min_records_read = 200
required_reviewers = 1
allow_waivers = true
"""

# Which direction passes: "min" gates pass when value >= threshold, "max" gates when value <= threshold.
GATE_DIRECTIONS = {
    "column_shapes": "min",
    "column_pair_trends": "min",
    "validity": "max",
    "coverage": "min",
    "exact_copies": "max",
    "distance_to_closest_record": "max",
    "membership_inference": "max",
    "utility": "min",
    "lineage": "min",
}


@dataclass
class Policy:
    """Gate settings by gate name, review rules, and the TOML text they came from (kept with decisions)."""

    gates: dict[str, dict[str, float]]
    review: dict[str, object]
    text: str = DEFAULT_POLICY_TOML
    sources: list[str] = field(default_factory=lambda: ["built-in defaults"])
    sections: dict[str, dict] = field(default_factory=dict)  # drift, privacy, utility, lineage settings

    @property
    def min_records_read(self) -> int:
        """Records a reviewer must have read (in submitted reviews) before approval."""
        return int(self.review["min_records_read"])

    @property
    def required_reviewers(self) -> int:
        """Distinct reviewers who must have submitted a review before approval."""
        return int(self.review["required_reviewers"])

    @property
    def allow_waivers(self) -> bool:
        """Whether a failed gate may be waived with a reason."""
        return bool(self.review["allow_waivers"])

    def drift(self) -> "DriftPolicy":
        """The [drift] section as the drift checks' thresholds (Evidently's defaults where unset)."""
        from core.drift import DriftPolicy

        known = set(DriftPolicy.__dataclass_fields__)
        unknown = set(self.sections.get("drift", {})) - known
        if unknown:
            raise PolicyError(f"[drift] has unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        return DriftPolicy(**self.sections.get("drift", {}))

    @property
    def sha256(self) -> str:
        """Hex sha256 of the policy text stored with each decision."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def gate(self, name: str, key: str = "threshold", default: float | None = None) -> float:
        """A gate's setting, e.g. gate('column_shapes', 'tolerance')."""
        value = self.gates.get(name, {}).get(key, default)
        if value is None:
            raise PolicyError(f"policy has no [gates.{name}] {key}")
        return float(value)


@dataclass
class Gate:
    """One gate: the value it judged, the threshold, and whether it passed."""

    name: str
    value: float
    threshold: float
    passed: bool
    detail: str

    def to_dict(self) -> dict:
        """The contract's gate record (non-finite numbers as null)."""
        number = lambda v: float(v) if v is not None and math.isfinite(float(v)) else None  # noqa: E731
        return {"name": self.name, "value": number(self.value), "threshold": number(self.threshold),
                "passed": self.passed, "detail": self.detail}


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def parse_policy(text: str, source: str = "policy") -> Policy:
    """Read policy TOML over the defaults; unknown gates, keys or out-of-range values are errors."""
    try:
        override = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML ({exc})") from None
    merged = _merge(tomllib.loads(DEFAULT_POLICY_TOML), override)
    unknown = set(merged) - {"gates", "review", "drift", "privacy", "utility", "lineage"}
    if unknown:
        raise PolicyError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
    gates = merged.get("gates", {})
    for name, settings in gates.items():
        if name not in GATE_DIRECTIONS:
            raise PolicyError(f"{source}: [gates.{name}] is not a gate; known: {', '.join(GATE_DIRECTIONS)}")
        if not isinstance(settings, dict):
            raise PolicyError(f"{source}: [gates.{name}] must be a table")
        for key, value in settings.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise PolicyError(f"{source}: [gates.{name}] {key} must be a number, not {value!r}")
    review = merged.get("review", {})
    for key in ("min_records_read", "required_reviewers"):
        value = review.get(key)
        low = 0 if key == "min_records_read" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise PolicyError(f"{source}: [review] {key} must be a whole number >= {low}, not {value!r}")
    if not isinstance(review.get("allow_waivers"), bool):
        raise PolicyError(f"{source}: [review] allow_waivers must be true or false, not {review.get('allow_waivers')!r}")
    text = DEFAULT_POLICY_TOML if override == {} or source == "built-in defaults" else canonical_toml(merged)
    return Policy(gates=gates, review=review, text=text,
                  sources=["built-in defaults"] + ([source] if source != "built-in defaults" else []),
                  sections={k: merged[k] for k in ("drift", "privacy", "utility", "lineage") if k in merged})


def canonical_toml(data: dict) -> str:
    """The policy in effect (defaults merged with overrides) as TOML, so a decision stores all of it."""
    lines = []
    for section in ("gates", "review", "drift", "privacy", "utility", "lineage"):
        value = data.get(section)
        if not isinstance(value, dict):
            continue
        tables = {k: v for k, v in value.items() if isinstance(v, dict)}
        plain = {k: v for k, v in value.items() if not isinstance(v, dict)}
        if plain:
            lines.append(f"[{section}]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in plain.items())
            lines.append("")
        for name, table in tables.items():
            lines.append(f"[{section}.{name}]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in table.items())
            lines.append("")
    return "\n".join(lines)


def load_policy(path: str | Path | None = None) -> Policy:
    """The default policy, overridden by the TOML file at `path` when given."""
    if path is None:
        return parse_policy(DEFAULT_POLICY_TOML, "built-in defaults")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"file {path}: policy file not found") from None
    except UnicodeDecodeError:
        raise PolicyError(f"file {path}: policy file is not UTF-8 text") from None
    return parse_policy(text, f"file {path}")
