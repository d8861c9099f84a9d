"""Sample data for a new installation: files first, synthetic when nothing else is reachable."""

import pytest

from tests.market_data import data_dir
from trading.models import Candle, Exchange, FundingRate
from trading.services.sample_data import sample_data_ensure

pytestmark = pytest.mark.django_db


def test_it_generates_a_clearly_labelled_synthetic_market_when_offline(tmp_path):
    # given no data directory and no network
    said: list[str] = []
    # when
    source = sample_data_ensure(say=said.append, data_dir=tmp_path / "missing", allow_network=False)
    # then
    assert source == "synthetic"
    assert Exchange.objects.filter(code="synthetic").exists()
    assert Candle.objects.filter(instrument__symbol="BTC-SYNTH/USDT").count() == 180 * 24
    assert any("SYNTHETIC MARKET" in line and "not real prices" in line for line in said)


def test_it_loads_the_real_files_and_then_does_nothing(settings):
    # given
    settings.ORGANISM_DATA_DIR = data_dir()
    # when
    first = sample_data_ensure(say=lambda _: None, allow_network=False)
    count = Candle.objects.count()
    second = sample_data_ensure(say=lambda _: None, allow_network=False)
    # then
    assert (first, second) == ("files", "present")
    assert count == 2 * 73_265
    assert Candle.objects.count() == count
    assert FundingRate.objects.filter(instrument__symbol="BTC/USDT", instrument__market_type="perp").count() == 7_323
