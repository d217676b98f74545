"""The review policy: gate thresholds and sign-off rules, from a TOML file over built-in defaults."""
from __future__ import annotations

import dataclasses

import hashlib
import math
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import PolicyError
from core.gates import CALIBRATION_DEFAULTS, REGISTRY, Gate  # noqa: F401  (Gate re-exported)

if TYPE_CHECKING:
    from core.checks.drift import DriftPolicy

def _toml_value(value: object) -> str:
    """A TOML literal (TOML spells infinity `inf`, JSON cannot)."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return json.dumps(value)


def _default_policy_toml() -> str:
    """The built-in policy: every registered gate's defaults (core/gates.py), calibration and review rules."""
    lines = ["# Gate defaults come from the gate registry (core/gates.py). With a holdout, each gate is judged",
             "# against the same statistic on real-vs-real resamples of the synthetic table's size; `threshold`",
             "# applies only when no null can be drawn, `tolerance` widens the null's bound.", ""]
    for gate in REGISTRY.values():
        lines += [f"# {gate.name} ({gate.direction}): {gate.measures}", f"[gates.{gate.name}]",
                  f"threshold = {_toml_value(float(gate.threshold))}",
                  f"tolerance = {_toml_value(float(gate.tolerance))}", ""]
    lines.append("[calibration]")
    lines += [f"{key} = {_toml_value(value)}" for key, value in CALIBRATION_DEFAULTS.items()]
    lines += ["", "# Mixed (number x category) pairs: \"shared\" bins the number on the real table's ten bins with",
              "# open outer edges (sdmetrics' ContingencySimilarity); \"sdmetrics\" bins each table on its own",
              "# range, as sdmetrics' QualityReport does (its scores then match the report's, not the metric's).",
              "[fidelity]", 'pair_binning = "shared"']
    lines += ["", "[review]", "min_records_read = 200", "required_reviewers = 1", "allow_waivers = true", ""]
    return "\n".join(lines)


DEFAULT_POLICY_TOML = _default_policy_toml()
SECTIONS = ("drift", "privacy", "utility", "lineage", "calibration", "fidelity", "budget", "auth", "jobs", "engine",
            "structure")
PAIR_BINNINGS = ("shared", "sdmetrics")


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
        from core.checks.drift import DriftPolicy

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

    @property
    def nearest_time_budget_seconds(self) -> float:
        """[privacy] nearest_time_budget_seconds: past it, nearest records come from an approximate index."""
        from core.stats.nearest import DEFAULT_TIME_BUDGET_SECONDS

        return float(self.sections.get("privacy", {}).get("nearest_time_budget_seconds", DEFAULT_TIME_BUDGET_SECONDS))

    @property
    def dpctgan_max_rows(self) -> int:
        """[privacy] dpctgan_max_rows: DP-CTGAN refuses larger training tables (its time grows with the rows)."""
        from core.generate.dp import DEFAULT_GAN_MAX_ROWS

        return int(self.sections.get("privacy", {}).get("dpctgan_max_rows", DEFAULT_GAN_MAX_ROWS))

    @property
    def dp_max_bins(self) -> int:
        """[privacy] dp_max_bins: MST and AIM give a declared integer column one bin per value up to this many."""
        from core.generate.dp import DEFAULT_MAX_BINS

        return int(self.sections.get("privacy", {}).get("dp_max_bins", DEFAULT_MAX_BINS))

    def calibration(self, key: str) -> float:
        """A [calibration] setting (false_alarm_rate, resamples, seed, min_real_rows) over the registry's defaults."""
        return self.sections.get("calibration", {}).get(key, CALIBRATION_DEFAULTS[key])


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
    unknown = set(merged) - {"gates", "review", *SECTIONS}
    if unknown:
        raise PolicyError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
    gates = merged.get("gates", {})
    for name, settings in gates.items():
        if name not in REGISTRY:
            raise PolicyError(f"{source}: [gates.{name}] is not a gate; known: {', '.join(REGISTRY)}")
        if not isinstance(settings, dict):
            raise PolicyError(f"{source}: [gates.{name}] must be a table")
        for key, value in settings.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise PolicyError(f"{source}: [gates.{name}] {key} must be a number, not {value!r}")
    _check_calibration(merged.get("calibration", {}), merged.get("fidelity", {}), source)
    budget = merged.get("privacy", {}).get("nearest_time_budget_seconds", 1.0)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
        raise PolicyError(f"{source}: [privacy] nearest_time_budget_seconds must be a number of seconds > 0, "
                          f"not {budget!r}")
    gan_rows = merged.get("privacy", {}).get("dpctgan_max_rows", 1)
    if isinstance(gan_rows, bool) or not isinstance(gan_rows, int) or gan_rows < 1:
        raise PolicyError(f"{source}: [privacy] dpctgan_max_rows must be a whole number of rows >= 1, not {gan_rows!r}")
    max_bins = merged.get("privacy", {}).get("dp_max_bins", 2)
    if isinstance(max_bins, bool) or not isinstance(max_bins, int) or not 2 <= max_bins <= 4096:
        raise PolicyError(f"{source}: [privacy] dp_max_bins must be a whole number from 2 to 4096, not {max_bins!r}")
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
                  sections={k: merged[k] for k in SECTIONS if k in merged})


def _check_calibration(calibration: dict, fidelity: dict, source: str) -> None:
    """[calibration] keys are known and in range; [fidelity] pair_binning is one of PAIR_BINNINGS."""
    unknown = set(calibration) - set(CALIBRATION_DEFAULTS)
    if unknown:
        raise PolicyError(f"{source}: [calibration] has unknown key(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(CALIBRATION_DEFAULTS)}")
    rate = calibration.get("false_alarm_rate", CALIBRATION_DEFAULTS["false_alarm_rate"])
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 0.5:
        raise PolicyError(f"{source}: [calibration] false_alarm_rate must be a number in (0, 0.5], not {rate!r}")
    for key, low in (("resamples", 20), ("seed", 0), ("min_real_rows", 2)):
        value = calibration.get(key, CALIBRATION_DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise PolicyError(f"{source}: [calibration] {key} must be a whole number >= {low}, not {value!r}")
    binning = fidelity.get("pair_binning", "shared")
    if binning not in PAIR_BINNINGS:
        raise PolicyError(f"{source}: [fidelity] pair_binning must be one of {', '.join(PAIR_BINNINGS)}, not {binning!r}")


def canonical_toml(data: dict) -> str:
    """The policy in effect (defaults merged with overrides) as TOML, so a decision stores all of it."""
    lines = []
    for section in ("gates", "review", *SECTIONS):
        value = data.get(section)
        if not isinstance(value, dict):
            continue
        tables = {k: v for k, v in value.items() if isinstance(v, dict)}
        plain = {k: v for k, v in value.items() if not isinstance(v, dict)}
        if plain:
            lines.append(f"[{section}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in plain.items())
            lines.append("")
        for name, table in tables.items():
            lines.append(f"[{section}.{name}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
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


def with_pair_binning(policy: Policy, binning: str) -> Policy:
    """The policy with [fidelity] pair_binning set (the CLI's --pair-binning); its text and sources say so."""
    data = tomllib.loads(policy.text)
    data.setdefault("fidelity", {})["pair_binning"] = binning
    updated = parse_policy(canonical_toml(data), f"--pair-binning {binning}")
    return dataclasses.replace(updated, sources=[*policy.sources, f"--pair-binning {binning}"])
