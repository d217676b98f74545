"""Column types (sdtypes): detection with SDV, overrides from a JSON file, and schema alignment."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError, SchemaError

SDTYPES = ("numerical", "categorical", "boolean", "datetime", "id", "text")
CONTINUOUS_SDTYPES = ("numerical", "datetime")
DISCRETE_SDTYPES = ("categorical", "boolean")

# SDV knows more sdtypes than the report contract; these are the ones it folds.
_SDV_TO_SDTYPE = {
    "numerical": "numerical",
    "categorical": "categorical",
    "ordinal": "categorical",
    "boolean": "boolean",
    "datetime": "datetime",
    "id": "id",
}

Metadata = dict[str, str]


def detect_metadata(frame: pd.DataFrame) -> Metadata:
    """Return {column: sdtype} for a table, as SDV's detector sees it, folded to the report's sdtypes."""
    from sdv.metadata import Metadata as SdvMetadata

    sample = frame if len(frame) <= 50_000 else frame.sample(50_000, random_state=0)
    try:
        columns = _sdv_columns(SdvMetadata, sample)
    except Exception:  # noqa: BLE001 - SDV refuses some valid columns (e.g. floats near 1e300); retry one by one
        columns = {}
        for name in sample.columns:
            try:
                columns.update(_sdv_columns(SdvMetadata, sample[[name]]))
            except Exception:  # noqa: BLE001
                columns[name] = {"sdtype": _fallback_sdtype(sample[name])}
    metadata: Metadata = {}
    for name in frame.columns:
        sdtype = _SDV_TO_SDTYPE.get(columns.get(name, {}).get("sdtype", "text"), "text")
        if sdtype == "id" and pd.api.types.is_float_dtype(frame[name]):
            sdtype = "numerical"
        metadata[name] = sdtype
    return metadata


def _sdv_columns(sdv_metadata: type, frame: pd.DataFrame) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detected = sdv_metadata.detect_from_dataframes({"table": frame})
    return detected.to_dict()["tables"]["table"]["columns"]


def _fallback_sdtype(series: pd.Series) -> str:
    """A column's sdtype from its dtype alone, for the columns SDV's detector rejects."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numerical"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    present = series.dropna()
    return "categorical" if present.nunique() <= max(10, 0.2 * len(present)) else "text"


def metadata_from_json(path: str | Path) -> Metadata:
    """Read column sdtypes from SDV's metadata JSON (single or multi table) or a flat {column: sdtype}."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("metadata file not found", path=str(path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"metadata is not valid JSON ({exc})", path=str(path)) from None
    return metadata_from_dict(raw, str(path))


def metadata_from_bytes(data: bytes, source: str) -> tuple[Metadata, dict]:
    """Column sdtypes of an uploaded metadata JSON file, and the parsed JSON (for its sequence keys)."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"metadata is not valid JSON ({exc})", path=source) from None
    return metadata_from_dict(raw, source), raw


def _column_specs(raw, source: str) -> dict:
    """The {column: spec} part of parsed SDV metadata (single table, or multi table with one table) or the dict."""
    if isinstance(raw, dict) and "tables" in raw:
        tables = raw["tables"]
        if not isinstance(tables, dict) or len(tables) != 1:
            raise InputError("metadata describes several tables; give one", path=source)
        raw = next(iter(tables.values()))
    if isinstance(raw, dict) and isinstance(raw.get("columns"), dict):
        raw = raw["columns"]
    if not isinstance(raw, dict):
        raise InputError("metadata must map column names to sdtypes", path=source)
    return raw


def integer_representations(raw, source: str) -> dict[str, str]:
    """Numerical columns whose SDV metadata declares an integer computer_representation (Int8 ... Int64,
    UInt...): {column: representation}. A declared representation is public, unlike the values' look."""
    out = {}
    for column, spec in _column_specs(raw, source).items():
        representation = spec.get("computer_representation") if isinstance(spec, dict) else None
        if isinstance(representation, str) and representation.lower().lstrip("u").startswith("int"):
            out[str(column)] = representation
    return out


