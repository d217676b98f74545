"""Work on the real tables alone, done once while many synthetic tables are judged against the same real ones.

An evaluation repeats real-only work for every synthetic table: the holdout's nearest training rows, the
membership attack's and the DCR gate's real-vs-real nulls, the models trained on real rows. Inside
`shared_real_side()` (the epsilon sweep opens one) the functions marked `@real_side` return the stored result
when called again with equal inputs. Inputs are compared by content (arrays and frames by a hash of their
bytes, dtypes and categories), so a synthetic table that changes a real-side input (a new category in a
shared encoding) gets a fresh computation, never a stale one. Outside the context nothing is stored.
"""
from __future__ import annotations

import functools
import hashlib
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Hashable, Iterator

import numpy as np
import pandas as pd

_STORE: ContextVar[dict | None] = ContextVar("real_side_store", default=None)


@contextmanager
def shared_real_side() -> Iterator[dict]:
    """Within the block, `@real_side` functions and `remember` reuse results for equal inputs (this thread)."""
    token = _STORE.set({})
    try:
        yield _STORE.get()
    finally:
        _STORE.reset(token)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def fingerprint(value: Any) -> Hashable:
    """A hashable stand-in for `value`, equal exactly when the contents are (callables: ignored)."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str, _digest(np.ascontiguousarray(value).tobytes()))
    if isinstance(value, pd.DataFrame):
        return ("frame", tuple(value.columns), tuple(_dtype_key(value[c].dtype) for c in value.columns),
                _digest(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()))
    if isinstance(value, pd.Series):
        return ("series", value.name, _dtype_key(value.dtype),
                _digest(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(fingerprint(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), fingerprint(v)) for k, v in value.items())))
    if callable(value) or value is None:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _dtype_key(dtype) -> Hashable:
    if isinstance(dtype, pd.CategoricalDtype):
        return ("category", tuple(map(str, dtype.categories)), bool(dtype.ordered))
    return str(dtype)


def remember(key: Hashable, compute: Callable[[], Any]) -> Any:
    """compute(), stored under `key` inside shared_real_side(); plain compute() outside it."""
    store = _STORE.get()
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]


def real_side(function: Callable) -> Callable:
    """Mark a pure function of its arguments whose result may be reused inside shared_real_side()."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if _STORE.get() is None:
            return function(*args, **kwargs)
        key = (function.__module__, function.__qualname__, fingerprint(args),
               fingerprint({k: v for k, v in kwargs.items()}))
        return remember(key, lambda: function(*args, **kwargs))

    return wrapper
