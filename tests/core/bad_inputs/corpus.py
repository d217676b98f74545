"""The bad-input corpus: files a user or a pipeline really hands the CLI, written from code (no binaries).

Each case is one file (or a real / other pair) with what `evaluate`, `drift` and `split` must answer:
the exit code(s) and a fragment of the one line they print. Exit 2 is bad input, 0 / 1 a judged gate,
never a traceback, never 1 for bad input (../shared/contract/report.md).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

COMMANDS = ("evaluate", "drift", "split")
ROWS = 240


@dataclass
class Expect:
    """What one command must do with a case: exit code(s), and a fragment of stderr (exit 2) or stdout."""

    codes: tuple[int, ...]
    fragment: str | None = None


@dataclass
class Case:
    """One corpus entry: how to write its file(s) and what each command must answer."""

    name: str
    write: Callable[[Path], Path]  # writes the case's file into a folder, returns its path
    expect: dict[str, Expect]
    real: Callable[[Path], Path] | None = None  # the real / reference side; default: the case's file itself
    policy: str | None = None  # TOML text of a policy to pass (budget cases)
    xfail: str | None = None  # reason, when a known crash elsewhere still breaks `evaluate`'s expectation


def clean_frame(seed: int = 0, rows: int = ROWS) -> pd.DataFrame:
    """A small mixed table: numbers, integers, categories, a flag and dates."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.normal(100.0, 15.0, rows).round(2),
        "age": rng.integers(18, 90, rows),
        "segment": rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2, 0.1]),
        "active": rng.choice([True, False], rows),
        "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
    })


def _csv(frame: pd.DataFrame, **kwargs) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode("utf-8")


def _bytes_file(name: str, content: Callable[[], bytes]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content())
        return path
    return write


