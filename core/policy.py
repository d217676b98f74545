"""The review policy: gate thresholds and sign-off rules, from a TOML file over built-in defaults."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import PolicyError

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
threshold = 0.10

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

    def gate(self, name: str, key: str = "threshold", default: float | None = None) -> float:
        """A gate's setting, e.g. gate('column_shapes', 'tolerance')."""
        value = self.gates.get(name, {}).get(key, default)
        if value is None:
            raise PolicyError(f"policy has no [gates.{name}] {key}")
        return float(value)


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
    if int(review.get("min_records_read", 0)) < 0:
        raise PolicyError(f"{source}: [review] min_records_read must be 0 or more")
    full_text = DEFAULT_POLICY_TOML if source == "built-in defaults" else text
    return Policy(gates=gates, review=review, text=full_text,
                  sources=["built-in defaults"] + ([source] if source != "built-in defaults" else []))


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
