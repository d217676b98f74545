"""Bins for MST and AIM chosen from public information only, and decoded without reading the data.

MST and AIM model discrete columns, so a number is binned, modelled as its bin and decoded back. Equal-width bins
decoded at their middle (smartnoise's BinTransformer, kept as the "equal-width" binning) lose a column's real
shape: a money column that is 95% zeros comes back as its first bin's middle, a count of weeks as mid-points.
Here a column's bins depend only on what is declared public, so choosing them costs no privacy:
- its bounds: declared, or estimated with a DP mechanism, which spends epsilon (core/generate/dp.py);
- whether it holds integers (declared in the bounds file, or by SDV metadata's computer_representation): an
  integer range of at most `max_bins` values gets one bin per integer; a wider one, integer-aligned bins;
- point masses ("atoms", e.g. 0 for a money column), each in a bin of its own;
- its scale: "linear" (equal-width bins) or "log" (geometric bins, for heavy tails);
- or the bin edges themselves.
Decoding is post-processing by a fixed rule (`DECODE_RULE`), seeded by the generation's seed.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, replace

import numpy as np

from core.errors import InputError

SCALES = ("linear", "log")
DECLARATION_KEYS = ("bounds", "integer", "atoms", "scale", "edges", "bins")
# A log scale needs a positive start: integers start at 1; real values at this fraction of the upper bound,
# with one linear bin from the lower bound up to it.
LOG_START_FRACTION = 1e-4
DECODE_RULE = ("an atom decodes to itself; an integer bin holding one integer to that integer; any other integer "
               "bin to an integer drawn uniformly from the integers it holds (log-uniformly on a log scale, atoms "
               "excluded); a bin of real values to a value drawn uniformly within it (log-uniformly on a log "
               "scale); the draws are seeded by the generation's seed and read nothing from the data")


@dataclass(frozen=True)
class BinDeclaration:
    """What is declared public about a numeric column besides its bounds (each None/empty: not declared)."""

    integer: bool | None = None
    atoms: tuple[float, ...] = ()
    scale: str | None = None
    edges: tuple[float, ...] | None = None
    bins: int | None = None
    integer_source: str = "declared in the bounds file"

    @property
    def declares_shape(self) -> bool:
        """Whether anything beyond bounds is declared."""
        return bool(self.integer) or bool(self.atoms) or self.scale is not None or self.edges is not None \
            or self.bins is not None

    def to_dict(self) -> dict:
        """JSON form, only the declared keys."""
        out: dict = {}
        if self.integer is not None:
            out["integer"] = self.integer
        if self.atoms:
            out["atoms"] = list(self.atoms)
        if self.scale is not None:
            out["scale"] = self.scale
        if self.edges is not None:
            out["edges"] = list(self.edges)
        if self.bins is not None:
            out["bins"] = self.bins
        return out


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_declarations(raw, source: str) -> tuple[dict[str, tuple[float, float]], dict[str, BinDeclaration]]:
    """Public bounds and binning declarations from a bounds file's JSON: {column: [lower, upper]} or
    {column: {"bounds": [lower, upper], "integer": true, "atoms": [0], "scale": "log", "edges": [...], "bins": n}};
    a bad entry raises InputError naming the file and column."""
    if not isinstance(raw, dict):
        raise InputError("bounds must be a JSON object {column: [lower, upper] or {\"bounds\": [lower, upper], "
                         "...}}", path=source)
    bounds: dict[str, tuple[float, float]] = {}
    declarations: dict[str, BinDeclaration] = {}
    for column, spec in raw.items():
        def bad(problem: str):
            return InputError(problem, path=source, column=str(column))

        if isinstance(spec, list):
            spec = {"bounds": spec}
        if not isinstance(spec, dict):
            raise bad(f"must be [lower, upper] or an object with keys {', '.join(DECLARATION_KEYS)}, not {spec!r}")
        unknown = sorted(set(spec) - set(DECLARATION_KEYS))
        if unknown:
            raise bad(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(DECLARATION_KEYS)}")
        pair = spec.get("bounds")
        if pair is not None:
            if not (isinstance(pair, list) and len(pair) == 2 and all(_number(v) for v in pair)):
                raise bad(f"bounds must be [lower, upper], two numbers, not {pair!r}")
            bounds[str(column)] = (float(pair[0]), float(pair[1]))
        integer = spec.get("integer")
        if integer is not None and not isinstance(integer, bool):
            raise bad(f"integer must be true or false, not {integer!r}")
        atoms = spec.get("atoms", [])
        if not (isinstance(atoms, list) and all(_number(v) for v in atoms)):
            raise bad(f"atoms must be a list of numbers, not {atoms!r}")
        scale = spec.get("scale")
        if scale is not None and scale not in SCALES:
            raise bad(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
        edges = spec.get("edges")
        if edges is not None:
            if not (isinstance(edges, list) and len(edges) >= 2 and all(_number(v) for v in edges)
                    and all(a < b for a, b in zip(edges, edges[1:]))):
                raise bad(f"edges must be at least two increasing numbers, not {edges!r}")
            if pair is not None and (edges[0] < pair[0] or edges[-1] > pair[1]):
                raise bad(f"edges {edges[0]:g} to {edges[-1]:g} reach outside the bounds {pair[0]:g} to {pair[1]:g}")
            bounds.setdefault(str(column), (float(edges[0]), float(edges[-1])))
        count = spec.get("bins")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise bad(f"bins must be a whole number >= 1, not {count!r}")
        declaration = BinDeclaration(integer=integer, atoms=tuple(sorted({float(a) for a in atoms})), scale=scale,
                                     edges=None if edges is None else tuple(float(e) for e in edges), bins=count)
        if declaration.declares_shape or integer is not None:
            declarations[str(column)] = declaration
    return bounds, declarations


def check_declaration(column: str, declaration: BinDeclaration, bounds: tuple[float, float] | None,
                      max_bins: int) -> str | None:
    """The problem with a column's declaration under its bounds (None when it is usable)."""
    if bounds is not None:
        low, high = bounds
        outside = [a for a in declaration.atoms if not low <= a <= high]
        if outside:
            return f"atoms {', '.join(f'{a:g}' for a in outside)} lie outside the bounds {low:g} to {high:g}"
        if declaration.scale == "log" and low < 0:
            return f"a log scale needs a lower bound >= 0, not {low:g}"
    if declaration.integer and any(a != math.floor(a) for a in declaration.atoms):
        return "an integer column's atoms must be integers"
    count = (len(declaration.edges) - 1) if declaration.edges is not None else declaration.bins
    if count is not None and count + len(declaration.atoms) > max_bins:
        return f"{count + len(declaration.atoms)} bins exceed the policy's [privacy] dp_max_bins = {max_bins}"
    return None


