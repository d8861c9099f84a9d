"""The registry of the 12 strategy seeds the organism evolves from.

Guarantees: `SEEDS` maps each seed's `name` to its single (stateless) instance,
in a fixed order; `get_seed` raises `KeyError` naming the known seeds;
`describe_seeds` is JSON-serialisable (what the dashboard and API show).
"""

from __future__ import annotations

from typing import Any

from evolution.engine.seeds.breakout import DonchianBreakout
from evolution.engine.seeds.carry import FundingRateCarry
from evolution.engine.seeds.classifier import LinearSvcClassifier
from evolution.engine.seeds.oscillators import RsiFilter, StochasticOscillator
from evolution.engine.seeds.quantile_tree import PcaTreeQuantile
from evolution.engine.seeds.reversion import VwapReversion
from evolution.engine.seeds.risk import AtrStopLoss, VolatilityScaling
from evolution.engine.seeds.seed import SEED_ROLES, Seed, SeedRole
from evolution.engine.seeds.trend import EmaCrossover, IchimokuCloud, SmaTrendFilter

SEEDS: dict[str, Seed] = {
    seed.name: seed
    for seed in (
        EmaCrossover(),
        DonchianBreakout(),
        RsiFilter(),
        StochasticOscillator(),
        SmaTrendFilter(),
        AtrStopLoss(),
        IchimokuCloud(),
        VwapReversion(),
        VolatilityScaling(),
        FundingRateCarry(),
        LinearSvcClassifier(),
        PcaTreeQuantile(),
    )
}


def get_seed(name: str) -> Seed:
    """The seed called `name`; KeyError listing the known names otherwise."""
    try:
        return SEEDS[name]
    except KeyError:
        raise KeyError(f"unknown seed {name!r}; known seeds: {', '.join(SEEDS)}") from None


def list_seeds(role: SeedRole | None = None) -> list[Seed]:
    """All seeds, or those able to play `role` in a genome (primary or secondary role)."""
    if role is None:
        return list(SEEDS.values())
    if role not in SEED_ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(SEED_ROLES)}")
    return [seed for seed in SEEDS.values() if role in seed.roles]


def describe_seeds(role: SeedRole | None = None) -> list[dict[str, Any]]:
    """`describe()` of every seed listed by `list_seeds(role)`."""
    return [seed.describe() for seed in list_seeds(role)]
