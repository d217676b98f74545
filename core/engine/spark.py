"""The Spark engine: the shared SQL aggregates as Spark SQL jobs, on local[N] or a cluster (`spark://host:7077`).

Tables are temp views over Parquet/CSV files or folders (any path Spark's Hadoop layer reads: local, hdfs://,
s3a:// with the hadoop-aws jars) or over a pandas frame. Queries come in the shared dialect of
core/engine/aggregates.py (an ANSI subset DuckDB and Spark SQL both accept); a result is small and comes back
through Arrow as a pandas frame. pyspark is imported here only, and this module only when the engine is asked for.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.errors import InputError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from core.engine.tally import Tally, TallyPlan

DEFAULT_MASTER = "local[2]"
DEFAULT_DRIVER_MEMORY = "2g"
# Aggregates return a handful of rows: a few shuffle partitions avoid scheduling 200 empty tasks a query.
DEFAULT_SHUFFLE_PARTITIONS = 4
SPARK_FILE_SUFFIXES = (".parquet", ".pq", ".csv")
# Rows per Arrow batch of a result (the row sample, the duplicate-row keys) sent to the driver.
ARROW_BATCH_ROWS = 131_072

# The driver's log4j2 set-up: warnings and errors only, and none of the start-up chatter (native-hadoop,
# loopback hostname) a user cannot act on.
_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.hadoop.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoop.level = error
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
logger.sparkenv.name = org.apache.spark.SparkEnv
logger.sparkenv.level = error
logger.sink.name = org.apache.spark.sql.execution.streaming.FileStreamSink
logger.sink.level = error
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""


def java_executable() -> str | None:
    """The java Spark will launch ($JAVA_HOME/bin/java, else java on PATH), or None when there is none."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _log4j2_file() -> str:
    """A log4j2 properties file holding _LOG4J2 (written once per process into the temp folder)."""
    path = Path(tempfile.gettempdir()) / f"review-desk-spark-log4j2-{os.getuid()}.properties"
    if not path.exists() or path.read_text() != _LOG4J2:
        path.write_text(_LOG4J2)
    return str(path)


def spark_session(master: str = DEFAULT_MASTER, *, driver_memory: str = DEFAULT_DRIVER_MEMORY,
                  shuffle_partitions: int = DEFAULT_SHUFFLE_PARTITIONS, quick_start: bool = False,
                  conf: dict[str, str] | None = None) -> Any:
    """A quiet SparkSession on `master` (no UI, few shuffle partitions, Arrow transfers, WARN logging).

    quick_start limits the driver JVM to its first JIT tier: the session starts about twice as fast on a
    loaded machine, at the cost of throughput on large scans (tests want it, benchmarks do not).
    Raises UsageError when no Java runtime is installed.
    """
    if java_executable() is None:
        raise UsageError("the Spark engine needs a Java runtime (17 or later): install openjdk-17-jre-headless "
                         "or set JAVA_HOME")
    # Before the JVM starts: bind the local driver to the loopback address rather than guessing an interface.
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Any Python worker (a user's UDF; the checks start none) runs this Python, not the first python3 on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    java_options = f"-Dlog4j2.configurationFile=file:{_log4j2_file()}"
    if quick_start:
        java_options += " -XX:TieredStopAtLevel=1"
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.driver.memory": driver_memory,
        "spark.driver.extraJavaOptions": java_options,
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ROWS),
        # The shared dialect is ANSI: an overflowing or invalid CAST is an error, on both engines.
        "spark.sql.ansi.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
    }
    if master.startswith("local"):
        settings["spark.driver.host"] = "127.0.0.1"
        settings["spark.driver.bindAddress"] = "127.0.0.1"
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName("review-desk")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def _is_remote(source: str) -> bool:
    """A URL Spark's Hadoop layer resolves (hdfs://, s3a://, file://, ...) rather than a local path."""
    return "://" in source