def metadata_from_dict(raw, source: str) -> Metadata:
    """Column sdtypes from parsed SDV metadata (single table, or multi table with one table) or {column: sdtype}."""
    raw = _column_specs(raw, source)
    metadata: Metadata = {}
    for column, spec in raw.items():
        sdtype = spec.get("sdtype") if isinstance(spec, dict) else spec
        sdtype = _SDV_TO_SDTYPE.get(sdtype, sdtype) if sdtype != "text" else "text"
        if sdtype not in SDTYPES:
            raise InputError(
                f"sdtype '{sdtype}' is not one of {', '.join(SDTYPES)}", path=source, column=column
            )
        metadata[str(column)] = sdtype
    return metadata


def resolve_metadata(frame: pd.DataFrame, overrides: Metadata | None = None, path: str | None = None) -> Metadata:
    """Detect sdtypes for every column of the real table, then apply the user's overrides."""
    metadata = detect_metadata(frame)
    for column, sdtype in (overrides or {}).items():
        if column not in metadata:
            raise InputError("metadata names a column the real table does not have", path=path, column=column)
        metadata[column] = sdtype
    return metadata


def check_schemas(tables: dict[str, tuple[str, pd.DataFrame]]) -> None:
    """Raise SchemaError naming every column missing from, or extra in, a table compared with 'real'."""
    real_path, real = tables["real"]
    expected = list(real.columns)
    problems = []
    for role, (path, frame) in tables.items():
        if role == "real":
            continue
        missing = [c for c in expected if c not in frame.columns]
        extra = [c for c in frame.columns if c not in real.columns]
        if missing:
            problems.append(f"file {path} ({role}) lacks column(s) {', '.join(map(repr, missing))} that {real_path} has")
        if extra:
            problems.append(f"file {path} ({role}) has column(s) {', '.join(map(repr, extra))} that {real_path} lacks")
    if problems:
        raise SchemaError("; ".join(problems))


def coerce_to_metadata(frame: pd.DataFrame, metadata: Metadata, path: str) -> pd.DataFrame:
    """Return a copy whose columns hold the dtype their sdtype needs; a value that does not fit is an error."""
    out = {}
    for column, sdtype in metadata.items():
        series = frame[column]
        if sdtype == "numerical":
            out[column] = _as_numeric(series, path, column)
        elif sdtype == "datetime":
            out[column] = _as_datetime(series, path, column)
        elif sdtype in DISCRETE_SDTYPES:
            out[column] = _as_discrete(series)
        else:
            out[column] = series
    return pd.DataFrame(out, index=frame.index)


def _refuse_unparsed(raw: pd.Series, parsed: pd.Series, kind: str, path: str, column: str) -> None:
    """SchemaError naming the first value that did not parse as `kind`, and how many did not."""
    bad = parsed.isna() & raw.notna()
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise SchemaError(f"expected {kind} but found {int(bad.sum())} value(s) that are not, e.g. "
                          f"{str(raw.iloc[first])!r} in row {first + 1}", path=path, column=column)


def _as_numeric(series: pd.Series, path: str, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype(float)
    else:
        values = pd.to_numeric(series, errors="coerce")
        _refuse_unparsed(series, values, "numbers", path, column)
    return values.where(np.isfinite(values))


def _as_datetime(series: pd.Series, path: str, column: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = pd.to_datetime(series, errors="coerce", format="mixed")
        _refuse_unparsed(series, values, "dates", path, column)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[ns]")


def _as_discrete(series: pd.Series) -> pd.Series:
    # Integers read as float (because of a missing value on one side) must still match: 1 == 1.0.
    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        # Beyond 2**53 a float is not an exact integer (and 1e300 does not fit Int64): keep such floats.
        if len(whole) and bool((whole == np.round(whole)).all()) and bool((whole.abs() < 2**53).all()):
            return series.astype("Int64").astype(object).where(series.notna(), None)
    if series.dtype == object:
        return series  # already plain values; missing ones stay NaN or None, both read as missing
    return series.astype(object).where(series.notna(), None)
