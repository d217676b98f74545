"""Loading real, synthetic and holdout tables from CSV or Parquet, each identified by its content hash."""
from __future__ import annotations

import csv
import hashlib
import io as _io
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import BudgetError, InputError, PolicyError, SchemaError
from core.data.metadata import (CONTINUOUS_SDTYPES, DISCRETE_SDTYPES, check_schemas, coerce_to_metadata,
                                resolve_metadata)

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
MIN_ROWS = 2
# Reading a CSV into pandas peaks at about 10x the file's size (66 MB -> 685 MB measured; a 2 GB file reached 14.5 GB,
# issue 11), and a review holds real, synthetic and holdout at once: a file may be 1/32 of the memory.
MEMORY_PER_FILE_BYTE = 32
SNIFF_DELIMITERS = ",;\t|"
_PARQUET_MAGIC = b"PAR1"


def physical_memory_bytes() -> int:
    """This machine's physical memory (0 when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 0


def _default_max_file_bytes() -> int:
    memory = physical_memory_bytes()
    return memory // MEMORY_PER_FILE_BYTE if memory else 1_000_000_000


@dataclass(frozen=True)
class Budget:
    """What one review may cost, from the policy's [budget] section; beyond it inputs are refused or sampled."""

    max_file_bytes: int = field(default_factory=_default_max_file_bytes)  # larger files are refused
    max_columns: int = 1000  # wider tables are refused (type detection alone takes ~7 ms a column)
    max_pairs: int = 10_000  # more column pairs than this: a seeded sample of this many is scored
    seed: int = 0  # seed of the pair sample (the CLI's --seed replaces it)

    @classmethod
    def from_section(cls, section: dict | None) -> "Budget":
        """A budget from a [budget] TOML table; unknown keys and values below 1 are PolicyErrors."""
        section = dict(section or {})
        known = {f.name for f in fields(cls)}
        unknown = set(section) - known
        if unknown:
            raise PolicyError(f"[budget] has unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        for key, value in section.items():
            if isinstance(value, bool) or not isinstance(value, int) or (value < 1 and key != "seed") or value < 0:
                raise PolicyError(f"[budget] {key} must be a whole number >= {0 if key == 'seed' else 1}, not {value!r}")
        return cls(**section)

    def to_dict(self) -> dict:
        """The budget in effect, for the report."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _size_text(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} bytes"


@dataclass
class LoadedTable:
    """A table read from a file, with what identifies it and what was noticed on the way in."""

    path: str
    frame: pd.DataFrame
    sha256: str
    warnings: list[str] = field(default_factory=list)
    delimiter_hint: str | None = None  # a delimiter the file seems to use instead of ','

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


def load_table(path: str | Path, *, data: bytes | None = None, budget: Budget | None = None) -> LoadedTable:
    """Read a CSV or Parquet file (or its bytes, for uploads) and check it is a usable table within the budget."""
    name = str(path)
    budget = budget or Budget()
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"unsupported file type '{suffix or '(none)'}'; use .csv or .parquet", path=name)
    if data is None:
        try:
            size = Path(path).stat().st_size
        except FileNotFoundError:
            raise InputError("file not found", path=name) from None
        _check_file_size(size, name, budget)
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InputError("file not found", path=name) from None
        except IsADirectoryError:
            raise InputError("is a folder, not a file", path=name) from None
    _check_file_size(len(data), name, budget)
    if not data.strip():
        raise InputError("file is empty", path=name)
    delimiter_hint = None
    if suffix in (".parquet", ".pq"):
        frame = _read_parquet(data, name, budget)
    else:
        frame, delimiter_hint = _read_csv(data, name, budget)
    table = LoadedTable(path=name, frame=frame, sha256=sha256_bytes(data), delimiter_hint=delimiter_hint)
    _check_table(table)
    if delimiter_hint and frame.shape[1] == 1:
        table.warnings.append(f"file {name} looks '{_show(delimiter_hint)}'-delimited; it was read as comma-separated "
                              f"(one column); save it comma-separated")
    return table


def _check_file_size(size: int, name: str, budget: Budget) -> None:
    if size > budget.max_file_bytes:
        raise BudgetError(f"is {_size_text(size)}, over the budget of {_size_text(budget.max_file_bytes)} "
                          f"([budget] max_file_bytes; reading takes several times the file size in memory)", path=name)


def _check_column_count(count: int, name: str, budget: Budget) -> None:
    if count > budget.max_columns:
        raise BudgetError(f"has {count:,} columns, over the budget of {budget.max_columns:,} ([budget] max_columns in "
                          f"the policy); select the columns to review or raise the budget", path=name)


def _show(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def sniff_delimiter(text: str, lines: int = 20) -> str | None:
    """The delimiter csv.Sniffer finds on the first lines when it is not ',' and splits the header wider."""
    head = "\n".join(text.splitlines()[:lines])
    try:
        found = csv.Sniffer().sniff(head, delimiters=SNIFF_DELIMITERS).delimiter
    except csv.Error:
        return None
    if found == ",":
        return None
    header = head.splitlines()[0] if head else ""
    return found if header.count(found) > header.count(",") else None


def table_from_frame(frame: pd.DataFrame, name: str) -> LoadedTable:
    """Wrap an in-memory table (demo, generated) so it looks like a loaded file."""
    table = LoadedTable(path=name, frame=frame.reset_index(drop=True), sha256=sha256_frame(frame))
    _check_table(table)
    return table


def _read_csv(data: bytes, name: str, budget: Budget) -> tuple[pd.DataFrame, str | None]:
    if data.startswith(_PARQUET_MAGIC):
        raise InputError("is a Parquet file named .csv; rename it to .parquet", path=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); save it as UTF-8", path=name
        ) from None
    if "\x00" in text:
        raise InputError("holds NUL bytes, so it is not a text CSV (a binary file named .csv?)", path=name)
    try:
        header = next(csv.reader(_io.StringIO(text)), [])
    except csv.Error as exc:
        raise InputError(f"is not a well-formed CSV ({exc})", path=name) from None
    _check_column_count(len(header), name, budget)
    _refuse_duplicate_names([h for h in header], name)
    hint = sniff_delimiter(text)
    try:
        frame = pd.read_csv(_io.StringIO(text), low_memory=False)
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", path=name) from None
    except pd.errors.ParserError as exc:
        where = f"; it looks '{_show(hint)}'-delimited" if hint else ""
        raise InputError(f"is not a well-formed CSV ({' '.join(str(exc).split())}){where}", path=name) from None
    return frame, hint


def _read_parquet(data: bytes, name: str, budget: Budget) -> pd.DataFrame:
    if not data.startswith(_PARQUET_MAGIC):
        looks = "text (a CSV named .parquet?)" if _looks_like_text(data) else "not Parquet"
        raise InputError(f"is not a Parquet file: it is {looks}", path=name)
    try:
        import pyarrow.parquet as pq

        schema = pq.ParquetFile(_io.BytesIO(data)).schema_arrow
        _check_column_count(len(schema.names), name, budget)
        _refuse_duplicate_names(list(schema.names), name)
        return pd.read_parquet(_io.BytesIO(data))
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises many types for a bad file; all mean the same to a user
        text = " ".join(str(exc).split())
        raise InputError(f"is not a readable Parquet file ({type(exc).__name__}: {text})", path=name) from None


def _looks_like_text(data: bytes) -> bool:
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _refuse_duplicate_names(names: list, name: str) -> None:
    """InputError naming the first column name that occurs twice (pandas would silently rename it 'x.1')."""
    seen: dict[str, int] = {}
    for position, column in enumerate(str(c) for c in names):
        if column in seen and column.strip() != "":
            raise InputError(f"duplicate column name (columns {seen[column] + 1} and {position + 1}); "
                             f"rename one so each column has its own name", path=name, column=column)
        seen.setdefault(column, position)


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
    _refuse_duplicate_names(list(frame.columns), name)
    frame.columns = [str(c) for c in frame.columns]
    _refuse_unhashable(frame, name)
    for column in list(frame.columns):
        _normalize_odd_type(table, column)
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


def _normalize_odd_type(table: LoadedTable, column: str) -> None:
    """Durations, decimals and binary values (Parquet) become seconds, floats and hex text, with a warning."""
    frame, series = table.frame, table.frame[column]
    if pd.api.types.is_timedelta64_dtype(series):
        frame[column] = series.dt.total_seconds()
        table.warnings.append(f"file {table.path}, column '{column}': durations compared as seconds")
        return
    if series.dtype != object:
        return
    present = series.dropna()
    if not len(present):
        return
    import decimal

    first = present.iloc[0]
    if isinstance(first, decimal.Decimal):
        frame[column] = pd.to_numeric(series.map(lambda v: float(v) if isinstance(v, decimal.Decimal) else v),
                                      errors="coerce")
    elif isinstance(first, (bytes, bytearray)):
        frame[column] = series.map(lambda v: v.hex() if isinstance(v, (bytes, bytearray)) else v)
        table.warnings.append(f"file {table.path}, column '{column}': binary values compared as hex text")


def _refuse_unhashable(frame: pd.DataFrame, name: str) -> None:
    """Parquet lists, maps and structs cannot be compared as values: name the first such column."""
    for column in frame.columns:
        series = frame[column]
        if series.dtype != object:
            continue
        present = series.dropna()
        if len(present) and not isinstance(present.iloc[0], (str, bytes, int, float, bool, np.generic)):
            kind = type(present.iloc[0]).__name__
            if kind not in ("date", "datetime", "Timestamp", "Decimal", "time"):
                raise InputError(f"holds {kind} values (nested lists, maps or structs); flatten it to plain "
                                 f"numbers, dates or text", path=name, column=column)


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
    pairs: frozenset[tuple[str, str]] | None = None  # the seeded pair sample when over budget, else every pair
    budget: Budget = field(default_factory=Budget)

    def identities(self) -> dict:
        """The contract's "inputs" section."""
        return {role: (self.tables[role].identity() if role in self.tables else None)
                for role in ("real", "synthetic", "holdout")}


def prepare_inputs(
    real: LoadedTable, synthetic: LoadedTable, holdout: LoadedTable | None = None,
    overrides: dict[str, str] | None = None, metadata_path: str | None = None, budget: Budget | None = None,
) -> PreparedInputs:
    """Check the schemas agree, settle column sdtypes (detected, then overridden) and coerce every table.

    Refuses inputs in which no column can be compared, and samples column pairs beyond the budget.
    """
    budget = budget or Budget()
    tables = {"real": real, "synthetic": synthetic}
    if holdout is not None:
        tables["holdout"] = holdout
    for table in tables.values():
        _check_column_count(table.columns, table.path, budget)
    try:
        check_schemas({role: (t.path, t.frame) for role, t in tables.items()})
    except SchemaError as exc:
        raise SchemaError(f"{exc}{_delimiter_hints(tables.values())}") from None
    metadata = resolve_metadata(real.frame, overrides, metadata_path)
    frames = {role: coerce_to_metadata(t.frame[list(real.frame.columns)], metadata, t.path)
              for role, t in tables.items()}
    warnings = [w for t in tables.values() for w in t.warnings]
    comparable = comparable_columns(frames, metadata)
    if not comparable:
        hints = _delimiter_hints(tables.values())
        raise InputError(_nothing_comparable(metadata, frames, with_advice=not hints) + hints)
    pairs, note = sample_pairs(comparable, budget)
    if note:
        warnings.append(note)
    return PreparedInputs(tables, frames, metadata, warnings, pairs, budget)


def comparable_columns(frames: dict[str, pd.DataFrame], metadata: dict[str, str]) -> list[str]:
    """Columns with a compared sdtype that hold at least one value in the real and in the synthetic table."""
    return [c for c, sdtype in metadata.items() if sdtype in CONTINUOUS_SDTYPES + DISCRETE_SDTYPES
            and all(frames[role][c].notna().any() for role in ("real", "synthetic"))]


def _nothing_comparable(metadata: dict[str, str], frames: dict[str, pd.DataFrame], with_advice: bool = True) -> str:
    kinds = {}
    for column, sdtype in metadata.items():
        empty = [role for role in ("real", "synthetic") if not frames[role][column].notna().any()]
        kinds[column] = f"empty in {empty[0]}" if empty and sdtype not in ("id", "text") else sdtype
    shown = ", ".join(f"'{c}' ({k})" for c, k in list(kinds.items())[:5])
    more = f" and {len(kinds) - 5} more" if len(kinds) > 5 else ""
    advice = "; give --metadata to type them" if with_advice else ""
    return f"no column can be compared: every column is an id, free text or empty ({shown}{more}){advice}"


def _delimiter_hints(tables) -> str:
    hints = [f"file {t.path} looks '{_show(t.delimiter_hint)}'-delimited" for t in tables if t.delimiter_hint]
    return f"; {', '.join(hints)}: save it comma-separated" if hints else ""


def sample_pairs(columns: list[str], budget: Budget) -> tuple[frozenset[tuple[str, str]] | None, str | None]:
    """All pairs (None) within budget, else a seeded sample of max_pairs pairs and the note saying so."""
    k = len(columns)
    total = k * (k - 1) // 2
    if total <= budget.max_pairs:
        return None, None
    first, second = np.triu_indices(k, 1)
    chosen = np.random.default_rng(budget.seed).choice(total, size=budget.max_pairs, replace=False)
    pairs = frozenset((columns[first[i]], columns[second[i]]) for i in chosen)
    note = (f"{total:,} column pairs exceed the budget of {budget.max_pairs:,} ([budget] max_pairs): "
            f"a seeded sample (seed {budget.seed}) of {budget.max_pairs:,} pairs is scored")
    return pairs, note