class SparkEngine:
    """Engine protocol on Spark: temp views, Spark SQL in the shared dialect, results as pandas frames."""

    name = "spark"
    grouping_sets = False  # value counts of discrete columns as a GROUP BY each (aggregates.value_counts)
    stack = True  # value counts of continuous columns as one GROUP BY over stack()ed rows (ditto)

    def __init__(self, master: str = DEFAULT_MASTER, *, driver_memory: str = DEFAULT_DRIVER_MEMORY,
                 shuffle_partitions: int = DEFAULT_SHUFFLE_PARTITIONS, session: Any = None,
                 quick_start: bool = False, conf: dict[str, str] | None = None) -> None:
        """An engine on `session` (kept open at close()) or on a new session on `master` (stopped at close()).

        A session already running in this process is reused and kept open (getOrCreate would hand it back,
        and stopping it would break whoever started it).
        """
        if session is None and java_executable() is not None:
            from pyspark.sql import SparkSession

            session = SparkSession.getActiveSession()
        self._owns_session = session is None
        self.session = session if session is not None else spark_session(
            master, driver_memory=driver_memory, shuffle_partitions=shuffle_partitions, quick_start=quick_start,
            conf=conf)
        self.master = self.session.sparkContext.master
        self._views: list[str] = []
        self._rows: dict[str, int] = {}

    def quote(self, identifier: str) -> str:
        """A Spark SQL identifier in backticks (a backtick inside is doubled)."""
        return "`" + str(identifier).replace("`", "``") + "`"

    def register(self, table: str, source: str | Path | pd.DataFrame) -> None:
        """Make `table` a temp view over a Parquet/CSV file or folder (local or a Hadoop URL) or a pandas frame."""
        if isinstance(source, pd.DataFrame):
            frame = self._frame(source)
        else:
            frame = self._read(str(source))
        frame.createOrReplaceTempView(table)
        self._rows.pop(table, None)
        if table not in self._views:
            self._views.append(table)

    def _frame(self, source: pd.DataFrame) -> Any:
        """A Spark DataFrame holding a pandas frame (categoricals as their values; column names kept)."""
        data = source.copy(deep=False)
        for column in data.columns:
            if isinstance(data[column].dtype, pd.CategoricalDtype):
                data[column] = data[column].astype(object).where(data[column].notna(), None)
        data.columns = [str(c) for c in data.columns]
        if data.shape[1] == 0:
            raise InputError("a table with no columns cannot be registered")
        return self.session.createDataFrame(data)

    def _read(self, source: str) -> Any:
        """A Spark DataFrame over a Parquet or CSV file, or a folder of them (the suffix of its files decides)."""
        kind = self._kind(source)
        reader = self.session.read
        try:
            if kind == "csv":
                # The same rule as pandas' reader: a header row, types inferred from the values, "" is missing.
                return reader.option("header", "true").option("inferSchema", "true").option(
                    "mode", "FAILFAST").csv(source)
            return reader.parquet(source)
        except Exception as error:  # noqa: BLE001 - Spark's AnalysisException carries a multi-line JVM trace
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InputError(f"Spark cannot read it as {kind}: {first_line}", path=source) from None

    def _kind(self, source: str) -> str:
        """'parquet' or 'csv' from the name, or from the files inside a folder (a remote one through its listing)."""
        if not _is_remote(source) and not Path(source).exists():
            raise InputError("no such file or folder", path=source)
        suffix = Path(source.rstrip("/")).suffix.lower()
        if suffix in (".parquet", ".pq"):
            return "parquet"
        if suffix == ".csv":
            return "csv"
        if _is_remote(source):
            try:
                suffixes = {Path(f["path"]).suffix.lower() for f in self.listing(source)}
            except Exception:  # noqa: BLE001 - not a folder the file system lists: say what is read
                suffixes = set()
        elif Path(source).is_dir():
            suffixes = {p.suffix.lower() for p in Path(source).rglob("*") if p.is_file() and not p.name.startswith(("_", "."))}
        else:
            suffixes = set()
        if suffixes & {".parquet", ".pq"}:
            return "parquet"
        if ".csv" in suffixes:
            return "csv"
        if suffixes or (not _is_remote(source) and Path(source).is_dir()):
            raise InputError("the folder holds no .parquet or .csv files", path=source)
        raise InputError("the Spark engine reads .parquet or .csv (a file or a folder of them)", path=source)

    def listing(self, source: str) -> list[dict]:
        """The files a URL names, through Spark's Hadoop file system (hdfs://, s3a://, file://, ...): path, size
        in bytes, modification time; a folder lists its data files (not _SUCCESS or hidden ones)."""
        from datetime import datetime, timezone

        jvm, context = self.session.sparkContext._jvm, self.session.sparkContext._jsc
        path = jvm.org.apache.hadoop.fs.Path(source)
        system = path.getFileSystem(context.hadoopConfiguration())
        found = system.listFiles(path, True)
        out = []
        while found.hasNext():
            status = found.next()
            name = status.getPath().getName()
            if name.startswith(("_", ".")):
                continue
            modified = datetime.fromtimestamp(status.getModificationTime() / 1000, tz=timezone.utc)
            out.append({"path": status.getPath().toString(), "size": int(status.getLen()),
                        "modified": modified.isoformat()})
        return sorted(out, key=lambda f: f["path"])

    def sql(self, query: str) -> pd.DataFrame:
        """Run one query in the shared dialect; its (small) result as a pandas frame."""
        return self.session.sql(query).toPandas()

    def arrow(self, query: str) -> "pa.Table":
        """Run one query; its (small) result as an Arrow table."""
        return self.session.sql(query).toArrow()

    def arrow_capped(self, query: str, key: str, cap: int) -> "pa.Table":
        """The query's result as an Arrow table, at most `cap` rows for each value of column `key` (which ones:
        any). A row number per key over the (small) result: one shuffle of the result rows, where a LIMIT per
        UNION ALL branch costs a stage per branch."""
        from pyspark.sql import Window, functions

        frame = self.session.sql(query)
        window = Window.partitionBy(key).orderBy(key)
        numbered = frame.withColumn("_row", functions.row_number().over(window))
        return numbered.where(numbered["_row"] <= int(cap)).drop("_row").toArrow()

    def tally(self, query: str, plan: "TallyPlan") -> "Tally":
        """The Tally of the query's rows from Spark SQL aggregates (tally.tally_sql): a GROUP BY per joint
        group of bin and category codes, one query of moments; the rows stay in the JVM (moving them to Python
        workers as Arrow cost more than the counting). Duplicate rows are counted by distinct_rows instead
        (plan.keys must be None)."""
        from core.engine.tally import tally_sql

        if plan.keys is not None:
            raise ValueError("the Spark engine counts duplicate rows in SQL: build the plan with keys=None")
        return tally_sql(self, query, plan)

    def row_count(self, table: str) -> int:
        """How many rows `table` holds (counted once per registration: a CSV is a full scan)."""
        if table not in self._rows:
            self._rows[table] = int(self.session.sql(f"SELECT COUNT(*) AS n FROM {self.quote(table)}").collect()[0][0])
        return self._rows[table]

    def sample(self, table: str, rows: int, seed: int) -> pd.DataFrame:
        """`rows` rows of `table` (all of them when it holds fewer), the same for the same seed and contents.

        Rows are ranked by a seeded hash of their values, not by rand(): rand() depends on how the files are
        split into partitions, so the same seed would draw another sample on another cluster.
        """
        columns = self.session.table(self.quote(table)).columns
        values = ", ".join(self.quote(c) for c in columns)
        key = f"xxhash64({int(seed)}, {values})"
        query = f"SELECT {values} FROM {self.quote(table)} {{where}} ORDER BY {key}, {values} LIMIT {int(rows)}"
        total = self.row_count(table)
        if total > 4 * rows:
            # The smallest keys lie below a cut that about twice `rows` rows pass: ordering those few gives the
            # same rows as ordering the table (checked: when fewer pass, the table is ordered after all).
            cut = int(-(2**63) + min(2.0 * rows / total, 1.0) * 2.0**64)
            found = self.session.sql(query.format(where=f"WHERE {key} < {cut}")).toPandas()
            if len(found) == rows:
                return found
        return self.session.sql(query.format(where="")).toPandas()

    def distinct_rows(self, table: str, exprs: list[str]) -> tuple[int, int]:
        """Rows of `table` and how many distinct rows of `exprs` it holds, by a 64-bit hash of each row
        (xxhash64 over each value and whether it is NULL, so (NULL, 1) and (1, NULL) differ). As the in-memory
        path's row keys, collisions are negligible.

        Up to tally.KEYS_IN_MEMORY rows (the DuckDB path's bound on keys held in memory, 8 bytes each) the
        keys come here as one Arrow column and are counted by sorting them (a third of what Spark's own
        COUNT(DISTINCT) costs, its hash aggregate of as many keys as rows); above it COUNT(DISTINCT) runs on
        the executors."""
        from core.engine.tally import KEYS_IN_MEMORY, count_distinct

        parts = ", ".join(f"{e}, ({e}) IS NULL" for e in exprs)
        hashed = f"SELECT xxhash64({parts}) AS h FROM {self.quote(table)}"
        if self.row_count(table) <= KEYS_IN_MEMORY:
            keys = self.session.sql(hashed).toArrow().column("h").to_numpy()
            return int(keys.size), count_distinct(keys.copy())
        row = self.session.sql(f"SELECT COUNT(*) AS total, COUNT(DISTINCT h) AS d FROM ({hashed}) AS p").collect()[0]
        return int(row["total"]), int(row["d"])

    def close(self) -> None:
        """Drop this engine's views; stop the session when this engine started it."""
        for view in self._views:
            self.session.catalog.dropTempView(view)
        self._views.clear()
        self._rows.clear()
        if self._owns_session:
            self.session.stop()
