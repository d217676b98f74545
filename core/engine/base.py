"""The engine interface (issue 15) and its in-memory (pandas) and DuckDB implementations.

Aggregates (core/engine/aggregates.py) are written only against `Engine`, in the SQL subset that DuckDB and
Spark SQL both accept, so a new backend is just another Engine.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

    from core.engine.tally import Tally, TallyPlan

ENGINE_NAMES = ("pandas", "duckdb", "spark")


@runtime_checkable
class Engine(Protocol):
    """A SQL backend the aggregates run on; results are small frames."""

    name: str

    def register(self, table: str, source: str | Path | pd.DataFrame) -> None:
        """Expose a Parquet/CSV file or folder, or a frame, as view `table`."""
        ...

    def sql(self, query: str) -> pd.DataFrame:
        """Run one query in the shared dialect and return its (small) result."""
        ...

    def arrow(self, query: str) -> "pa.Table":
        """Run one query; its (small) result as an Arrow table, each column typed as the engine typed it."""
        ...

    def tally(self, query: str, plan: "TallyPlan") -> "Tally":
        """Stream the rows of `query` (a projection) through one Tally (core/engine/tally.py)."""
        ...

    # Optional: listing(url) -> [{"path", "size", "modified"}] for URLs the driver cannot open (DuckDB, Spark),
    # and distinct_rows(table, exprs) -> (rows, distinct rows) where rows do not stream here (Spark).

    def quote(self, identifier: str) -> str:
        """Quote a column or table name for this dialect."""
        ...

    def row_count(self, table: str) -> int:
        """Number of rows of a registered table."""
        ...

    def sample(self, table: str, rows: int, seed: int) -> pd.DataFrame:
        """A seeded sample of at most `rows` rows (for plots and row-level nulls)."""
        ...

    def close(self) -> None:
        """Release the backend's resources."""
        ...


def _read_ahead(reader: Any, depth: int = 2) -> Iterator[Any]:
    """The reader's batches, read on a thread of their own while the caller works on the previous ones.

    DuckDB computes a batch without holding the GIL, so its scan runs on one core while numpy counts the
    last batch on the other. Stops the reading thread when the caller stops early.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read() -> None:
        try:
            for batch in reader:
                if stop.is_set():
                    return
                put(batch)
        except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
            put(error)
        put(done)

    thread = threading.Thread(target=read, name="engine-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _tally_stream(con: Any, query: str, plan: "TallyPlan") -> "Tally":
    """One Tally of a DuckDB query's rows, streamed in record batches of tally.BATCH_ROWS."""
    from core.engine.tally import BATCH_ROWS, tally_batches
    from core.stats.null import one_blas_thread

    reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
    with one_blas_thread():  # the moments' small matrix products: a threaded BLAS stalls on busy cores
        return tally_batches(_read_ahead(reader), plan)


def local_path(source: str | Path) -> Path | None:
    """The file this process can open for `source`: a plain path, or a file:// URL; None for a remote URL
    (s3a://, hdfs://, ...), which only the engine reads."""
    text = str(source)
    if "://" not in text:
        return Path(text)
    from urllib.parse import unquote, urlparse

    parsed = urlparse(text)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" and parsed.netloc in ("", "localhost") else None


