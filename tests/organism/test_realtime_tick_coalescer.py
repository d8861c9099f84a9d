"""TickCoalescer: at most one send per key per interval, the latest value always delivered."""

from __future__ import annotations

import threading
import time

import pytest

from organism.tick_coalescer import TickCoalescer

INTERVAL = 0.05


class Recorder:
    """A real `send`: records (monotonic time, key, payload) of every send."""

    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.sent: list[tuple[float, str, dict]] = []
        self.fail_on = fail_on or set()
        self.lock = threading.Lock()

    def __call__(self, key, payload) -> None:
        if payload["seq"] in self.fail_on:
            raise ConnectionError("redis went away")
        with self.lock:
            self.sent.append((time.monotonic(), key, dict(payload)))

    def for_key(self, key: str) -> list[tuple[float, dict]]:
        with self.lock:
            return [(at, payload) for at, k, payload in self.sent if k == key]


def _wait_until(condition, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.005)


def test_a_lone_update_is_sent_at_once():
    # given
    sent = Recorder()
    coalescer = TickCoalescer(sent, interval=1.0)
    # when
    offered_at = time.monotonic()
    coalescer.offer("trading.1", {"seq": 1})
    _wait_until(lambda: sent.for_key("trading.1"))
    # then: well before the (long) interval
    (at, payload), = sent.for_key("trading.1")
    assert payload == {"seq": 1} and at - offered_at < 0.5
    coalescer.close()


def test_a_burst_sends_the_first_and_the_latest_update_only():
    # given
    sent = Recorder()
    coalescer = TickCoalescer(sent, interval=0.2)
    # when 1,000 updates arrive as fast as they can be offered
    started = time.monotonic()
    for seq in range(1, 1001):
        coalescer.offer("instrument.7", {"seq": seq})
    elapsed = time.monotonic() - started
    _wait_until(lambda: [p["seq"] for _, p in sent.for_key("instrument.7")][-1:] == [1000])
    time.sleep(0.25)
    # then one at once (the latest when the flusher woke, if before the burst ended),
    # one per interval, the last one final
    seqs = [payload["seq"] for _, payload in sent.for_key("instrument.7")]
    assert 1 <= len(seqs) <= 2 + elapsed / 0.2 and seqs[-1] == 1000
    assert seqs == sorted(set(seqs))
    coalescer.close()


def test_sends_of_one_key_are_an_interval_apart_and_end_on_the_latest():
    # given
    sent = Recorder()
    coalescer = TickCoalescer(sent, interval=INTERVAL)
    # when updates keep coming for ~6 intervals
    started = time.monotonic()
    seq = 0
    while time.monotonic() - started < 6 * INTERVAL:
        seq += 1
        coalescer.offer("k", {"seq": seq})
        time.sleep(0.0005)
    coalescer.close()
    # then
    sends = sent.for_key("k")
    gaps = [b[0] - a[0] for a, b in zip(sends, sends[1:], strict=False)]
    assert all(gap >= INTERVAL * 0.99 for gap in gaps), gaps
    assert len(sends) <= 6 + 2
    assert sends[-1][1]["seq"] == seq
    assert [p["seq"] for _, p in sends] == sorted(p["seq"] for _, p in sends)


def test_keys_are_coalesced_independently():
    # given
    sent = Recorder()
    coalescer = TickCoalescer(sent, interval=0.2)
    # when two keys each get a burst
    for seq in range(1, 101):
        coalescer.offer("a", {"seq": seq})
        coalescer.offer("b", {"seq": 1000 + seq})
    coalescer.close()
    # then each key got at most two sends, ending on its own last value
    a = [p["seq"] for _, p in sent.for_key("a")]
    b = [p["seq"] for _, p in sent.for_key("b")]
    assert len(a) <= 2 and a[-1] == 100 and all(1 <= seq <= 100 for seq in a)
    assert len(b) <= 2 and b[-1] == 1100 and all(1001 <= seq <= 1100 for seq in b)


def test_many_threads_offering_at_once_never_lose_the_latest_value():
    # given a global sequence so the real order of offers is known
    sent = Recorder()
    coalescer = TickCoalescer(sent, interval=0.01)
    order_lock = threading.Lock()
    counter = {"seq": 0}
    last_offered: dict[str, int] = {}

    def produce(thread_no: int) -> None:
        for i in range(300):
            key = f"k{(thread_no + i) % 3}"
            with order_lock:
                counter["seq"] += 1
                last_offered[key] = counter["seq"]
                coalescer.offer(key, {"seq": counter["seq"]})
            if i % 50 == 0:
                time.sleep(0.002)

    # when
    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    coalescer.close()
    elapsed = time.monotonic() - started
    # then per key: increasing sequence numbers ending on the last one offered
    for key, last in last_offered.items():
        seqs = [p["seq"] for _, p in sent.for_key(key)]
        assert seqs == sorted(set(seqs)) and seqs[-1] == last
    assert len(sent.sent) <= 3 * (elapsed / 0.01 + 2)
    assert coalescer.pending() == 0


def test_a_failing_send_is_logged_and_later_updates_still_go(caplog):
    # given a send that fails for the first update
    sent = Recorder(fail_on={1})
    coalescer = TickCoalescer(sent, interval=INTERVAL)
    # when
    coalescer.offer("k", {"seq": 1})
    _wait_until(lambda: coalescer.pending() == 0)
    coalescer.offer("k", {"seq": 2})
    coalescer.close()
    # then
    assert [p["seq"] for _, p in sent.for_key("k")] == [2]
    assert "sending the update for 'k' failed" in caplog.text


def test_close_sends_what_is_pending_and_refuses_new_updates():
    # given an update held back by the interval
    sent = Recorder()
    coalescer = TickCoalescer(sent, interval=INTERVAL)
    coalescer.offer("k", {"seq": 1})
    coalescer.offer("k", {"seq": 2})
    # when
    coalescer.close()
    # then
    assert [p["seq"] for _, p in sent.for_key("k")][-1] == 2
    with pytest.raises(RuntimeError, match="closed"):
        coalescer.offer("k", {"seq": 3})


def test_it_requires_a_positive_interval():
    with pytest.raises(ValueError, match="positive"):
        TickCoalescer(Recorder(), interval=0)