@dataclass(frozen=True)
class Binning:
    """A column's bins: its atoms first, then intervals; an integer interval holds the integers low..high, a real
    one the values [low, high) (the last includes high). `log` marks intervals decoded on a log scale."""

    lower: float
    upper: float
    atoms: tuple[float, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    log: tuple[bool, ...]
    integer: bool
    rule: str  # how the edges were chosen, for the manifest

    @property
    def size(self) -> int:
        """Number of bins (the column's domain size in the model)."""
        return len(self.atoms) + len(self.lows)

    def code(self, value: float) -> int:
        """The bin of one value (values outside the bounds go to the nearest end)."""
        if self.integer:
            value = float(math.floor(value + 0.5))
        ends = (min(self.lower, *self.atoms), max(self.upper, *self.atoms)) if self.atoms else (self.lower, self.upper)
        value = min(max(value, ends[0]), ends[1])
        if value in self.atoms:
            return self.atoms.index(value)
        if not self.lows:  # every value the bounds allow is an atom: the nearest one
            return int(np.argmin([abs(a - value) for a in self.atoms]))
        return len(self.atoms) + max(0, min(len(self.lows) - 1, bisect_right(self.lows, value) - 1))

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Bins of an array of values (no missing values)."""
        return np.array([self.code(float(v)) for v in values], dtype=int)

    def value(self, code: int, u: float) -> float:
        """Decode one bin with a uniform draw u in [0, 1) (DECODE_RULE)."""
        atoms = len(self.atoms)
        if code < atoms:
            return self.atoms[code]
        j = code - atoms
        low, high = self.lows[j], self.highs[j]
        if self.integer:
            if self.log[j]:
                drawn = math.floor(math.exp(math.log(low) + u * (math.log(high + 1) - math.log(low))))
            else:
                drawn = low + math.floor(u * (high - low + 1))
            return float(min(max(drawn, low), high))
        if self.log[j]:
            return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        return low + u * (high - low)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Values for an array of bins, each drawn by DECODE_RULE."""
        draws = rng.random(len(codes))
        return np.array([self.value(int(c), float(u)) for c, u in zip(codes, draws)], dtype=float)

    def describe(self) -> dict:
        """The manifest's account of these bins."""
        kinds = sorted({"log" if flag else "linear" for flag in self.log})
        return {"binning": self.rule, "bins": self.size, "integer": self.integer, "atoms": list(self.atoms),
                "scale": " and ".join(kinds) if kinds else "atoms only",
                "decode": "integer bins to their integer or a uniform integer within; real bins uniform within"
                          if self.integer else "uniform within the bin (log-uniform on a log scale)"}


def _split_around_atoms(ranges: list[tuple[int, int, bool]], atoms: tuple[float, ...]) -> list[tuple[int, int, bool]]:
    """Integer ranges with every atom taken out (a range an atom splits becomes two; empty ranges dropped)."""
    out = []
    for low, high, log in ranges:
        start = low
        for atom in sorted(a for a in atoms if low <= a <= high):
            if start <= atom - 1:
                out.append((start, int(atom) - 1, log))
            start = int(atom) + 1
        if start <= high:
            out.append((start, high, log))
    return out


def _integer_ranges(starts: list[int], high: int, log: bool) -> list[tuple[int, int, bool]]:
    """Ranges [starts[i], starts[i+1] - 1], the last up to high (starts de-duplicated, increasing)."""
    starts = sorted(set(starts))
    return [(s, (starts[i + 1] - 1) if i + 1 < len(starts) else high, log) for i, s in enumerate(starts)]


def plan_binning(lower: float, upper: float, declaration: BinDeclaration | None, bins: int, max_bins: int) -> Binning:
    """A column's bins from its (public or DP-estimated) bounds and its declaration; nothing else is read."""
    declaration = declaration or BinDeclaration()
    integer = bool(declaration.integer)
    atoms = tuple(sorted(set(declaration.atoms)))
    count = declaration.bins or bins
    log_scale = declaration.scale == "log"
    if integer:
        low, high = int(math.ceil(lower)), int(math.floor(upper))
        if declaration.edges is not None:
            edges = [int(math.ceil(e)) for e in declaration.edges]
            ranges, rule = _integer_ranges(edges[:-1], high, False), "declared edges"
        elif not log_scale and declaration.bins is None and high - low + 1 <= max_bins:
            ranges, rule = [(v, v, False) for v in range(low, high + 1)], "one bin per integer"
        elif log_scale:
            start = max(low, 1)
            below = [(low, start - 1, False)] if low < start else []
            geometric = np.geomspace(start, high + 1, count + 1)[:-1]
            ranges = below + _integer_ranges([int(math.floor(g)) for g in geometric], high, True)
            rule = f"log-scale integer bins from {start}"
        else:
            ranges = _integer_ranges([int(math.floor(g)) for g in np.linspace(low, high + 1, count + 1)[:-1]], high,
                                     False)
            rule = "equal-width integer-aligned bins"
        ranges = _split_around_atoms(ranges, atoms)
        lows, highs, logs = ([float(r[0]) for r in ranges], [float(r[1]) for r in ranges], [r[2] for r in ranges])
    else:
        if declaration.edges is not None:
            edges, logs, rule = list(declaration.edges), [False] * (len(declaration.edges) - 1), "declared edges"
        elif log_scale:
            start = lower if lower > 0 else upper * LOG_START_FRACTION
            geometric = list(np.geomspace(start, upper, count + 1))
            edges = ([lower] if lower < start else []) + geometric
            logs = ([False] if lower < start else []) + [True] * count
            rule = f"log-scale bins from {start:g}"
        else:
            edges, logs, rule = list(np.linspace(lower, upper, count + 1)), [False] * count, "equal-width bins"
        lows, highs = [float(e) for e in edges[:-1]], [float(e) for e in edges[1:]]
    if atoms:
        rule += ", each atom a bin of its own"
    return Binning(float(lower), float(upper), atoms, tuple(lows), tuple(highs), tuple(logs), integer, rule)


def with_integer_representations(declarations: dict[str, BinDeclaration], representations: dict[str, str],
                                 source: str) -> dict[str, BinDeclaration]:
    """Declarations plus integer-ness from SDV metadata's computer_representation where the bounds file does not
    say (the bounds file wins)."""
    out = dict(declarations)
    for column, representation in representations.items():
        declared = out.get(column, BinDeclaration())
        if declared.integer is None:
            out[column] = replace(declared, integer=True,
                                  integer_source=f"computer_representation {representation} in {source}")
    return out
