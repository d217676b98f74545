"""components.widgets: cell values, times and digests as display text."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from components.widgets import MISSING_TEXT, format_values, short_digest, short_time, text_frame


def test_format_values_shows_every_kind_as_text_and_keeps_the_index():
    floats = format_values(pd.Series([1.0, np.nan, 2.5, 1e20, -0.0], index=[4, 5, 6, 7, 8]))
    assert list(floats) == ["1", MISSING_TEXT, "2.5", "1e+20", "0"] and list(floats.index) == [4, 5, 6, 7, 8]
    assert list(format_values(pd.Series(["a", None, "b"]))) == ["a", MISSING_TEXT, "b"]
    assert list(format_values(pd.Series(pd.array([1, None, 3], dtype="Int64")))) == ["1", MISSING_TEXT, "3"]
    dates = pd.Series(pd.to_datetime(["2020-01-01", None, "2020-01-02 03:04:05"], format="mixed"))
    assert list(format_values(dates)) == ["2020-01-01", MISSING_TEXT, "2020-01-02 03:04:05"]
    frame = text_frame(pd.DataFrame({"x": [1.5, None], "y": ["<b>", "z"]}))
    assert frame.to_dict("list") == {"x": ["1.5", MISSING_TEXT], "y": ["<b>", "z"]}  # text, never HTML


def test_short_time_and_digest():
    assert short_time("2026-12-07T16:14:12.644148+00:00") == "2026-12-07 16:14:12"
    assert short_time("2026-12-07T16:14:12.644148+00:00", seconds=False) == "2026-12-07 16:14"
    assert short_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2026-01-02 03:04:05"
    assert short_time(None) == "" and short_time("not a time") == "not a time"
    assert short_digest("ab" * 32) == "abababababab…" and short_digest(None) == ""
