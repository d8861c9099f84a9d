"""Reading candle and funding files: formats, timestamp units, structural problems."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from tests.market_data import data_dir, load_bars, load_funding
from trading.engine.candle_files import read_candle_file, read_funding_file
from trading.engine.quality import RowProblem

HEADER = "timestamp,open,high,low,close,volume\n"
ROWS = [
    "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108",
    "1704070800000,42475.23,42775.0,42431.65,42613.56,1196.37856",
    "1704074400000,42613.57,42638.41,42500.0,42581.1,685.2198",
    "1704078000000,42581.09,42586.64,42230.08,42330.49,794.80391",
]


def _write(tmp_path, text: str, name: str = "candles.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_it_reads_the_real_gzipped_binance_file_exactly():
    # when
    parsed = read_candle_file(data_dir() / "binance_btcusdt_1h.csv.gz")
    # then
    bars = load_bars("BTCUSDT", "1h")
    assert parsed.rows == 73_265 and not parsed.problems
    assert (parsed.file_format, parsed.timestamp_format) == ("csv.gz", "milliseconds")
    assert parsed.notes == ()
    np.testing.assert_array_equal(parsed.timestamps, bars.timestamps)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(parsed, name), getattr(bars, name))


def test_parquet_with_integer_ms_and_with_a_timestamp_column(tmp_path):
    # given the same rows as Parquet, once with int ms and once with a datetime column
    frame = pd.read_csv(pd.io.common.StringIO(HEADER + "\n".join(ROWS)))
    frame.to_parquet(tmp_path / "ms.parquet")
    as_datetime = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], unit="ms", utc=True))
    as_datetime.to_parquet(tmp_path / "dt.parquet")
    # when
    from_ms = read_candle_file(tmp_path / "ms.parquet")
    from_dt = read_candle_file(tmp_path / "dt.parquet")
    # then
    assert from_ms.file_format == "parquet" and from_ms.timestamp_format == "milliseconds"
    assert from_dt.timestamp_format == "datetime" and not from_dt.problems
    np.testing.assert_array_equal(from_dt.timestamps, from_ms.timestamps)
    np.testing.assert_array_equal(from_dt.close, frame["close"].to_numpy())


def test_epoch_seconds_are_converted_and_said_so(tmp_path):
    rows = [r.replace("000,", ",", 1) for r in ROWS]  # 1704067200000 -> 1704067200
    parsed = read_candle_file(_write(tmp_path, HEADER + "\n".join(rows)))
    assert parsed.timestamp_format == "seconds"
    assert parsed.timestamps[0] == 1_704_067_200_000
    assert parsed.notes == ("timestamps read as epoch seconds, converted to ms",)


def test_iso_datetimes_are_parsed_with_naive_values_taken_as_utc(tmp_path):
    text = ("Timestamp,Open,High,Low,Close,Volume\n"
            "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
            "2024-01-01 01:00:00,1.5,2,1,1.8,11\n"
            "2024-01-01T04:00:00+02:00,1.8,2,1.7,1.9,12\n")
    parsed = read_candle_file(_write(tmp_path, text))
    assert not parsed.problems
    assert parsed.timestamp_format == "iso8601"
    assert parsed.timestamps.tolist() == [1_704_067_200_000, 1_704_070_800_000, 1_704_074_400_000]
    assert "taken as UTC" in parsed.notes[0]


def test_a_missing_column_is_reported(tmp_path):
    text = "timestamp,open,high,low,close\n" + "\n".join(r.rsplit(",", 1)[0] for r in ROWS)
    parsed = read_candle_file(_write(tmp_path, text))
    assert parsed.rejected
    assert [(p.row, p.column) for p in parsed.problems] == [(0, "volume")]
    assert "missing column" in parsed.problems[0].message


def test_unparsable_and_empty_cells_are_reported_by_row(tmp_path):
    # given "abc" as the close of data row 2 and an empty volume on data row 4
    rows = list(ROWS)
    rows[1] = rows[1].replace("42613.56", "abc")
    rows[3] = rows[3].rsplit(",", 1)[0] + ","
    # when
    parsed = read_candle_file(_write(tmp_path, HEADER + "\n".join(rows)))
    # then
    assert parsed.problems == (
        RowProblem(2, "close", "unparsable value 'abc'"),
        RowProblem(4, "volume", "missing value"),
    )


def test_a_malformed_csv_line_names_its_row(tmp_path):
    rows = list(ROWS)
    rows[2] += ",999"
    parsed = read_candle_file(_write(tmp_path, HEADER + "\n".join(rows)))
    assert parsed.rejected
    assert parsed.problems[0].row == 3  # file line 4
    assert "malformed CSV line" in parsed.problems[0].message


def test_bad_timestamps_are_reported(tmp_path):
    # given a timestamp in seconds among milliseconds, a fractional one and a word
    rows = list(ROWS)
    rows[1] = "1704070800" + rows[1][13:]
    rows[2] = "1704074400000.5" + rows[2][13:]
    mixed = read_candle_file(_write(tmp_path, HEADER + "\n".join(rows[:3])))
    words = read_candle_file(_write(tmp_path, HEADER + "\n".join([ROWS[0], "soon" + ROWS[1][13:]]),
                                    "words.csv"))
    # then
    assert [p.row for p in mixed.problems] == [2, 3]
    assert "not in milliseconds" in mixed.problems[0].message
    assert "whole number" in mixed.problems[1].message
    assert words.problems == (RowProblem(2, "timestamp", "unparsable value 'soon'"),)


def test_header_only_empty_and_unknown_files_are_rejected(tmp_path):
    assert read_candle_file(_write(tmp_path, HEADER)).problems[0].message == "no data rows"
    assert read_candle_file(_write(tmp_path, "")).problems[0].message == "file is empty"
    assert "unsupported file type" in read_candle_file(tmp_path / "x.json").problems[0].message
    assert "no such file" in read_candle_file(tmp_path / "absent.csv").problems[0].message


def test_gzipped_csv_is_read(tmp_path):
    path = tmp_path / "candles.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "\n".join(ROWS))
    parsed = read_candle_file(path)
    assert parsed.file_format == "csv.gz" and parsed.rows == 4 and not parsed.problems


def test_it_reads_the_real_funding_file():
    parsed = read_funding_file(data_dir() / "binance_btcusdt_perp_funding_8h.csv.gz")
    ts, rates = load_funding("BTCUSDT")
    assert parsed.rows == 7_323 and not parsed.problems
    np.testing.assert_array_equal(parsed.timestamps, ts)
    np.testing.assert_array_equal(parsed.rates, rates)


def test_a_funding_file_without_rates_is_rejected(tmp_path):
    parsed = read_funding_file(_write(tmp_path, "timestamp,rate\n1704067200000,0.0001\n"))
    assert [p.column for p in parsed.problems] == ["funding_rate"]


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_numbers_are_problems(tmp_path, value):
    rows = list(ROWS)
    rows[0] = rows[0].replace("42475.23", value)
    parsed = read_candle_file(_write(tmp_path, HEADER + "\n".join(rows)))
    assert [(p.row, p.column) for p in parsed.problems] == [(1, "close")]


def test_an_unparsable_datetime_among_iso_datetimes_is_reported(tmp_path):
    text = ("timestamp,open,high,low,close,volume\n"
            "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
            "yesterday,1.5,2,1,1.8,11\n"
            "2024-01-01T02:00:00Z,1.8,2,1.7,1.9,12\n")
    parsed = read_candle_file(_write(tmp_path, text))
    assert parsed.problems == (RowProblem(2, "timestamp", "unparsable datetime 'yesterday'"),)
