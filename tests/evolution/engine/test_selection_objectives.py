"""NSGA-II ranks on the run's chosen objectives (a subset of the four, or all of them)."""

from __future__ import annotations

import random

import pytest

from evolution.engine.evaluation import Evaluation
from evolution.engine.ga import GAConfig
from evolution.engine.objectives import OBJECTIVE_NAMES, Objectives
from evolution.engine.operators import GenomeSpace, random_genome
from evolution.engine.selection import HallOfFame, check_objectives, select_survivors

SPACE = GenomeSpace(entry_seeds=("ema_crossover",))


def evaluations(values: list[tuple[float, float, float, float]]) -> list[Evaluation]:
    rng = random.Random(3)
    return [Evaluation(genome=random_genome(SPACE, rng), objectives=Objectives(*v))
            for v in values]


# sharpe, consistency, max_drawdown, turnover: each one best in a different genome
POOL = [(2.0, 0.2, 0.50, 30.0), (0.5, 0.9, 0.40, 20.0), (0.1, 0.3, 0.05, 25.0),
        (0.3, 0.4, 0.30, 1.0), (1.5, 0.8, 0.45, 40.0), (-0.2, 0.1, 0.60, 50.0)]


def test_on_sharpe_alone_the_survivors_are_the_highest_sharpes():
    # given
    pool = evaluations(POOL)
    # when
    chosen = select_survivors(pool, 2, elite=0, objectives=("sharpe",))
    # then
    assert sorted(e.objectives.sharpe for e in chosen) == [1.5, 2.0]


def test_on_drawdown_and_turnover_the_front_holds_their_best_and_no_sharpe_champion():
    # given
    pool = evaluations(POOL)
    # when
    hall = HallOfFame(objectives=("max_drawdown", "turnover")).updated(pool)
    # then: (0.05 dd, 25 turnover) and (0.30 dd, 1.0 turnover) dominate every other genome
    assert sorted((e.objectives.max_drawdown, e.objectives.turnover) for e in hall.pareto) == \
        [(0.05, 25.0), (0.30, 1.0)]
    on_all_four = HallOfFame().updated(pool)
    assert 2.0 in {e.objectives.sharpe for e in on_all_four.pareto}


def test_a_run_configuration_keeps_its_objectives_in_canonical_order_through_json():
    # when
    config = GAConfig(space=SPACE, objectives=("turnover", "sharpe"))
    # then
    assert config.objectives == ("sharpe", "turnover")
    assert GAConfig.from_dict(config.as_dict()) == config
    assert GAConfig(space=SPACE).objectives == OBJECTIVE_NAMES


@pytest.mark.parametrize("bad", [(), ("sharpe", "sharpe"), ("profit",)])
def test_no_objective_a_repeated_one_or_an_unknown_one_is_refused(bad):
    with pytest.raises(ValueError, match="distinct names among"):
        check_objectives(bad)
    with pytest.raises(ValueError, match="distinct names among"):
        GAConfig(space=SPACE, objectives=bad)
