"""Behaviour of the indicators on small hand-computed examples.

Covers the indicators without a TA-Lib twin (VWAP, z-score, realised
volatility, swing points, Ichimoku), the conventions we chose (Donchian
excludes the current bar, spans of the cloud known at t), and input checking.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from trading.engine import indicators as ind

NAN = np.nan
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MONDAY_2024_01_01 = 1_704_067_200_000


def assert_same(actual: np.ndarray, expected: list[float]) -> None:
    np.testing.assert_allclose(actual, np.array(expected, dtype=float), rtol=1e-12, atol=1e-12)


class TestMovingAverages:
    def test_it_computes_the_simple_average_of_lists(self) -> None:
        # given plain Python numbers / when averaged over 2 / then the pairwise means
        assert_same(ind.sma([1, 2, 3], 2), [NAN, 1.5, 2.5])

    def test_ema_is_seeded_with_the_sma_of_the_first_n_values(self) -> None:
        # given k = 2/(3+1) = 0.5 / when the EMA runs / then it starts at mean(1,2,3) = 2
        assert_same(ind.ema([1.0, 2.0, 3.0, 4.0], 3), [NAN, NAN, 2.0, 3.0])

    def test_wma_weights_the_newest_value_most(self) -> None:
        # (1*1 + 2*2 + 3*3) / 6
        assert_same(ind.wma([1.0, 2.0, 3.0], 3), [NAN, NAN, 14.0 / 6.0])


class TestVWAP:
    high = [3.0, 6.0, 9.0, 9.0]
    low = [1.0, 2.0, 3.0, 3.0]
    close = [2.0, 4.0, 6.0, 6.0]  # typical prices 2, 4, 6, 6

    def test_rolling_vwap_weights_typical_prices_by_volume(self) -> None:
        # given volumes 1, 3, 0, 0 / when the 2-bar VWAP is computed
        vwap = ind.vwap_rolling(self.high, self.low, self.close, [1.0, 3.0, 0.0, 0.0], 2)
        # then (2*1 + 4*3)/4, then (4*3 + 6*0)/3, then NaN for a window with no volume
        assert_same(vwap, [NAN, 3.5, 4.0, NAN])

    def test_session_vwap_restarts_each_utc_day_with_volume_weighted_bands(self) -> None:
        # given two bars on one day (typical 10 and 20, volumes 1 and 3) and one the next day
        stamps = [MONDAY_2024_01_01, MONDAY_2024_01_01 + HOUR_MS, MONDAY_2024_01_01 + DAY_MS]
        vwap, upper, lower = ind.vwap_session(
            [11.0, 21.0, 31.0], [9.0, 19.0, 29.0], [10.0, 20.0, 30.0], [1.0, 3.0, 2.0], stamps
        )
        # then the second bar's VWAP is 70/4 with variance (1*7.5^2 + 3*2.5^2)/4 = 18.75,
        # and the next day starts again from its own typical price
        std = math.sqrt(18.75)
        assert_same(vwap, [10.0, 17.5, 30.0])
        assert_same(upper, [10.0, 17.5 + 2 * std, 30.0])
        assert_same(lower, [10.0, 17.5 - 2 * std, 30.0])

    def test_session_vwap_is_nan_until_the_session_trades(self) -> None:
        stamps = [MONDAY_2024_01_01 + i * HOUR_MS for i in range(3)]
        # given a session whose first bar has no volume
        vwap, upper, _ = ind.vwap_session([2.0] * 3, [1.0] * 3, [1.5] * 3, [0.0, 4.0, 1.0],
                                          stamps, k=1.0)
        # then the first bar has no VWAP, the next ones do
        assert_same(vwap, [NAN, 1.5, 1.5])
        assert_same(upper, [NAN, 1.5, 1.5])

    def test_weekly_sessions_start_on_monday_with_a_four_day_offset(self) -> None:
        # given Sunday 23:00, Monday 00:00 and the next Sunday 23:00 (epoch day 0 was a Thursday)
        stamps = [MONDAY_2024_01_01 - HOUR_MS, MONDAY_2024_01_01, MONDAY_2024_01_01 + 7 * DAY_MS
                  - HOUR_MS]
        vwap, _, _ = ind.vwap_session(
            [11.0, 21.0, 31.0], [9.0, 19.0, 29.0], [10.0, 20.0, 30.0], [1.0, 1.0, 1.0], stamps,
            session_ms=7 * DAY_MS, offset_ms=4 * DAY_MS,
        )
        # then Monday starts a new week and the following Sunday still belongs to it
        assert_same(vwap, [10.0, 20.0, 25.0])

    def test_session_vwap_refuses_unordered_timestamps(self) -> None:
        with pytest.raises(ValueError, match="increasing"):
            ind.vwap_session([2.0, 2.0], [1.0, 1.0], [1.5, 1.5], [1.0, 1.0], [5, 5])


class TestStatistics:
    def test_zscore_uses_the_population_std_of_the_window(self) -> None:
        # given [1,2,3] -> z = 1/sqrt(2/3); [3,4,10] -> z = (13/3)/(sqrt(86)/3)
        z = ind.zscore([1.0, 2.0, 3.0, 4.0, 10.0], 3)
        assert_same(z, [NAN, NAN, math.sqrt(1.5), math.sqrt(1.5), 13.0 / math.sqrt(86.0)])

    def test_zscore_is_zero_on_a_flat_window(self) -> None:
        # given a window holding one repeated value after a moving stretch
        z = ind.zscore([1.0, 7.0, 5.0, 5.0, 5.0], 3)
        # then the flat window scores exactly 0, not rounding noise
        assert z[4] == 0.0

    def test_realized_volatility_is_the_sample_std_of_log_returns(self) -> None:
        # given returns ln(1.1) and ln(0.9): the sample std of two values is |a-b|/sqrt(2)
        expected = abs(math.log(1.1) - math.log(0.9)) / math.sqrt(2.0)
        # when computed raw and annualised for hourly bars
        raw = ind.realized_volatility([100.0, 110.0, 99.0], 2)
        annual = ind.realized_volatility([100.0, 110.0, 99.0], 2, periods_per_year=8760)
        # then
        assert_same(raw, [NAN, NAN, expected])
        assert_same(annual, [NAN, NAN, expected * math.sqrt(8760)])

    def test_obv_adds_up_volume_by_close_direction(self) -> None:
        assert_same(ind.obv([1.0, 2.0, 2.0, 1.0], [10.0, 20.0, 30.0, 40.0]),
                    [10.0, 30.0, 30.0, -10.0])

    def test_rsi_of_flat_prices_is_zero_as_in_talib(self) -> None:
        # TA-Lib returns 0 when the average move is (numerically) zero; we keep its convention
        assert_same(ind.rsi([5.0] * 6, 3), [NAN, NAN, NAN, 0.0, 0.0, 0.0])

    def test_stochastic_of_a_flat_range_is_zero_as_in_talib(self) -> None:
        k_line, d_line = ind.stochastic([2.0] * 5, [2.0] * 5, [2.0] * 5, 2, 1, 1)
        assert_same(k_line, [NAN, 0.0, 0.0, 0.0, 0.0])
        assert_same(d_line, [NAN, 0.0, 0.0, 0.0, 0.0])


class TestChannels:
    def test_donchian_uses_the_previous_n_bars_only(self) -> None:
        # given a spike on the last bar
        upper, lower, middle = ind.donchian([1.0, 2.0, 3.0, 10.0], [0.0, 1.0, 2.0, 9.0], 2)
        # then the last bar's channel is built from bars 1-2, so the spike breaks out of it
        assert_same(upper, [NAN, NAN, 2.0, 3.0])
        assert_same(lower, [NAN, NAN, 0.0, 1.0])
        assert_same(middle, [NAN, NAN, 1.0, 2.0])

    def test_ichimoku_spans_are_the_cloud_computed_displacement_bars_ago(self) -> None:
        high = [10.0, 12.0, 11.0, 15.0, 14.0, 13.0, 16.0, 18.0]
        low = [8.0, 9.0, 7.0, 10.0, 12.0, 11.0, 13.0, 15.0]
        # when computed with periods 2 / 3 / 4 (displacement = kijun = 3)
        cloud = ind.ichimoku(high, low, [0.0] * 8, tenkan=2, kijun=3, senkou_b=4)
        # then tenkan and kijun are midpoints of the last 2 and 3 bars,
        assert_same(cloud.tenkan, [NAN, 10.0, 9.5, 11.0, 12.5, 12.5, 13.5, 15.5])
        assert_same(cloud.kijun, [NAN, NAN, 9.5, 11.0, 11.0, 12.5, 13.5, 14.5])
        # and the spans at t were computed at t-3 from bars up to t-3
        assert_same(cloud.senkou_a, [NAN, NAN, NAN, NAN, NAN, 9.5, 11.0, 11.75])
        assert_same(cloud.senkou_b, [NAN, NAN, NAN, NAN, NAN, NAN, 11.0, 11.0])
        assert ind.Ichimoku._fields == ("tenkan", "kijun", "senkou_a", "senkou_b")

    def test_ichimoku_displacement_can_be_chosen(self) -> None:
        high, low = [10.0, 12.0, 11.0, 15.0], [8.0, 9.0, 7.0, 10.0]
        cloud = ind.ichimoku(high, low, [0.0] * 4, 2, 3, 4, displacement=0)
        assert_same(cloud.senkou_b, [NAN, NAN, NAN, 11.0])


class TestSwings:
    def test_swing_highs_appear_right_bars_after_the_pivot(self) -> None:
        # given pivots at bars 4 (5.0) and 7 (6.0)
        high = [1.0, 3.0, 2.0, 1.0, 5.0, 4.0, 4.0, 6.0, 2.0, 1.0]
        # then they are reported at bars 6 and 9, once two lower-or-equal bars followed
        assert_same(ind.swing_highs(high, 2, 2), [NAN] * 6 + [5.0, NAN, NAN, 6.0])

    def test_swing_lows_mirror_swing_highs(self) -> None:
        low = [5.0, 3.0, 4.0, 5.0, 1.0, 2.0, 2.0, 0.0, 3.0, 4.0]
        assert_same(ind.swing_lows(low, 2, 2), [NAN] * 6 + [1.0, NAN, NAN, 0.0])

    def test_a_flat_top_counts_once_at_its_first_bar(self) -> None:
        high = [1.0, 2.0, 5.0, 5.0, 2.0, 1.0]
        assert_same(ind.swing_highs(high, 1, 1), [NAN, NAN, NAN, 5.0, NAN, NAN])


class TestInputChecking:
    def test_it_refuses_periods_below_one(self) -> None:
        with pytest.raises(ValueError, match="n must be >= 1"):
            ind.sma([1.0, 2.0], 0)

    @pytest.mark.parametrize("period", [2.5, True, "3"])
    def test_it_refuses_non_integer_periods(self, period: object) -> None:
        with pytest.raises(TypeError, match="integer"):
            ind.ema([1.0, 2.0, 3.0], period)  # type: ignore[arg-type]

    def test_it_refuses_series_of_different_lengths(self) -> None:
        with pytest.raises(ValueError, match="differ in length"):
            ind.atr([2.0, 3.0, 4.0], [1.0, 2.0], [1.5, 2.5, 3.5], 2)

    def test_it_refuses_two_dimensional_input(self) -> None:
        with pytest.raises(ValueError, match="one-dimensional"):
            ind.sma(np.ones((3, 2)), 2)

    def test_macd_needs_fast_below_slow(self) -> None:
        with pytest.raises(ValueError, match="fast < slow"):
            ind.macd(np.arange(50.0), fast=26, slow=12)

    def test_bollinger_refuses_a_negative_width(self) -> None:
        with pytest.raises(ValueError, match="k must be"):
            ind.bollinger(np.arange(30.0), 20, -1.0)

    def test_it_does_not_modify_its_inputs(self) -> None:
        close = np.linspace(1.0, 2.0, 60)
        before = close.copy()
        ind.macd(close, 3, 7, 4)
        ind.bollinger(close, 5)
        ind.zscore(close, 5)
        np.testing.assert_array_equal(close, before)
