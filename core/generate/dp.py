"""Differentially private generation with smartnoise-synth's MST and AIM, fitted on the training part only.

What the privacy guarantee covers is written into the manifest, column by column:
- numeric and datetime columns are binned between bounds; bounds the user declares as public cost no
  privacy, bounds taken from the private data are estimated with a DP mechanism (smartnoise's approx_bounds)
  and spend part of the budget (`bounds_epsilon_share`, subtracted from the training epsilon);
- category sets are read from the training data: smartnoise does not privatise them, so the manifest says
  that the list of categories itself is not covered unless declared public;
- id and text columns are not modelled: ids are re-issued as sequential surrogates and text is left empty.
"""
from __future__ import annotations

import contextlib
import io
import math
import random
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from core.data.metadata import Metadata
from core.errors import UsageError

DP_METHODS = ("MST", "AIM")
DEFAULT_BINS = 16
DEFAULT_BOUNDS_SHARE = 0.1  # of epsilon, spent estimating bounds not declared public


@dataclass(frozen=True)
class DPSettings:
    """What a DP generation is asked to do; every field goes into the manifest."""

    method: str = "MST"
    epsilon: float = 1.0
    delta: float | None = None  # None: 1 / (n * sqrt(n)), smartnoise's advice
    bins: int = DEFAULT_BINS
    bounds_epsilon_share: float = DEFAULT_BOUNDS_SHARE
    public_bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    public_categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    iters: int = 1000  # the final estimate (post-processing: no privacy cost); smartnoise's MST uses 5,000
    # AIM's planned rounds: any count keeps the guarantee (the zCDP budget is split over them, and AIM ends
    # early once it is spent); None is AIM's default of 16 x the columns.
    aim_rounds: int | None = None
    aim_round_iters: int = 250  # each round's estimate, warm-started from the last (smartnoise: 1,000 from zero)

    def check(self, metadata: Metadata) -> None:
        """Raise UsageError naming the setting that cannot work."""
        if self.method not in DP_METHODS:
            raise UsageError(f"DP method {self.method!r} is not one of {', '.join(DP_METHODS)}")
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise UsageError(f"epsilon must be a positive number, not {self.epsilon!r}")
        if self.delta is not None and not 0 <= self.delta < 1:
            raise UsageError(f"delta must be in [0, 1), not {self.delta!r}")
        if self.aim_rounds is not None and self.aim_rounds < 1:
            raise UsageError(f"AIM's rounds must be a positive number, not {self.aim_rounds!r}")
        if self.iters < 1 or self.aim_round_iters < 1:
            raise UsageError("estimation iterations must be positive numbers")
        if not 2 <= self.bins <= 256:
            raise UsageError(f"bins must be between 2 and 256, not {self.bins!r}")
        if not 0 < self.bounds_epsilon_share < 1:
            raise UsageError(f"bounds_epsilon_share must be in (0, 1), not {self.bounds_epsilon_share!r}")
        for column, bounds in self.public_bounds.items():
            if column not in metadata:
                raise UsageError(f"public bounds name column {column!r}, which the table does not have")
            low, high = bounds
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise UsageError(f"public bounds of column {column!r} must be two finite numbers, lower < upper")


def default_delta(rows: int) -> float:
    """smartnoise's advice for delta: 1 / (n * sqrt(n))."""
    return 1.0 / (max(rows, 2) * math.sqrt(max(rows, 2)))


def _as_numbers(values: pd.Series, sdtype: str) -> pd.Series:
    """Numeric view of a numeric or datetime column (datetimes as nanoseconds since the epoch)."""
    if sdtype == "datetime":
        stamps = pd.to_datetime(values, errors="coerce")
        numbers = stamps.astype("int64").astype(float)
        return numbers.where(stamps.notna())
    return pd.to_numeric(values, errors="coerce").astype(float)


