"""Charts of stored market data: downsampling, named indicator requests, Plotly figures.

`chart_data_load` reads candles and computes indicators (full resolution first,
then downsampling), `chart_json` turns the result into the page's JSON, and
`parse_indicator_specs` reads "sma:20,rsi:14" for the chart and the API alike.
"""

from trading.charts.build import ChartData, ChartRequest, chart_data_load, indicator_bars
from trading.charts.downsample import Downsampled, downsample_bars, last_in_bucket
from trading.charts.figure import chart_figure, chart_json, chart_meta
from trading.charts.indicator_specs import (
    INDICATORS,
    IndicatorSpec,
    IndicatorSpecError,
    indicator_spec,
    parse_indicator_specs,
)

__all__ = [
    "INDICATORS",
    "ChartData",
    "ChartRequest",
    "Downsampled",
    "IndicatorSpec",
    "IndicatorSpecError",
    "chart_data_load",
    "chart_figure",
    "chart_json",
    "chart_meta",
    "downsample_bars",
    "indicator_bars",
    "indicator_spec",
    "last_in_bucket",
    "parse_indicator_specs",
]
