"""Loading real, synthetic and holdout tables from CSV or Parquet, each identified by its content hash."""
from __future__ import annotations

import hashlib
import io as _io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.data.metadata import check_schemas, coerce_to_metadata, resolve_metadata

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
MIN_ROWS = 2


@dataclass
class LoadedTable:
    """A table read from a file, with what identifies it and what was noticed on the way in."""

    path: str
    frame: pd.DataFrame
    sha256: str
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.frame)

    @property
    def columns(self) -> int:
        """Number of columns."""
        return self.frame.shape[1]

    def identity(self) -> dict:
        """The contract's input record: path, rows, columns, sha256."""
        return {"path": self.path, "rows": self.rows, "columns": self.columns, "sha256": self.sha256}


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def sha256_frame(frame: pd.DataFrame) -> str:
    """Hex sha256 of a table's canonical CSV form (columns in order, no index)."""
    return sha256_bytes(frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))


def load_table(path: str | Path, *, data: bytes | None = None) -> LoadedTable:
    """Read a CSV or Parquet file (or its bytes, for uploads) and check it is a usable table."""
    name = str(path)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"unsupported file type '{suffix or '(none)'}'; use .csv or .parquet", path=name)
    if data is None:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InputError("file not found", path=name) from None
        except IsADirectoryError:
            raise InputError("is a folder, not a file", path=name) from None
    if not data.strip():
        raise InputError("file is empty", path=name)
    frame = _read_parquet(data, name) if suffix in (".parquet", ".pq") else _read_csv(data, name)
    table = LoadedTable(path=name, frame=frame, sha256=sha256_bytes(data))
    _check_table(table)
    return table


def table_from_frame(frame: pd.DataFrame, name: str) -> LoadedTable:
    """Wrap an in-memory table (demo, generated) so it looks like a loaded file."""
    table = LoadedTable(path=name, frame=frame.reset_index(drop=True), sha256=sha256_frame(frame))
    _check_table(table)
    return table


def _read_csv(data: bytes, name: str) -> pd.DataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); save it as UTF-8", path=name
        ) from None
    try:
        return pd.read_csv(_io.StringIO(text), low_memory=False)
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", path=name) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"is not a well-formed CSV ({str(exc).strip()})", path=name) from None


def _read_parquet(data: bytes, name: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(_io.BytesIO(data))
    except Exception as exc:  # pyarrow raises many types for a bad file; all mean the same to a user
        raise InputError(f"is not a readable Parquet file ({type(exc).__name__}: {exc})", path=name) from None


def _check_table(table: LoadedTable) -> None:
    frame, name = table.frame, table.path
    if frame.shape[1] == 0:
        raise InputError("has no columns", path=name)
    if len(frame) == 0:
        raise InputError("has a header but no rows", path=name)
    if len(frame) < MIN_ROWS:
        raise InputError(f"has {len(frame)} row; at least {MIN_ROWS} are needed to compare distributions", path=name)
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed:
        raise InputError(f"has {len(unnamed)} column(s) with an empty header", path=name, column=str(unnamed[0]))
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_float_dtype(series):
            infinite = np.isinf(series.to_numpy())
            if infinite.any():
                frame[column] = series.where(~infinite)
                table.warnings.append(
                    f"file {name}, column '{column}': {int(infinite.sum())} infinite value(s) treated as missing"
                )
        elif series.dtype == object:
            table.warnings.extend(_mixed_type_warning(series, name, column))
        if series.isna().all():
            table.warnings.append(f"file {name}, column '{column}': every value is missing")


def _mixed_type_warning(series: pd.Series, name: str, column: str) -> list[str]:
    present = series.dropna()
    if present.empty:
        return []
    numeric = pd.to_numeric(present, errors="coerce")
    share = float(numeric.notna().mean())
    if 0.5 <= share < 1.0:
        bad = present[numeric.isna()]
        return [
            f"file {name}, column '{column}': mixed types, {share:.0%} numbers but {len(bad)} value(s) are not "
            f"(e.g. {str(bad.iloc[0])!r}); the column is treated as categorical"
        ]
    return []


@dataclass
class PreparedInputs:
    """Real (training), synthetic and optional holdout tables checked against one schema and coerced."""

    tables: dict[str, LoadedTable]  # role -> the table as loaded
    frames: dict[str, pd.DataFrame]  # role -> columns coerced to their sdtype
    metadata: dict[str, str]
    warnings: list[str] = field(default_factory=list)

    def identities(self) -> dict:
        """The contract's "inputs" section."""
        return {role: (self.tables[role].identity() if role in self.tables else None)
                for role in ("real", "synthetic", "holdout")}


def prepare_inputs(
    real: LoadedTable, synthetic: LoadedTable, holdout: LoadedTable | None = None,
    overrides: dict[str, str] | None = None, metadata_path: str | None = None,
) -> PreparedInputs:
    """Check the schemas agree, settle column sdtypes (detected, then overridden) and coerce every table."""
    tables = {"real": real, "synthetic": synthetic}
    if holdout is not None:
        tables["holdout"] = holdout
    check_schemas({role: (t.path, t.frame) for role, t in tables.items()})
    metadata = resolve_metadata(real.frame, overrides, metadata_path)
    frames = {role: coerce_to_metadata(t.frame[list(real.frame.columns)], metadata, t.path)
              for role, t in tables.items()}
    warnings = [w for t in tables.values() for w in t.warnings]
    return PreparedInputs(tables, frames, metadata, warnings)
