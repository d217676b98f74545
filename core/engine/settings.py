"""The policy's [engine] section: which engine runs the checks, by table size."""

from __future__ import annotations

from dataclasses import dataclass

ENGINE_DEFAULTS = {"default_above_rows": 5_000_000, "plot_sample_rows": 100_000, "memory_limit": "3GB",
                   "max_distinct_values": 5_000_000}


@dataclass(frozen=True)
class EngineSettings:
    """Above `default_above_rows` rows (real + synthetic + holdout) DuckDB runs the checks out-of-core."""

    default_above_rows: int = int(ENGINE_DEFAULTS["default_above_rows"])
    plot_sample_rows: int = int(ENGINE_DEFAULTS["plot_sample_rows"])  # seeded sample the plots are drawn from
    memory_limit: str = str(ENGINE_DEFAULTS["memory_limit"])  # DuckDB's memory_limit (it spills beyond)
    # distinct values of one number/date column in one table that the profile holds (16 bytes each)
    max_distinct_values: int = int(ENGINE_DEFAULTS["max_distinct_values"])


def engine_settings(sections: dict[str, dict]) -> EngineSettings:
    """[engine] of a policy's sections over the defaults; an unknown key or a bad value is a PolicyError."""
    from core.errors import PolicyError

    given = dict(sections.get("engine", {}))
    unknown = set(given) - set(ENGINE_DEFAULTS)
    if unknown:
        raise PolicyError(f"[engine] has unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(ENGINE_DEFAULTS)}")
    for key in ("default_above_rows", "plot_sample_rows", "max_distinct_values"):
        value = given.get(key, ENGINE_DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PolicyError(f"[engine] {key} must be a whole number >= 0, not {value!r}")
    memory = given.get("memory_limit", ENGINE_DEFAULTS["memory_limit"])
    if not isinstance(memory, str) or not memory.strip():
        raise PolicyError(f"[engine] memory_limit must be text such as \"3GB\", not {memory!r}")
    return EngineSettings(int(given.get("default_above_rows", ENGINE_DEFAULTS["default_above_rows"])),
                          int(given.get("plot_sample_rows", ENGINE_DEFAULTS["plot_sample_rows"])), memory,
                          int(given.get("max_distinct_values", ENGINE_DEFAULTS["max_distinct_values"])))