def _transformers(train: pd.DataFrame, metadata: Metadata, settings: DPSettings):
    """smartnoise column transformers and the manifest's account of where each column's domain came from."""
    from snsynth.transform import BinTransformer, LabelTransformer

    transformers, domain, modelled = {}, {}, []
    for column, sdtype in metadata.items():
        if column not in train.columns:
            continue
        if sdtype in ("numerical", "datetime"):
            nullable = bool(train[column].isna().any())
            if column in settings.public_bounds:
                low, high = (float(v) for v in settings.public_bounds[column])
                transformers[column] = BinTransformer(bins=settings.bins, lower=low, upper=high, nullable=nullable)
                domain[column] = {"kind": "binned", "bins": settings.bins, "bounds": [low, high],
                                  "bounds_source": "declared public (no privacy spent)"}
            else:
                transformers[column] = BinTransformer(bins=settings.bins, nullable=nullable)
                domain[column] = {"kind": "binned", "bins": settings.bins,
                                  "bounds_source": "estimated from the private data with a DP mechanism "
                                                   "(spends privacy budget)"}
            modelled.append(column)
        elif sdtype in ("categorical", "boolean"):
            transformers[column] = LabelTransformer(nullable=True)
            source = ("declared public" if column in settings.public_categories else
                      "read from the private training data (not covered by epsilon)")
            domain[column] = {"kind": "categories", "categories_source": source}
            modelled.append(column)
        else:
            domain[column] = {"kind": "not modelled",
                              "reason": f"{sdtype} column: ids re-issued as surrogates, text left empty"}
    return transformers, domain, modelled


def _prepare(train: pd.DataFrame, metadata: Metadata, modelled: list[str]) -> pd.DataFrame:
    """The modelled columns as smartnoise expects them: numbers as floats, categories as strings or None."""
    out = {}
    for column in modelled:
        sdtype = metadata[column]
        if sdtype in ("numerical", "datetime"):
            out[column] = _as_numbers(train[column], sdtype)
        else:
            values = train[column].astype("string")
            out[column] = values.astype(object).where(values.notna(), None)
    return pd.DataFrame(out)


def _restore(sampled: pd.DataFrame, train: pd.DataFrame, metadata: Metadata) -> pd.DataFrame:
    """Sampled rows back in the training table's columns and types (ids re-issued, text empty)."""
    rows = len(sampled)
    out = {}
    for column, sdtype in metadata.items():
        if column not in train.columns:
            continue
        if column in sampled.columns:
            values = sampled[column]
            if sdtype == "datetime":
                numbers = pd.to_numeric(values, errors="coerce")
                out[column] = pd.to_datetime(numbers, unit="ns", errors="coerce")
            elif sdtype == "numerical":
                numbers = pd.to_numeric(values, errors="coerce")
                if pd.api.types.is_integer_dtype(train[column].dropna()) or (
                        train[column].dropna() % 1 == 0).all():
                    numbers = numbers.round()
                out[column] = numbers
            else:
                # categories were modelled as their text (_prepare): back to the training values they came from
                original = train[column].dropna().unique()
                text = pd.Series(original, dtype=object).astype("string")
                lookup = dict(zip(text, original))
                restored = values.astype(object).where(pd.notna(values), None)
                out[column] = restored.map(lambda v: None if v is None else lookup.get(str(v), v))
        elif sdtype == "id":
            out[column] = [f"dp-{i:07d}" for i in range(1, rows + 1)]
        else:
            out[column] = [None] * rows
    frame = pd.DataFrame(out)[[c for c in train.columns if c in out]]
    for column in frame.columns:  # integers stay integers where nothing is missing
        if pd.api.types.is_integer_dtype(train[column]) and frame[column].notna().all():
            frame[column] = frame[column].astype(train[column].dtype)
    return frame


