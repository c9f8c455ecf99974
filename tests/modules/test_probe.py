"""The schedule, gap and report logic shared by pg_write_probe and http_probe."""

from __future__ import annotations

import time

import pytest
from ansible_collections.sre.platform.plugins.module_utils.probe import (
    MAX_ERROR_KINDS,
    OTHER_ERRORS,
    Pacer,
    StopFile,
    longest_failure_run,
    longest_gap,
    span,
    tally,
)

T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z


def test_slots_are_counted_exactly_despite_floating_point():
    assert Pacer(0.1, 0.3).slots == 3
    assert Pacer(1 / 3, 5).slots == 15
    assert Pacer(0.05, 8).slots == 160


def test_pacer_keeps_its_schedule_and_skips_overrun_slots():
    pacer = Pacer(0.05, 1)
    pacer.wait_for(4)
    assert pacer.now() - pacer.due(4) == pytest.approx(0, abs=0.03)
    time.sleep(0.12)  # overrun slots 5 and 6
    assert pacer.next_slot(4) == 7
    assert pacer.next_slot(40) == 41
    assert pacer.end == pacer.start + 1


def test_stopping_drops_the_slots_due_from_then_on_and_ends_the_window_there():
    pacer = Pacer(0.25, 10)
    assert pacer.end_at(pacer.start + 2.1) is True
    assert (pacer.slots, pacer.end) == (9, pacer.start + 2.1)  # slots 0..8 are due before 2.1 s
    assert pacer.end_at(pacer.start + 1.0) is True
    assert pacer.slots == 4  # slot 4 is due at exactly 1.0 s: dropped
    assert pacer.end_at(pacer.start + 5) is False, "a later stop never lengthens the schedule"
    assert (pacer.slots, pacer.end) == (4, pacer.start + 1.0)


def test_reached_waits_for_each_slot_until_the_schedule_or_its_stop_file_ends_it(tmp_path):
    pacer = Pacer(0.05, 0.2)
    assert [slot for slot in range(6) if pacer.reached(slot)] == [0, 1, 2, 3]
    assert pacer.now() - pacer.due(3) == pytest.approx(0, abs=0.03)
    marker = tmp_path / "done"
    marker.touch()
    stopped = Pacer(0.05, 10, StopFile(str(marker), 0))
    assert (stopped.reached(0), stopped.reached(1)) == (True, False)
    assert stopped.stop.stopped_by == "stop_file"
    assert Pacer(0.05, 10).stop.stopped_by == "duration"


def test_a_stop_at_the_start_keeps_the_first_attempt():
    pacer = Pacer(0.5, 10)
    pacer.end_at(pacer.start - 1)
    assert (pacer.slots, pacer.end) == (1, pacer.start)


def test_stop_file_ends_the_schedule_its_delay_after_the_file_appears(tmp_path):
    marker = tmp_path / "done"
    pacer, stop = Pacer(0.1, 60), StopFile(str(marker), 0.5)
    stop.check(pacer)
    assert (stop.seen, stop.ended_early, pacer.slots) == (None, False, 600)
    marker.touch()
    stop.check(pacer)
    assert stop.ended_early and pacer.end == pytest.approx(stop.seen + 0.5)
    assert pacer.slots == pytest.approx(5 + (stop.seen - pacer.start) * 10, abs=1)


def test_stop_file_past_the_end_or_unset_changes_nothing(tmp_path):
    marker = tmp_path / "done"
    marker.touch()
    pacer, stop = Pacer(0.1, 1), StopFile(str(marker), 5)
    stop.check(pacer)
    assert stop.seen is not None and not stop.ended_early
    assert (pacer.slots, pacer.end) == (10, pacer.start + 1)
    unset = StopFile(None, 0)
    unset.check(pacer)
    assert unset.seen is None and pacer.slots == 10


def test_pacer_refuses_a_zero_interval():
    with pytest.raises(ValueError, match="must be positive"):
        Pacer(0, 10)


def test_span_ends_are_iso_utc():
    assert span(T0, T0 + 2.5) == {
        "seconds": 2.5,
        "start": "2025-01-01T00:00:00.000000Z",
        "end": "2025-01-01T00:00:02.500000Z",
        "start_epoch": T0,
        "end_epoch": T0 + 2.5,
    }


def test_longest_gap_is_between_consecutive_successes():
    gap = longest_gap([T0 + 3, T0 + 1, T0 + 2, T0 + 6.5, T0 + 7], T0, T0 + 8)
    assert (gap["start_epoch"], gap["end_epoch"], gap["seconds"]) == (T0 + 3, T0 + 6.5, 3.5)


def test_longest_gap_counts_an_outage_that_never_recovered():
    assert longest_gap([T0 + 1, T0 + 2], T0, T0 + 10)["start_epoch"] == T0 + 2
    assert longest_gap([], T0, T0 + 10)["seconds"] == 10


def test_longest_failure_run_counts_attempts_until_the_next_success():
    attempts = [(T0 + i, i not in (2, 3, 4, 8)) for i in range(10)]
    run = longest_failure_run(attempts, T0 + 10)
    assert run["attempts"] == 3
    assert (run["start_epoch"], run["end_epoch"]) == (T0 + 2, T0 + 5)


def test_longest_failure_run_open_at_the_end_lasts_until_the_end():
    run = longest_failure_run([(T0, True), (T0 + 1, False), (T0 + 2, False)], T0 + 3)
    assert (run["attempts"], run["seconds"]) == (2, 3 - 1)


def test_no_failure_is_an_empty_run():
    assert longest_failure_run([(T0, True)], T0 + 1) == {
        "attempts": 0,
        "seconds": 0.0,
        "start": None,
        "end": None,
        "start_epoch": None,
        "end_epoch": None,
    }


def test_tally_keeps_the_most_frequent_messages():
    messages = ["refused"] * 5 + ["reset"] * 2 + [f"rare {i}" for i in range(MAX_ERROR_KINDS)]
    counts = tally(messages)
    assert counts["refused"] == 5 and counts["reset"] == 2
    assert len(counts) == MAX_ERROR_KINDS + 1
    assert sum(counts.values()) == len(messages)
    assert counts[OTHER_ERRORS] == 2
