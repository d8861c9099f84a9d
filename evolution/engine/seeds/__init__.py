"""The 12 strategy seeds: typed, stateless, lookahead-free signal generators.

Each seed implements `trading.engine.strategy.Strategy` and has a role in a
genome (entry, filter, exit or sizing); `registry` lists them.
"""

from evolution.engine.seeds.registry import SEEDS, describe_seeds, get_seed, list_seeds
from evolution.engine.seeds.seed import SEED_ROLES, Seed, SeedRole

__all__ = ["SEEDS", "SEED_ROLES", "Seed", "SeedRole", "describe_seeds", "get_seed", "list_seeds"]