def _parquet_file(name: str, frame: Callable[[], pd.DataFrame]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        frame().to_parquet(path)
        return path
    return write


def _arrow_file(name: str, table: Callable[[], "object"]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        import pyarrow.parquet as pq

        path = folder / name
        pq.write_table(table(), path)
        return path
    return write


def _with(column: str, values: Callable[[int], object], seed: int = 0) -> Callable[[], pd.DataFrame]:
    def frame() -> pd.DataFrame:
        out = clean_frame(seed)
        out[column] = values(len(out))
        return out
    return frame


def _refused(fragment: str, split: Expect | None = None) -> dict[str, Expect]:
    """Every command refuses the file with exit 2 and the same message (split may differ)."""
    return {"evaluate": Expect((2,), fragment), "drift": Expect((2,), fragment), "split": split or Expect((2,), fragment)}


def _judged(fragment: str | None = None, evaluate: tuple[int, ...] = (0, 1), drift: tuple[int, ...] = (0, 1),
            split_fragment: str | None = None) -> dict[str, Expect]:
    """A usable (if odd) table: a verdict is judged (0 or 1) and a warning may be printed."""
    return {"evaluate": Expect(evaluate, fragment), "drift": Expect(drift, fragment),
            "split": Expect((0,), split_fragment if split_fragment is not None else fragment)}


SEMICOLON = "looks ';'-delimited"


def _semicolon(seed: int) -> bytes:
    return _csv(clean_frame(seed), sep=";")


def _wide(columns: int, rows: int = 30) -> Callable[[], bytes]:
    def content() -> bytes:
        rng = np.random.default_rng(5)
        return _csv(pd.DataFrame(rng.normal(size=(rows, columns)).round(3), columns=[f"c{i}" for i in range(columns)]))
    return content


def _nested_list() -> "object":
    import pyarrow as pa

    frame = clean_frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column("tags", pa.array([[i, i + 1] for i in range(len(frame))]))


def _duplicate_parquet() -> "object":
    import pyarrow as pa

    frame = clean_frame()
    return pa.table([pa.array(frame["amount"]), pa.array(frame["age"]), pa.array(frame["segment"])],
                    names=["amount", "amount", "segment"])


def _decimal() -> "object":
    import decimal

    import pyarrow as pa

    frame = clean_frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    values = [decimal.Decimal(f"{v:.2f}") for v in frame["amount"]]
    return table.append_column("price", pa.array(values, pa.decimal128(10, 2)))


def _odd_arrow_types() -> "object":
    import pyarrow as pa

    frame = clean_frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    n = len(frame)
    table = table.append_column("big", pa.array(np.arange(n, dtype=np.uint64) + np.uint64(2**63), pa.uint64()))
    table = table.append_column("small", pa.array(np.arange(n) % 3, pa.int8()))
    table = table.append_column("when", pa.array(pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris")))
    table = table.append_column("level", pa.array([["lo", "mid", "hi"][i % 3] for i in range(n)]).dictionary_encode())
    return table


def _binary() -> "object":
    import pyarrow as pa

    frame = clean_frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column("blob", pa.array([bytes([i % 7, 0, 255]) for i in range(len(frame))], pa.binary()))


def _duration() -> "object":
    import pyarrow as pa

    frame = clean_frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column("wait", pa.array(pd.to_timedelta(np.arange(len(frame)), unit="m")))


def _quoted_newlines() -> bytes:
    frame = clean_frame()
    frame["note"] = [f"line one\nline two, with a comma {i % 5}" for i in range(len(frame))]
    return _csv(frame)


def _latin1() -> bytes:
    frame = clean_frame()
    frame.loc[7, "segment"] = "caf\xe9"
    return frame.to_csv(index=False).encode("latin-1")


def _bom() -> bytes:
    return b"\xef\xbb\xbf" + _csv(clean_frame())


def _parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    clean_frame().to_parquet(buffer)
    return buffer.getvalue()


def _mixed() -> pd.DataFrame:
    frame = clean_frame()
    frame["code"] = [str(i % 9) for i in range(len(frame))]
    frame.loc[3, "code"] = "nine"
    return frame


def _mixed_real() -> pd.DataFrame:
    frame = clean_frame()
    frame["code"] = [str(i % 9) for i in range(len(frame))]
    return frame


def cases() -> list[Case]:
    """The corpus (at least 40 files)."""
    c = [
        # -- files that are not a table ------------------------------------------------------------------
        Case("empty", _bytes_file("empty.csv", lambda: b""), _refused("file is empty")),
        Case("whitespace_only", _bytes_file("blank.csv", lambda: b"\n  \n\t\n"), _refused("file is empty")),
        Case("header_only", _bytes_file("header.csv", lambda: b"amount,age,segment\n"), _refused("header but no rows")),
        Case("single_row", _bytes_file("one.csv", lambda: _csv(clean_frame().head(1))), _refused("has 1 row")),
        Case("two_rows", _bytes_file("two.csv", lambda: _csv(clean_frame().head(2))),
             {"evaluate": Expect((0, 1)), "drift": Expect((0, 1)), "split": Expect((2,), "leaves one side empty")}),
        Case("not_utf8_latin1", _bytes_file("latin1.csv", _latin1), _refused("is not UTF-8 text (byte 0xe9 at line 9)")),
        Case("utf16_bom", _bytes_file("utf16.csv", lambda: clean_frame().to_csv(index=False).encode("utf-16")),
             _refused("is not UTF-8 text")),
        Case("random_bytes", _bytes_file("noise.csv", lambda: np.random.default_rng(3).bytes(3000)),
             _refused("is not UTF-8 text")),
        Case("nul_bytes", _bytes_file("nul.csv", lambda: b"a,b\n1,\x002\n3,4\n5,6\n"), _refused("NUL bytes")),
        Case("unclosed_quote", _bytes_file("quote.csv", lambda: b'a,b\n1,"open\n2,3\n4,5\n'),
             _refused("is not a well-formed CSV")),
        Case("ragged_rows", _bytes_file("ragged.csv", lambda: b"a,b\n1,2\n3,4,5,6\n7,8\n9,10\n"),
             _refused("is not a well-formed CSV")),
        Case("empty_header_name", _bytes_file("unnamed.csv", lambda: b"a,,c\n1,2,3\n4,5,6\n7,8,9\n"),
             _refused("column(s) with an empty header")),
        Case("wrong_extension_txt", _bytes_file("table.txt", lambda: _csv(clean_frame())),
             _refused("unsupported file type '.txt'")),
        Case("no_extension", _bytes_file("table", lambda: _csv(clean_frame())), _refused("unsupported file type '(none)'")),
        Case("parquet_named_csv", _bytes_file("really_parquet.csv", _parquet_bytes), _refused("Parquet file named .csv")),
        Case("csv_named_parquet", _bytes_file("really_csv.parquet", lambda: _csv(clean_frame())),
             _refused("CSV named .parquet")),
        Case("truncated_parquet", _bytes_file("cut.parquet", lambda: _parquet_bytes()[:200]),
             _refused("is not a readable Parquet file")),
        # -- delimiters and names ------------------------------------------------------------------------
        Case("semicolon", _bytes_file("semi.csv", lambda: _semicolon(1)),
             {"evaluate": Expect((2,), SEMICOLON), "drift": Expect((2,), SEMICOLON), "split": Expect((0,), SEMICOLON)},
             real=_bytes_file("semi_real.csv", lambda: _semicolon(0))),
        Case("tab", _bytes_file("tab.csv", lambda: _csv(clean_frame(1), sep="\t")),
             {"evaluate": Expect((2,), "looks '\\t'-delimited"), "drift": Expect((2,), "looks '\\t'-delimited"),
              "split": Expect((0,), "looks '\\t'-delimited")},
             real=_bytes_file("tab_real.csv", lambda: _csv(clean_frame(0), sep="\t"))),
        Case("pipe", _bytes_file("pipe.csv", lambda: _csv(clean_frame(1), sep="|")),
             {"evaluate": Expect((2,), "looks '|'-delimited"), "drift": Expect((2,), "looks '|'-delimited"),
              "split": Expect((0,), "looks '|'-delimited")},
             real=_bytes_file("pipe_real.csv", lambda: _csv(clean_frame(0), sep="|"))),
        Case("semicolon_vs_comma_real", _bytes_file("semi_syn.csv", lambda: _semicolon(1)),
             {"evaluate": Expect((2,), SEMICOLON), "drift": Expect((2,), SEMICOLON), "split": Expect((0,), SEMICOLON)},
             real=_bytes_file("comma_real.csv", lambda: _csv(clean_frame(0)))),
        Case("duplicate_columns", _bytes_file("dup.csv", lambda: b"age,age,b\n" + b"".join(
            f"{i % 50},{(i * 7) % 60},{i % 3}\n".encode() for i in range(ROWS))),
             _refused("column 'age': duplicate column name (columns 1 and 2)")),
        Case("duplicate_columns_parquet", _arrow_file("dup.parquet", _duplicate_parquet),
             _refused("column 'amount': duplicate column name")),
        Case("only_ids", _bytes_file("ids.csv", lambda: _csv(pd.DataFrame(
            {"user_id": [f"u{i:05d}" for i in range(ROWS)], "email": [f"p{i}@x.org" for i in range(ROWS)]}))),
             {"evaluate": Expect((2,), "no column can be compared"), "drift": Expect((2,), "no column can be compared"),
              "split": Expect((0,))}),
        Case("all_columns_null", _bytes_file("nulls.csv", lambda: b"a,b,c\n" + b",,\n" * 50),
             {"evaluate": Expect((2,), "no column can be compared"), "drift": Expect((2,), "no column can be compared"),
              "split": Expect((0,), "every value is missing")}),
        # -- odd but usable columns ----------------------------------------------------------------------
        Case("all_null_column", _parquet_file("null_col.parquet", _with("empty", lambda n: [np.nan] * n)),
             _judged("column 'empty': every value is missing")),
        Case("all_null_column_in_current", _parquet_file("null_now.parquet", _with("score", lambda n: [np.nan] * n, 1)),
             {"evaluate": Expect((0, 1), "column 'score': every value is missing"),
              "drift": Expect((0, 1), "missing share 0.000 -> 1.000"), "split": Expect((0,))},
             real=_parquet_file("null_then.parquet", _with("score", lambda n: np.arange(n) % 17))),
        Case("constant_date", _bytes_file("const_date.csv", lambda: _csv(_with("fixed", lambda n: ["2020-01-01"] * n)())),
             _judged(None, evaluate=(0,))),
        Case("constant_huge_number", _parquet_file("const_huge.parquet", _with("big", lambda n: [3e15] * n)),
             _judged(None, evaluate=(0,))),
        Case("near_constant_huge_number", _parquet_file("near_const.parquet",
                                                        _with("big", lambda n: 1e16 + 2.0 * (np.arange(n) % 2))),
             _judged(None, evaluate=(0,))),
        Case("constant_number", _parquet_file("const.parquet", _with("five", lambda n: [5.0] * n)), _judged()),
        Case("constant_category", _parquet_file("const_cat.parquet", _with("kind", lambda n: ["same"] * n)), _judged()),
        Case("huge_numbers", _parquet_file("huge.parquet", _with("huge", lambda n: np.resize([1e300, -1e300, 5e299, 0.0], n))),
             _judged()),
        Case("inf_values", _bytes_file("inf.csv", lambda: _csv(_with("amount", lambda n: np.resize([1.5, np.inf, -np.inf, 2.5], n))())),
             _judged("column 'amount': 120 infinite value(s) treated as missing")),
        Case("mixed_types", _parquet_file("mixed.parquet", _mixed),
             {"evaluate": Expect((0, 1), "column 'code': mixed types"), "drift": Expect((0, 1), "column 'code': mixed types"),
              "split": Expect((0,), "column 'code': mixed types")},
             real=_parquet_file("mixed_real.parquet", _mixed_real)),
        Case("utf8_bom", _bytes_file("bom.csv", _bom), _judged(None, evaluate=(0,), drift=(0,)),
             real=_bytes_file("no_bom.csv", lambda: _csv(clean_frame()))),
        Case("quoted_newlines", _bytes_file("newlines.csv", _quoted_newlines), _judged(None, evaluate=(0,), drift=(0,))),
        Case("crlf_line_ends", _bytes_file("crlf.csv", lambda: _csv(clean_frame(), lineterminator="\r\n")),
             _judged(None, evaluate=(0,), drift=(0,))),
        Case("unparseable_dates", _bytes_file("dates.csv", lambda: _csv(
            _with("day", lambda n: ["2024-01-0" + str(1 + i % 9) if i % 40 else "not a date" for i in range(n)])())),
             _judged(None)),
        Case("parquet_nested_list", _arrow_file("nested.parquet", _nested_list),
             _refused("column 'tags': holds ndarray values (nested lists, maps or structs)")),
        Case("parquet_decimal", _arrow_file("decimal.parquet", _decimal), _judged(None, evaluate=(0,), drift=(0,))),
        Case("parquet_odd_types", _arrow_file("odd_types.parquet", _odd_arrow_types), _judged(None, evaluate=(0,), drift=(0,))),
        Case("parquet_binary", _arrow_file("binary.parquet", _binary), _judged(None)),
        Case("parquet_duration", _arrow_file("duration.parquet", _duration), _judged(None)),
        # -- budget --------------------------------------------------------------------------------------
        Case("two_thousand_columns", _bytes_file("wide.csv", _wide(2000)),
             _refused("has 2,000 columns, over the budget of 1,000 ([budget] max_columns")),
        Case("pairs_over_budget", _bytes_file("sixty.csv", _wide(60, rows=200)),
             {"evaluate": Expect((0, 1), "1,770 column pairs exceed the budget of 100 ([budget] max_pairs): a seeded "
                                         "sample (seed 0) of 100 pairs is scored"),
              "drift": Expect((0, 1), "1,770 column pairs exceed the budget of 100"), "split": Expect((0,))},
             policy="[budget]\nmax_pairs = 100\n"),
        Case("file_over_budget", _bytes_file("big.csv", lambda: _csv(clean_frame())),
             _refused("over the budget of 1.0 KB ([budget] max_file_bytes"), policy="[budget]\nmax_file_bytes = 1000\n"),
    ]
    return c


def folder_case(folder: Path) -> Path:
    """A folder named like a CSV: every command refuses it."""
    path = folder / "folder.csv"
    path.mkdir(exist_ok=True)
    return path