def _source_kind(path: Path) -> str:
    """'parquet' or 'csv' from a file's suffix, or from the files a folder holds."""
    if path.is_dir():
        suffixes = {p.suffix.lower() for p in path.rglob("*") if p.is_file()}
        if ".parquet" in suffixes:
            return "parquet"
        if ".csv" in suffixes:
            return "csv"
        raise ValueError(f"{path}: the folder holds no .parquet or .csv file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".txt", ".gz"):
        return "csv"
    raise ValueError(f"{path}: unsupported file type {suffix!r} (use .parquet or .csv)")


def _duckdb_scan(path: Path, remote: str | None = None) -> str:
    """The DuckDB table function reading a file or folder (or a remote URL, its kind from its suffix)."""
    if remote is not None:
        kind = "csv" if path.suffix.lower() == ".csv" else "parquet"
        target = remote if path.suffix else remote.rstrip("/") + f"/**/*.{kind}"
    else:
        kind = _source_kind(path)
        target = str(path / "**" / f"*.{kind}") if path.is_dir() else str(path)
    literal = "'" + target.replace("'", "''") + "'"
    if kind == "parquet":
        return f"read_parquet({literal})"
    return f"read_csv_auto({literal}, header=true)"


class DuckDBEngine:
    """DuckDB over files (out-of-core: views over Parquet/CSV are streamed) or frames."""

    name = "duckdb"

    def __init__(self, memory_limit: str | None = None, threads: int | None = None,
                 temp_directory: str | None = None) -> None:
        """Open an in-process DuckDB connection; limits bound memory for larger-than-memory scans."""
        import duckdb

        self._con = duckdb.connect(":memory:")
        if memory_limit:
            self._con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")
        if temp_directory:
            self._con.execute(f"SET temp_directory = '{temp_directory}'")
        self._frames: dict[str, pd.DataFrame] = {}

    def register(self, table: str, source: str | Path | pd.DataFrame) -> None:
        """A view over a file/folder, or the frame registered by reference (no copy)."""
        if isinstance(source, pd.DataFrame):
            self._frames[table] = source
            self._con.register(table, source)
            return
        path = local_path(source)
        if path is None:  # a remote URL DuckDB reads itself (s3://, https:// through its httpfs extension)
            scan = _duckdb_scan(Path(str(source)), remote=str(source))
        elif not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        else:
            scan = _duckdb_scan(path)
        self._con.execute(f"CREATE OR REPLACE VIEW {self.quote(table)} AS SELECT * FROM {scan}")

    def listing(self, source: str) -> list[dict]:
        """The files a URL names (a folder: its .parquet/.csv files): path, size in bytes, modification time."""
        pattern = source if Path(source).suffix else source.rstrip("/") + "/**/*.parquet"
        literal = "'" + pattern.replace("'", "''") + "'"
        rows = self._con.execute(f"SELECT filename, size, last_modified FROM read_blob({literal}) ORDER BY filename").fetchall()
        return [{"path": str(name), "size": int(size), "modified": modified.isoformat()} for name, size, modified in rows]

    def sql(self, query: str) -> pd.DataFrame:
        """Run one query; the result is fetched as a frame."""
        return self._con.execute(query).df()

    def arrow(self, query: str) -> "pa.Table":
        """Run one query; the result as an Arrow table."""
        return self._con.sql(query).to_arrow_table()

    def tally(self, query: str, plan: "TallyPlan") -> "Tally":
        """The query's rows streamed in record batches through one Tally (DuckDB reads ahead on its own thread)."""
        return _tally_stream(self._con, query, plan)

    def quote(self, identifier: str) -> str:
        """Double-quoted identifier (quotes doubled)."""
        return '"' + str(identifier).replace('"', '""') + '"'

    def row_count(self, table: str) -> int:
        """COUNT(*) of the table."""
        return int(self._con.execute(f"SELECT COUNT(*) FROM {self.quote(table)}").fetchall()[0][0])

    def sample(self, table: str, rows: int, seed: int) -> pd.DataFrame:
        """Reservoir sample of `rows` rows, repeatable for one seed."""
        n = self.row_count(table)
        if n <= rows:
            return self.sql(f"SELECT * FROM {self.quote(table)}")
        return self.sql(
            f"SELECT * FROM {self.quote(table)} USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE ({int(seed)})"
        )

    def close(self) -> None:
        """Close the connection."""
        self._con.close()


class PandasEngine:
    """The in-memory reference: every table is a pandas frame (files are read whole).

    SQL runs through an in-process DuckDB over the frames, so the dialect is the same as the DuckDB engine;
    what differs is that the data is materialised in memory first.
    """

    name = "pandas"

    def __init__(self) -> None:
        """Hold the frames and an in-memory SQL runner over them."""
        import duckdb

        self._con = duckdb.connect(":memory:")
        self._frames: dict[str, pd.DataFrame] = {}

    def register(self, table: str, source: str | Path | pd.DataFrame) -> None:
        """Keep the frame (a file is read whole into memory)."""
        if isinstance(source, pd.DataFrame):
            frame = source
        else:
            path = Path(source)
            kind = _source_kind(path)
            frame = pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path)
        self._frames[table] = frame
        self._con.register(table, frame)

    def frame(self, table: str) -> pd.DataFrame:
        """The registered frame itself."""
        return self._frames[table]

    def sql(self, query: str) -> pd.DataFrame:
        """Run one query over the in-memory frames."""
        return self._con.execute(query).df()

    def arrow(self, query: str) -> "pa.Table":
        """Run one query over the in-memory frames; the result as an Arrow table."""
        return self._con.sql(query).to_arrow_table()

    def tally(self, query: str, plan: "TallyPlan") -> "Tally":
        """The query's rows (over the frames) streamed through one Tally."""
        return _tally_stream(self._con, query, plan)

    def quote(self, identifier: str) -> str:
        """Double-quoted identifier (quotes doubled)."""
        return '"' + str(identifier).replace('"', '""') + '"'

    def row_count(self, table: str) -> int:
        """len() of the frame."""
        return int(len(self._frames[table]))

    def sample(self, table: str, rows: int, seed: int) -> pd.DataFrame:
        """pandas' seeded sample (the whole frame when it is small)."""
        frame = self._frames[table]
        if len(frame) <= rows:
            return frame
        return frame.sample(n=int(rows), random_state=int(seed))

    def close(self) -> None:
        """Drop the frames."""
        self._frames.clear()
        self._con.close()


def make_engine(name: str, **options: Any) -> Engine:
    """An engine by name: 'pandas', 'duckdb' or 'spark' (Spark imported only when asked for)."""
    key = (name or "").strip().lower()
    if key == "pandas":
        return PandasEngine(**options)
    if key == "duckdb":
        return DuckDBEngine(**options)
    if key == "spark":
        from core.engine.spark import SparkEngine  # lazy: pyspark and a JVM only when asked for

        return SparkEngine(**options)
    raise ValueError(f"unknown engine {name!r}: choose one of {', '.join(ENGINE_NAMES)}")
