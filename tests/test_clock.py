"""The virtual clock the loop tests run on: time moves only when every member thread waits."""

from __future__ import annotations

import threading

import pytest

from voice.clock import Empty, Mailbox, VirtualClock


def test_time_jumps_to_the_earliest_deadline_once_every_member_waits():
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    def sleeper(name: str, seconds: float):
        def run():
            clock.sleep(seconds)
            woke.append((name, clock.now()))

        return run

    with clock.attached():
        clock.start_thread(sleeper("late", 2.0), "late")
        clock.start_thread(sleeper("early", 0.5), "early")
        clock.sleep(3.0)
    assert woke == [("early", 0.5), ("late", 2.0)]
    assert clock.now() == 3.0


def test_a_signal_wakes_a_waiter_before_its_timeout():
    clock = VirtualClock()
    signal = clock.signal()
    results: list[tuple[bool, float]] = []

    def waiter():
        results.append((signal.wait(10.0), clock.now()))

    with clock.attached():
        clock.start_thread(waiter, "waiter")
        clock.sleep(1.0)
        signal.set()
        clock.sleep(1.0)
    assert results == [(True, 1.0)]


def test_a_mailbox_get_times_out_on_virtual_time():
    clock = VirtualClock()
    box: Mailbox[int] = Mailbox(clock)
    with clock.attached():
        with pytest.raises(Empty):
            box.get(0.25)
        assert clock.now() == 0.25
        box.put(7)
        assert box.get(0.25) == 7 and box.empty()


def test_a_member_busy_outside_the_clock_holds_time_still():
    clock = VirtualClock(stall_limit_s=0.2)
    release = threading.Event()
    clock.start_thread(lambda: release.wait(5.0), "busy")  # blocks on a real event: the clock cannot see it
    with clock.attached(), pytest.raises(RuntimeError, match="stalled"):
        clock.sleep(1.0)
    assert clock.now() == 0.0
    release.set()
