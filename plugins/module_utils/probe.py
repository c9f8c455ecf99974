"""Client-side probes: act at a steady pace for a duration, then report what a client saw.

Shared by ``pg_write_probe`` and ``http_probe`` so both drills judge availability the same way:

- ``Pacer``: the schedule (slot ``i`` is due ``i * interval`` after the start) on the monotonic clock, with
  wall-clock times derived from one reference taken at the start, so gaps and timestamps always agree;
- ``StopFile``: ends a pacer's schedule early, a set delay after a file appears (the change a probe watches
  is done), looked for by ``Pacer.reached`` before each slot; its options are ``STOP_FILE_ARGUMENT_SPEC``,
  checked by ``stop_file_errors`` (documented by the ``sre.platform.probe_stop`` doc fragment);
- ``longest_gap(times, start, end)``: the longest stretch of the window without a success;
- ``longest_failure_run(attempts, end)``: the longest run of consecutive failed attempts and how long it lasted;
- ``span(start, end)``: a stretch of time for reports (the window, a gap), its ends in ISO 8601 UTC;
- ``tally(messages)``: how often each error message occurred, bounded so a long outage stays readable.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections import Counter

from ansible_collections.sre.platform.plugins.module_utils.timestamps import iso_utc

# Options of the modules that take a StopFile (doc fragment sre.platform.probe_stop).
STOP_FILE_ARGUMENT_SPEC = {
    "stop_file": {"type": "path"},
    "stop_delay": {"type": "float", "default": 0},
}

# Distinct error messages kept in a report; the rest are counted under OTHER_ERRORS.
MAX_ERROR_KINDS = 10
OTHER_ERRORS = "(other errors)"


class Pacer:
    """A fixed schedule of ``duration / interval`` slots, started when the pacer is created; ``stop`` may end it
    early."""

    def __init__(self, interval: float, duration: float, stop: StopFile | None = None) -> None:
        if interval <= 0 or duration <= 0:
            raise ValueError(f"interval and duration must be positive, got {interval} and {duration}")
        self.interval = interval
        self.duration = duration
        # Rounded first: 0.3 s / 0.1 s is 2.9999999999999996 in floating point, and must be 3 slots.
        self.slots = math.floor(round(duration / interval, 6))
        self._monotonic_start = time.monotonic()
        self.start = time.time()
        self.end = self.start + duration
        self.stop = stop or StopFile(None, 0)

    def now(self) -> float:
        """Wall-clock time on the pacer's reference (immune to clock steps during the run)."""
        return self.start + (time.monotonic() - self._monotonic_start)

    def due(self, slot: int) -> float:
        """Wall-clock time at which ``slot`` is scheduled."""
        return self.start + slot * self.interval

    def wait_for(self, slot: int) -> None:
        """Sleep until ``slot`` is due (at once when it already is)."""
        delay = self._monotonic_start + slot * self.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def reached(self, slot: int) -> bool:
        """Wait until ``slot`` is due; False when the schedule ends before it (at its end, or by the stop file)."""
        if slot >= self.slots:
            return False
        self.wait_for(slot)
        self.stop.check(self)
        return slot < self.slots

    def end_at(self, at: float) -> bool:
        """End the schedule at ``at`` (wall clock, on the pacer's reference); False when it ends before anyway.

        The slots due from ``at`` on are dropped and the window ends there; the first slot always stays, so a
        probe stopped at once still reports one attempt.
        """
        if at >= self.end:
            return False
        self.slots = min(self.slots, max(1, math.ceil(round((at - self.start) / self.interval, 6))))
        self.end = max(at, self.start)
        return True

    def next_slot(self, after: int) -> int:
        """The first slot after ``after`` that is not yet past: a late attempt skips the slots it overran."""
        elapsed = time.monotonic() - self._monotonic_start
        return max(after + 1, math.ceil(round(elapsed / self.interval, 6)))


class StopFile:
    """Stops a pacer ``delay`` seconds after ``path`` appears: how a play says the change under probe is done."""

    def __init__(self, path: str | None, delay: float) -> None:
        self.path = path
        self.delay = delay
        self.seen: float | None = None
        self.ended_early = False  # the file cut the schedule short (not when the delay reaches past its end)

    @classmethod
    def from_params(cls, params: dict) -> StopFile:
        return cls(params["stop_file"], params["stop_delay"])

    def check(self, pacer: Pacer) -> None:
        """Look for the file (one stat call); the first time it is there, end the pacer's schedule."""
        if self.path and self.seen is None and os.path.exists(self.path):
            self.seen = pacer.now()
            self.ended_early = pacer.end_at(self.seen + self.delay)

    @property
    def stopped_by(self) -> str:
        """What ended the run: ``stop_file``, or ``duration``."""
        return "stop_file" if self.ended_early else "duration"


def stop_file_errors(params: dict) -> list[str]:
    return [f"stop_delay must not be negative, got {params['stop_delay']}"] if params["stop_delay"] < 0 else []


def span(start: float, end: float) -> dict:
    """A stretch of time: ``seconds``, ``start``/``end`` (ISO 8601 UTC) and ``start_epoch``/``end_epoch``."""
    return {
        "seconds": end - start,
        "start": iso_utc(start),
        "end": iso_utc(end),
        "start_epoch": start,
        "end_epoch": end,
    }


def longest_gap(success_times: list[float], start: float, end: float) -> dict:
    """The longest stretch of [start, end] without a success, as a span (``seconds``, ``start``, ``end``).

    The window's edges count as bounds, so an outage that never recovered before the end (or a target
    that never answered) shows as a gap too instead of disappearing from the figures.
    """
    points = [start, *sorted(success_times), end]
    gap_start, gap_end = max(itertools.pairwise(points), key=lambda pair: pair[1] - pair[0])
    return span(gap_start, gap_end)


def longest_failure_run(attempts: list[tuple[float, bool]], end: float) -> dict:
    """The longest run of consecutive failed attempts (``(time, ok)`` pairs, in any order).

    Returns a span from the first failure of the run to the next success (or ``end``) plus ``attempts``,
    the number of failures in it; all zero and ``None`` when nothing failed.
    """
    best = {"attempts": 0, "seconds": 0.0, "start": None, "end": None, "start_epoch": None, "end_epoch": None}
    run_start, run_length = None, 0
    for at, ok in [*sorted(attempts), (end, True)]:
        if not ok:
            run_start = at if run_start is None else run_start
            run_length += 1
            continue
        if run_start is not None and run_length > best["attempts"]:
            best = {"attempts": run_length, **span(run_start, at)}
        run_start, run_length = None, 0
    return best


def tally(messages: list[str]) -> dict:
    """``{message: count}`` of the most frequent error messages; the rarest beyond the limit are summed."""
    counts = Counter(messages).most_common()
    kept = dict(counts[:MAX_ERROR_KINDS])
    rest = sum(count for _, count in counts[MAX_ERROR_KINDS:])
    if rest:
        kept[OTHER_ERRORS] = rest
    return kept
