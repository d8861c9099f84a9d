"""The embedded runner's shutdown watchdog: a stop that overruns its grace ends the process."""

import threading

from organism.embedded.runner import SHUTDOWN_TIMEOUT_EXIT, ShutdownWatchdog


def watchdog(grace: float) -> tuple[ShutdownWatchdog, list[int], threading.Event]:
    exits: list[int] = []
    called = threading.Event()

    def exit(status: int) -> None:
        exits.append(status)
        called.set()

    return ShutdownWatchdog(grace, lambda: ["trading.session_step[abc]"], exit=exit), exits, called


def test_a_stop_that_overruns_its_grace_exits_naming_the_running_tasks(capsys):
    dog, exits, called = watchdog(0.05)
    dog.arm(sig="SIGINT", how="Warm", exitcode=0)
    assert called.wait(5)
    assert exits == [SHUTDOWN_TIMEOUT_EXIT]
    assert "trading.session_step[abc]" in capsys.readouterr().err


def test_a_stop_that_finishes_in_time_exits_nothing():
    dog, exits, called = watchdog(0.2)
    dog.arm()
    dog.disarm()
    assert not called.wait(0.5)
    assert exits == []


def test_nothing_happens_before_a_stop_is_asked_for():
    dog, exits, called = watchdog(0.01)
    assert not called.wait(0.2)
    assert exits == []


def test_arming_twice_starts_one_countdown():
    dog, exits, called = watchdog(0.05)
    dog.arm()
    first = dog.thread
    dog.arm()
    assert dog.thread is first
    assert called.wait(5)
    first.join(1)
    assert exits == [SHUTDOWN_TIMEOUT_EXIT]
