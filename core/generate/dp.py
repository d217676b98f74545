"""Differentially private generation with smartnoise-synth's MST and AIM, fitted on the training part only.

What the privacy guarantee covers is written into the manifest, column by column:
- numeric and datetime columns are binned between bounds; bounds the user declares as public cost no
  privacy, bounds taken from the private data are estimated with a DP mechanism (smartnoise's approx_bounds)
  and spend part of the budget (`bounds_epsilon_share`, subtracted from the training epsilon); the bins follow
  what is declared public about each column (integer-ness, point masses, scale, edges: core/generate/bins.py)
  and the manifest says, column by column, where its bins came from and how a bin is decoded;
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
from core.generate.bins import DECODE_RULE, BinDeclaration, check_declaration

DP_METHODS = ("MST", "AIM", "DPCTGAN")
GAN_METHODS = ("DPCTGAN",)
REFUSED_METHODS = {  # asked for by name, refused with the reason (details: core/generate/dpgan.py)
    "PATECTGAN": "PATECTGAN is not offered: smartnoise-synth 1.0.8 trains all its teachers and its student as one "
                 "shared discriminator (snsynth/pytorch/nn/patectgan.py lines 252-255), so its PATE privacy bound, "
                 "which assumes one teacher per disjoint partition, does not hold; use DPCTGAN, MST or AIM",
}
DEFAULT_BINS = 16
# "declared": bins from what is declared public about each column (core/generate/bins.py); "equal-width":
# smartnoise's BinTransformer for every number (equal-width bins between the bounds, decoded at the middle).
BINNINGS = ("declared", "equal-width")
# One bin per integer up to this many values (the policy's [privacy] dp_max_bins), integer-aligned bins beyond.
# Not more: MST and AIM fit their model to the noisy counts by least squares, and in a large sparse two-way
# table the positive noise of the empty cells draws mass to the rows with many empty cells. On the demo at
# epsilon 10, age in 101 one-year bins came back with 8% too many children (column shape 0.977 against a floor
# of 0.981); in 16 bins, 0.988 (benchmarks/dp_sweep.py --compare-binning).
DEFAULT_MAX_BINS = 64
DEFAULT_BOUNDS_SHARE = 0.1  # of epsilon, spent estimating bounds not declared public
DEFAULT_CATEGORY_SHARE = 0.1  # of epsilon, DP-CTGAN only: its sampler's category frequencies
# DP-CTGAN's time grows with the rows (batches an epoch) and, at a fixed epsilon, with the epochs it affords:
# 16,000 rows at epsilon 1 train 14 epochs in about 3 minutes here; 20,000 rows at the 30-epoch cap, 7.
DEFAULT_GAN_MAX_ROWS = 20_000


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
    binning: str = "declared"
    declarations: dict[str, BinDeclaration] = field(default_factory=dict)  # integer-ness, atoms, scale, edges
    max_bins: int = DEFAULT_MAX_BINS
    iters: int = 1000  # the final estimate (post-processing: no privacy cost); smartnoise's MST uses 5,000
    # AIM's planned rounds: any count keeps the guarantee (the zCDP budget is split over them, and AIM ends
    # early once it is spent); None is AIM's default of 16 x the columns.
    aim_rounds: int | None = None
    aim_round_iters: int = 250  # each round's estimate, warm-started from the last (smartnoise: 1,000 from zero)
    # DP-CTGAN (smartnoise's defaults but epochs): epochs are capped to what the training epsilon affords
    epochs: int = 30
    batch_size: int = 500
    sigma: float = 5.0  # DP-SGD noise multiplier
    category_epsilon_share: float = DEFAULT_CATEGORY_SHARE
    gan_max_rows: int = DEFAULT_GAN_MAX_ROWS  # the policy's [privacy] dpctgan_max_rows

    def check(self, metadata: Metadata) -> None:
        """Raise UsageError naming the setting that cannot work."""
        if self.method in REFUSED_METHODS:
            raise UsageError(REFUSED_METHODS[self.method])
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
        if self.epochs < 1 or self.batch_size < 2 or self.batch_size % 2:
            raise UsageError(f"DP-CTGAN needs epochs >= 1 and an even batch size >= 2, not {self.epochs!r} and "
                             f"{self.batch_size!r}")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise UsageError(f"DP-CTGAN's noise multiplier sigma must be a positive number, not {self.sigma!r}")
        if not 0 < self.category_epsilon_share < 1:
            raise UsageError(f"category_epsilon_share must be in (0, 1), not {self.category_epsilon_share!r}")
        if not 2 <= self.max_bins <= 4096:
            raise UsageError(f"the policy's [privacy] dp_max_bins must be between 2 and 4096, not {self.max_bins!r}")
        if not 2 <= self.bins <= min(256, self.max_bins):
            raise UsageError(f"bins must be between 2 and {min(256, self.max_bins)}, not {self.bins!r}")
        if self.binning not in BINNINGS:
            raise UsageError(f"binning must be one of {', '.join(BINNINGS)}, not {self.binning!r}")
        if not 0 < self.bounds_epsilon_share < 1:
            raise UsageError(f"bounds_epsilon_share must be in (0, 1), not {self.bounds_epsilon_share!r}")
        for column, bounds in self.public_bounds.items():
            if column not in metadata:
                raise UsageError(f"public bounds name column {column!r}, which the table does not have")
            low, high = bounds
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise UsageError(f"public bounds of column {column!r} must be two finite numbers, lower < upper")
        for column, declaration in self.declarations.items():
            if column not in metadata:
                raise UsageError(f"the binning declaration names column {column!r}, which the table does not have")
            problem = check_declaration(column, declaration, self.public_bounds.get(column), self.max_bins)
            if problem:
                raise UsageError(f"column {column!r}: {problem}")


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


def _numeric_transformer(settings: DPSettings, column: str, bounds: tuple[float, float] | None, nullable: bool,
                         seed: list[int]):
    """A numeric column's transformer and its manifest entry: binned for MST/AIM (declared bins, or equal-width
    when asked), scaled to [-1, 1] for DP-CTGAN; bounds public or not."""
    from snsynth.transform import BinTransformer, MinMaxTransformer

    low, high = bounds if bounds is not None else (None, None)
    if settings.method in GAN_METHODS:
        return MinMaxTransformer(lower=low, upper=high, nullable=nullable), {"kind": "scaled to [-1, 1]"}
    if settings.binning == "equal-width":
        return (BinTransformer(bins=settings.bins, lower=low, upper=high, nullable=nullable),
                {"kind": "binned", "bins": settings.bins, "binning": "equal-width bins",
                 "binning_source": "asked for (binning equal-width: smartnoise's BinTransformer; declarations "
                                   "not used)", "decode": "the bin's middle"})
    from core.generate.bin_transformer import DeclaredBinTransformer

    declaration = settings.declarations.get(column)
    source = (f"declared public ({_declared_text(declaration)})" if declaration is not None else
              "nothing declared beyond the bounds: equal-width bins")
    transformer = DeclaredBinTransformer(declaration=declaration, bins=settings.bins, max_bins=settings.max_bins,
                                         lower=low, upper=high, nullable=nullable, seed=seed)
    return transformer, {"kind": "binned", "binning_source": source}


def _declared_text(declaration: BinDeclaration) -> str:
    """A declaration in words, with where its integer-ness came from."""
    parts = []
    if declaration.integer is not None:
        parts.append(("integer" if declaration.integer else "not integer") + f" ({declaration.integer_source})")
    if declaration.atoms:
        parts.append("atoms " + ", ".join(f"{a:g}" for a in declaration.atoms))
    if declaration.scale:
        parts.append(f"{declaration.scale} scale")
    if declaration.edges is not None:
        parts.append(f"{len(declaration.edges) - 1} declared edges")
    if declaration.bins is not None:
        parts.append(f"{declaration.bins} bins")
    return "; ".join(parts) or "nothing"


def _transformers(train: pd.DataFrame, metadata: Metadata, settings: DPSettings, seed: int = 0):
    """smartnoise column transformers and the manifest's account of where each column's domain came from."""
    from snsynth.transform import ChainTransformer, LabelTransformer, OneHotEncoder

    transformers, domain, modelled = {}, {}, []
    for index, (column, sdtype) in enumerate(metadata.items()):
        if column not in train.columns:
            continue
        if sdtype in ("numerical", "datetime"):
            nullable = bool(train[column].isna().any())
            bounds = settings.public_bounds.get(column)
            if bounds is not None:
                bounds = tuple(float(v) for v in bounds)
            transformers[column], domain[column] = _numeric_transformer(settings, column, bounds, nullable,
                                                                        [seed, index])
            domain[column].update({"bounds": list(bounds), "bounds_source": "declared public (no privacy spent)"}
                                  if bounds is not None else
                                  {"bounds_source": "estimated from the private data with a DP mechanism "
                                                    "(spends privacy budget)"})
            modelled.append(column)
        elif sdtype in ("categorical", "boolean"):
            # Missing as a value only where training has it (as for numbers): noise cannot invent gaps then.
            nullable = bool(train[column].isna().any())
            transformers[column] = (ChainTransformer([LabelTransformer(nullable=nullable), OneHotEncoder()])
                                    if settings.method in GAN_METHODS else LabelTransformer(nullable=nullable))
            source = ("declared public" if column in settings.public_categories else
                      "read from the private training data (not covered by epsilon)")
            domain[column] = {"kind": "categories" + (", one-hot" if settings.method in GAN_METHODS else ""),
                              "categories_source": source}
            modelled.append(column)
        else:
            domain[column] = {"kind": "not modelled",
                              "reason": f"{sdtype} column: ids re-issued as surrogates, text left empty"}
        if sdtype not in ("numerical", "datetime") and (column in settings.public_bounds
                                                        or column in settings.declarations):
            domain[column]["declared_bounds_not_used"] = (f"the column is {sdtype}: bounds and bins apply to numerical "
                                                          "and datetime columns")
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


def rounding(train: pd.DataFrame, metadata: Metadata, settings: DPSettings) -> dict[str, str]:
    """Numeric columns whose sampled values are rounded to whole numbers, with the reason (for the manifest)."""
    out = {}
    for column, sdtype in metadata.items():
        if sdtype != "numerical" or column not in train.columns:
            continue
        declaration = settings.declarations.get(column)
        if declaration is not None and declaration.integer is not None:
            if declaration.integer:
                out[column] = f"declared integer ({declaration.integer_source})"
        elif pd.api.types.is_integer_dtype(train[column].dropna()) or (train[column].dropna() % 1 == 0).all():
            out[column] = ("the training column holds only whole numbers (read from the data, not covered by "
                           "epsilon; declare \"integer\" in the bounds file to make it public)")
    return out


def _restore(sampled: pd.DataFrame, train: pd.DataFrame, metadata: Metadata,
             rounded: dict[str, str] | None = None) -> pd.DataFrame:
    """Sampled rows back in the training table's columns and types (ids re-issued, text empty); numbers in
    `rounded` (default: `rounding` under the default settings) rounded to whole numbers."""
    if rounded is None:
        rounded = rounding(train, metadata, DPSettings())
    rows = len(sampled)
    out = {}
    for column, sdtype in metadata.items():
        if column not in train.columns:
            continue
        if column in sampled.columns:
            values = sampled[column]
            if sdtype == "datetime":
                numbers = pd.to_numeric(values, errors="coerce").astype(float)
                out[column] = pd.to_datetime(numbers, unit="ns", errors="coerce")
            elif sdtype == "numerical":
                numbers = pd.to_numeric(values, errors="coerce").astype(float)
                if column in rounded:
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
    """Fit MST, AIM or DP-CTGAN on the training rows with (epsilon, delta)-DP and sample `rows`; returns the
    table and its manifest (the DP account: what each part of epsilon was spent on)."""

    settings = settings or DPSettings()
    settings.check(metadata)
    report = progress or (lambda fraction, message: None)
    transformers, domain, modelled = _transformers(train, metadata, settings, seed)
    if not modelled:
        raise UsageError("no numerical, datetime, categorical or boolean column to generate with a DP synthesizer")
    if settings.method == "AIM" and settings.aim_rounds is not None and settings.aim_rounds < 2 * len(modelled):
        # Each one-way measurement takes one round's share of the budget before the rounds start.
        raise UsageError(f"AIM's rounds must be at least twice the {len(modelled)} modelled columns, "
                         f"not {settings.aim_rounds}")
    if settings.method in GAN_METHODS and len(train) > settings.gan_max_rows:
        raise UsageError(f"DP-CTGAN is limited to {settings.gan_max_rows:,} training rows ([privacy] dpctgan_max_rows "
                         f"in the policy; its time grows with the rows), not {len(train):,}: use MST or AIM, sample "
                         f"the training rows, or raise the limit")
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
        synthesizer, account = _synthesizer(settings, metadata, modelled, len(train), delta, bounds_epsilon, seed)
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
    rounded = rounding(train, metadata, settings)
    synthetic = _restore(sampled, train, metadata, rounded)
    for column in needs_bounds:
        transformer = transformers[column]
        domain[column].update({"bounds": [_finite(transformer.fit_lower), _finite(transformer.fit_upper)],
                               "epsilon_spent": bounds_epsilon / len(needs_bounds)})
        if "binning_source" in domain[column]:
            domain[column]["binning_source"] += "; built on the DP-estimated bounds"
    for column, transformer in transformers.items():
        binning = getattr(transformer, "binning", None)
        if binning is not None:
            domain[column].update(binning.describe())
        if column in rounded:
            domain[column]["rounded"] = rounded[column]
    private_categories = any(d.get("categories_source", "").startswith("read") for d in domain.values())
    rounded_from_data = [c for c, why in rounded.items() if why.startswith("the training")]
    parameters, account = account(synthesizer)
    training_epsilon = settings.epsilon - bounds_epsilon - account.get("epsilon_for_category_frequencies", 0.0)
    manifest = {
        "method": f"{settings.method}Synthesizer (smartnoise-synth)",
        "parameters": {"epsilon": settings.epsilon, "delta": delta, "bounds_epsilon_share": settings.bounds_epsilon_share,
                       **({} if settings.method in GAN_METHODS else
                          {"binning": settings.binning, "max_bins": settings.max_bins}),
                       **parameters},
        "differential_privacy": {
            "epsilon": settings.epsilon, "delta": delta,
            "epsilon_for_bounds": bounds_epsilon, **account, "epsilon_for_training": training_epsilon,
            "preprocessing": PREPROCESSING["gan" if settings.method in GAN_METHODS else settings.binning],
            **({} if settings.method in GAN_METHODS or settings.binning != "declared" else
               {"decode_rule": DECODE_RULE, "decode_seed": seed}),
            "columns": domain,
            "bounds_from_private_data": needs_bounds,
            "covered_by_epsilon": "the model fitted to the training rows and the bounds it estimated"
                                  + ("; the category frequencies its sampler uses" if settings.method in GAN_METHODS
                                     else "")
                                  + ("; not the category sets read from the data" if private_categories else "")
                                  + (f"; not that {', '.join(rounded_from_data)} hold only whole numbers (read "
                                     "from the data to round them)" if rounded_from_data else "")
                                  + "; not which columns have missing values (read from the training data)",
        },
        "seed": seed, "rows": int(rows),
        "seed_note": "the seed fixes selection and sampling; the measurement noise comes from OpenDP's secure "
                     "sampler and is not reproducible from it (by design)",
        "library_versions": {"smartnoise-synth": _version("smartnoise-synth"), "pandas": pd.__version__,
                             "numpy": np.__version__,
                             **({"opacus": _version("opacus"), "torch": _version("torch")}
                                if settings.method in GAN_METHODS else {})},
        "training_mix": {"real_rows": len(train), "synthetic_rows": 0},
        "seconds": {"fit": round(fitted - started, 2), "total": round(time.perf_counter() - started, 2)},
    }
    report(1.0, "Done")
    return synthetic, manifest


PREPROCESSING = {
    "declared": "numeric and datetime columns binned from what is declared public about each (bounds, integer-ness, "
                "atoms, scale, edges; equal-width bins where nothing more is declared) and decoded by the decode "
                "rule; categories label-encoded; missing as its own value where the training column has missing "
                "values",
    "equal-width": "numeric and datetime columns binned into equal-width bins between bounds and decoded at the "
                   "bin's middle; categories label-encoded, missing as its own value where the training column has "
                   "missing values",
    "gan": "numeric and datetime columns clipped to their bounds and scaled to [-1, 1] (with a missing flag where "
           "values are missing); categories label-encoded (missing as its own value where the training column has "
           "missing values), then one-hot",
}


def _synthesizer(settings: DPSettings, metadata: Metadata, modelled: list[str], rows: int, delta: float,
                 bounds_epsilon: float, seed: int):
    """The smartnoise synthesizer for the method, and a function of the fitted synthesizer returning its
    manifest parameters and DP account (what each part of epsilon was spent on)."""
    if settings.method == "MST":
        from core.generate.mst import FastMSTSynthesizer

        return (FastMSTSynthesizer(epsilon=float(settings.epsilon), delta=float(delta), iters=settings.iters),
                lambda fitted: ({"bins": settings.bins, "estimation_iterations": settings.iters}, {}))
    if settings.method == "AIM":
        from core.generate.aim import FastAIMSynthesizer, ledger_rho

        def aim_account(fitted):
            return ({"bins": settings.bins, "estimation_iterations": settings.iters,
                     "rounds": settings.aim_rounds or 16 * len(modelled), "rounds_run": fitted.rounds_run,
                     "round_estimation_iterations": settings.aim_round_iters,
                     "zcdp_rho": float(fitted.rho), "zcdp_rho_spent": ledger_rho(fitted.privacy_ledger)}, {})

        return (FastAIMSynthesizer(epsilon=float(settings.epsilon), delta=float(delta), rounds=settings.aim_rounds,
                                   round_iters=settings.aim_round_iters, final_iters=settings.iters), aim_account)
    return _dpctgan(settings, metadata, modelled, rows, delta, bounds_epsilon, seed)


def _dpctgan(settings: DPSettings, metadata: Metadata, modelled: list[str], rows: int, delta: float,
             bounds_epsilon: float, seed: int):
    """DP-CTGAN with noised category frequencies and its epochs capped to the training epsilon."""
    import torch

    from core.generate.dpgan import PrivateFrequencyDPCTGAN, dpsgd_epsilon, epochs_within

    has_categories = any(metadata[c] in ("categorical", "boolean") for c in modelled)
    category_epsilon = settings.epsilon * settings.category_epsilon_share if has_categories else 0.0
    training_epsilon = settings.epsilon - bounds_epsilon - category_epsilon
    epochs = epochs_within(training_epsilon, rows, settings.batch_size, settings.sigma, delta, settings.epochs)
    if epochs == 0:
        raise UsageError(
            f"DP-CTGAN cannot train one epoch within its training epsilon {training_epsilon:.3g} on {rows:,} rows "
            f"(batch {settings.batch_size}, noise multiplier {settings.sigma:g}): one epoch costs "
            f"{dpsgd_epsilon(rows, settings.batch_size, settings.sigma, 1, delta):.3g}; raise epsilon or sigma, or "
            f"lower the batch size")
    torch.manual_seed(seed)
    synthesizer = PrivateFrequencyDPCTGAN(
        category_epsilon=category_epsilon, epsilon=settings.epsilon - category_epsilon,
        delta=delta, epochs=epochs, batch_size=settings.batch_size, sigma=settings.sigma, verbose=False, cuda=False)

    def account(fitted):
        spent = dpsgd_epsilon(rows, settings.batch_size, settings.sigma, epochs, delta)
        return ({"epochs": settings.epochs, "epochs_run": epochs, "batch_size": settings.batch_size,
                 "noise_multiplier": settings.sigma, "max_grad_norm": fitted.max_per_sample_grad_norm,
                 "category_epsilon_share": settings.category_epsilon_share},
                {"epsilon_for_category_frequencies": fitted.category_epsilon_spent,
                 "epsilon_spent_by_training": spent,
                 "training_accountant": "opacus 0.14 RDP accountant as smartnoise's DPCTGAN uses it (sample rate "
                                        "batch/rows, two discriminator steps a batch); epochs capped in advance so "
                                        "it stays within the training epsilon"})

    return synthesizer, account


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
