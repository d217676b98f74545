"""The Spark options of `python -m core evaluate --engine spark` (the session itself: core/engine/spark.py)."""
from __future__ import annotations

import argparse

from core.engine.spark import DEFAULT_DRIVER_MEMORY, DEFAULT_MASTER


def add_spark_arguments(parser: argparse.ArgumentParser) -> None:
    """--spark-master and --spark-driver-memory of `evaluate` (used with --engine spark only)."""
    parser.add_argument("--spark-master", default=None, metavar="URL",
                        help=f"with --engine spark: the cluster's master URL, e.g. spark://host:7077 "
                             f"(default {DEFAULT_MASTER})")
    parser.add_argument("--spark-driver-memory", default=None, metavar="SIZE",
                        help=f"with --engine spark: memory of the driver JVM, e.g. 4g (default {DEFAULT_DRIVER_MEMORY})")


def spark_options(args: argparse.Namespace) -> dict[str, str]:
    """The SparkEngine options the command line gave (none when neither option is set)."""
    options = {}
    if getattr(args, "spark_master", None):
        options["master"] = args.spark_master
    if getattr(args, "spark_driver_memory", None):
        options["driver_memory"] = args.spark_driver_memory
    return options
