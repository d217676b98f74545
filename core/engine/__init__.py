"""Engine layer: the aggregates the checks need, computed by SQL over frames, Parquet/CSV files or a cluster."""

from core.engine.base import Engine, make_engine

__all__ = ["Engine", "make_engine"]