def fit_and_sample_dp(train: pd.DataFrame, metadata: Metadata, rows: int, seed: int,
                      settings: DPSettings | None = None,
                      progress: Callable[[float, str], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """Fit MST or AIM on the training rows with (epsilon, delta)-DP and sample `rows`; returns table and manifest."""

    settings = settings or DPSettings()
    settings.check(metadata)
    report = progress or (lambda fraction, message: None)
    transformers, domain, modelled = _transformers(train, metadata, settings)
    if not modelled:
        raise UsageError("no numerical, datetime, categorical or boolean column to generate with a DP synthesizer")
    if settings.method == "AIM" and settings.aim_rounds is not None and settings.aim_rounds < 2 * len(modelled):
        # Each one-way measurement takes one round's share of the budget before the rounds start.
        raise UsageError(f"AIM's rounds must be at least twice the {len(modelled)} modelled columns, "
                         f"not {settings.aim_rounds}")
    data = _prepare(train, metadata, modelled)
    delta = default_delta(len(train)) if settings.delta is None else settings.delta
    needs_bounds = [c for c in modelled if metadata[c] in ("numerical", "datetime")
                    and c not in settings.public_bounds]
    bounds_epsilon = settings.epsilon * settings.bounds_epsilon_share if needs_bounds else 0.0
    random.seed(seed)
    np.random.seed(seed)
    report(0.05, f"Fitting {settings.method} at epsilon {settings.epsilon:g}")
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if settings.method == "MST":
            from core.generate.mst import FastMSTSynthesizer

            synthesizer = FastMSTSynthesizer(epsilon=float(settings.epsilon), delta=float(delta), iters=settings.iters)
        else:
            from core.generate.aim import FastAIMSynthesizer

            synthesizer = FastAIMSynthesizer(epsilon=float(settings.epsilon), delta=float(delta),
                                             rounds=settings.aim_rounds, round_iters=settings.aim_round_iters,
                                             final_iters=settings.iters)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # smartnoise prints its budget split
                synthesizer.fit(data, transformer=transformers, preprocessor_eps=bounds_epsilon)
        except ValueError as exc:
            if "could not find bounds" not in str(exc):
                raise
            failed = next((c for c in needs_bounds if getattr(transformers[c], "fit_lower", None) is None),
                          needs_bounds[0])
            raise UsageError(
                f"column {failed}: its bounds could not be estimated privately with epsilon "
                f"{bounds_epsilon / len(needs_bounds):.3g} from {len(train):,} rows; declare public bounds for it "
                f"(a range known without looking at the data)") from None
        fitted = time.perf_counter()
        report(0.85, "Sampling")
        sampled = synthesizer.sample(int(rows))
    if not isinstance(sampled, pd.DataFrame):
        sampled = pd.DataFrame(sampled, columns=modelled)
    synthetic = _restore(sampled, train, metadata)
    for column in needs_bounds:
        transformer = transformers[column]
        domain[column].update({"bounds": [_finite(transformer.fit_lower), _finite(transformer.fit_upper)],
                               "epsilon_spent": bounds_epsilon / len(needs_bounds)})
    private_categories = any(d.get("categories_source", "").startswith("read") for d in domain.values())
    manifest = {
        "method": f"{settings.method}Synthesizer (smartnoise-synth)",
        "parameters": {"epsilon": settings.epsilon, "delta": delta, "bins": settings.bins,
                       "bounds_epsilon_share": settings.bounds_epsilon_share,
                       "estimation_iterations": settings.iters,
                       **({} if settings.method == "MST" else _aim_parameters(synthesizer, settings, modelled))},
        "differential_privacy": {
            "epsilon": settings.epsilon, "delta": delta,
            "epsilon_for_bounds": bounds_epsilon, "epsilon_for_training": settings.epsilon - bounds_epsilon,
            "preprocessing": "numeric and datetime columns binned into equal-width bins between bounds; "
                             "categories label-encoded with missing as its own value",
            "columns": domain,
            "bounds_from_private_data": needs_bounds,
            "covered_by_epsilon": "the model fitted to the training rows and the bounds it estimated"
                                  + ("; not the category sets read from the data" if private_categories else ""),
        },
        "seed": seed, "rows": int(rows),
        "seed_note": "the seed fixes selection and sampling; the measurement noise comes from OpenDP's secure "
                     "sampler and is not reproducible from it (by design)",
        "library_versions": {"smartnoise-synth": _version("smartnoise-synth"), "pandas": pd.__version__,
                             "numpy": np.__version__},
        "training_mix": {"real_rows": len(train), "synthetic_rows": 0},
        "seconds": {"fit": round(fitted - started, 2), "total": round(time.perf_counter() - started, 2)},
    }
    report(1.0, "Done")
    return synthetic, manifest


def _aim_parameters(synthesizer, settings: DPSettings, modelled: list[str]) -> dict:
    """AIM's rounds as planned and as run, its per-round iterations and the zCDP budget its ledger adds up to."""
    from core.generate.aim import ledger_rho

    return {"rounds": settings.aim_rounds or 16 * len(modelled), "rounds_run": synthesizer.rounds_run,
            "round_estimation_iterations": settings.aim_round_iters,
            "zcdp_rho": float(synthesizer.rho), "zcdp_rho_spent": ledger_rho(synthesizer.privacy_ledger)}


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
