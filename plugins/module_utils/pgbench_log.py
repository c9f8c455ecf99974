"""pgbench per-transaction logs (``-l --log-prefix PREFIX``): parsing and the figures of a run.

A log line is ``client_id transaction_no time script_no time_epoch time_us
[schedule_lag] [retries]``: ``time`` is the latency in microseconds, or
``failed`` / ``skipped``; ``time_epoch`` + ``time_us`` is when the transaction
ended. With ``-j N`` every thread writes its own file (``PREFIX.PID`` for the
first, ``PREFIX.PID.1`` ... for the others): all of them are combined.

The measured window is the run after its warm-up: from the run's start plus
the warm-up to the run's start plus its duration (``-T``), so time in which
no transaction finished, idle under ``-R`` or a stall, counts against the TPS
like any other. pgbench lets the transactions in flight at the end finish: the
window ends at the last of them when that is later. Transactions that ended
before the warm-up was over are dropped from every figure.

pgbench does not log when its ``-T`` clock started. Given when it was launched
(``launched_us``), the run's start is the later of that and the last
transaction start minus the duration (pgbench starts no transaction once
``-T`` is over), which pins it for an unthrottled run. For logs of a run made
elsewhere it is the earliest transaction start (end minus latency), later than
pgbench's start by its connection time and, under ``-R``, by the first
transaction's schedule.
"""

from __future__ import annotations

import glob
import math
from typing import NamedTuple

from ansible_collections.sre.platform.plugins.module_utils.stats import LATENCY_FIELDS, latency_summary_ms, nearest_rank
from ansible_collections.sre.platform.plugins.module_utils.timestamps import iso_utc_us

OUTCOMES = ("failed", "skipped")


class PgbenchLogError(ValueError):
    """A log file is missing, unreadable or malformed, or holds nothing to measure."""


class Transaction(NamedTuple):
    end_us: int
    latency_us: int | None  # None for failed and skipped transactions
    outcome: str  # ok | failed | skipped
    script: int = 0  # which of the run's scripts (-f / -b), in the order given, from 0


def log_files(prefix: str) -> list[str]:
    """Every per-thread log file written with ``--log-prefix prefix``, sorted."""
    return sorted(glob.glob(f"{glob.escape(prefix)}.*"))


def parse_line(line: str, where: str) -> Transaction:
    fields = line.split()
    if len(fields) < 6:
        raise PgbenchLogError(f"{where}: expected at least 6 fields, got {line!r}")
    try:
        end_us = int(fields[4]) * 1_000_000 + int(fields[5])
        script = int(fields[3])
        if fields[2] in OUTCOMES:
            return Transaction(end_us, None, fields[2], script)
        return Transaction(end_us, int(fields[2]), "ok", script)
    except ValueError as exc:
        raise PgbenchLogError(f"{where}: not a pgbench log line ({exc}): {line!r}") from exc


def parse_text(text: str, source: str) -> list[Transaction]:
    """Every transaction of per-transaction log lines (one or several threads' files concatenated)."""
    return [
        parse_line(line, f"{source}:{number}") for number, line in enumerate(text.splitlines(), start=1) if line.strip()
    ]


def read_logs(paths: list[str]) -> list[Transaction]:
    """Every transaction of every log file."""
    if not paths:
        raise PgbenchLogError("pgbench wrote no per-transaction log file")
    transactions = []
    for path in paths:
        try:
            with open(path, encoding="ascii") as handle:
                transactions.extend(parse_text(handle.read(), path))
        except (OSError, UnicodeDecodeError) as exc:
            raise PgbenchLogError(f"cannot read the pgbench log {path}: {exc}") from exc
    return transactions


def load_start_us(transactions: list[Transaction]) -> int:
    """When the load began: the earliest transaction start (a failed one only has its end)."""
    return min(t.end_us - (t.latency_us or 0) for t in transactions)


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def run_start_us(transactions: list[Transaction], duration_s: float, launched_us: int | None) -> int:
    """When the run's -T clock started, as far as the launch time and the logs tell (module docstring)."""
    if launched_us is None:
        return load_start_us(transactions)
    # Failed transactions only have their end: their start is unknown.
    starts = [t.end_us - t.latency_us for t in transactions if t.latency_us is not None]
    return max(launched_us, max(starts, default=launched_us) - _us(duration_s))


def measured_window_us(
    transactions: list[Transaction], duration_s: float, warmup_s: float, launched_us: int | None
) -> tuple[int, int]:
    """Start and end of the measured window (see the module docstring)."""
    start_us = run_start_us(transactions, duration_s, launched_us)
    end_us = max(start_us + _us(duration_s), max(t.end_us for t in transactions))
    return start_us + _us(warmup_s), end_us


def per_second(measured: list[Transaction], start_us: int, end_us: int) -> list[dict]:
    """Completed transactions, p50 and p99 latency for every second of the window (by end time).

    A second in which no transaction succeeded, an outage, is there with 0 transactions and null latencies;
    the last, partial second holds whatever ended up to the window's end.
    """
    last = max(math.ceil((end_us - start_us) / 1_000_000) - 1, 0)
    buckets: list[list[int]] = [[] for _ in range(last + 1)]
    for transaction in measured:
        if transaction.latency_us is not None:
            buckets[min((transaction.end_us - start_us) // 1_000_000, last)].append(transaction.latency_us)
    return [_second(offset, sorted(latencies)) for offset, latencies in enumerate(buckets)]


def _second(offset: int, latencies: list[int]) -> dict:
    return {
        "second": offset,
        "transactions": len(latencies),
        "latency_p50_ms": nearest_rank(latencies, 50) / 1000.0 if latencies else None,
        "latency_p99_ms": nearest_rank(latencies, 99) / 1000.0 if latencies else None,
    }


def _window(start_us: int, end_us: int) -> dict:
    return {
        "window_start_epoch": start_us / 1_000_000,
        "window_end_epoch": end_us / 1_000_000,
        "window_start": iso_utc_us(start_us),
        "window_end": iso_utc_us(end_us),
        "window_seconds": (end_us - start_us) / 1_000_000,
    }


def figures(transactions: list[Transaction], seconds: float) -> dict:
    """Successful and failed counts, error rate, TPS over ``seconds`` and latencies (ms) of some transactions.

    Without a successful transaction the latencies are ``None`` (and the error rate 100 % if some failed).
    """
    latencies = sorted(t.latency_us for t in transactions if t.latency_us is not None)
    failed = sum(1 for t in transactions if t.outcome == "failed")
    finished = len(latencies) + failed
    return {
        "transactions": len(latencies),
        "failed_transactions": failed,
        "error_rate_percent": failed / finished * 100.0 if finished else 0.0,
        "tps": len(latencies) / seconds,
        **(latency_summary_ms(latencies) if latencies else dict.fromkeys(LATENCY_FIELDS)),
    }


def by_script(measured: list[Transaction], names: list[str], seconds: float) -> list[dict]:
    """The figures of each script over the window, in the run's order of scripts.

    ``names`` are the scripts' names by number; a number beyond them is named ``script N``. A script that
    finished no transaction in the window has zero counts and no latencies (``None``).
    """
    grouped: dict[int, list[Transaction]] = {}
    for transaction in measured:
        grouped.setdefault(transaction.script, []).append(transaction)
    scripts = []
    for number in range(max(len(names), 1 + max(grouped, default=-1))):
        name = names[number] if number < len(names) else f"script {number}"
        scripts.append({"script": name, **figures(grouped.get(number, []), seconds)})
    return scripts


def summarize(
    transactions: list[Transaction],
    duration_s: float,
    warmup_s: float = 0,
    scripts: list[str] | None = None,
    launched_us: int | None = None,
) -> dict:
    """Figures of a run of ``duration_s`` seconds: counts, TPS, error rate, latencies (ms), the window, a
    per-second series and, given the names of the run's ``scripts`` (in their order on the command line), the
    same figures per script. ``launched_us``: when pgbench was launched, if known (Unix time, µs)."""
    if not transactions:
        raise PgbenchLogError("the pgbench logs hold no transaction")
    if not 0 <= warmup_s < duration_s:
        raise PgbenchLogError(f"the warm-up ({warmup_s} s) must be shorter than the run ({duration_s} s)")
    start_us, end_us = measured_window_us(transactions, duration_s, warmup_s, launched_us)
    measured = [t for t in transactions if t.end_us >= start_us]
    # A run in which every transaction failed has figures (a 100 % error rate); one with none finished has none.
    if not any(t.outcome in ("ok", "failed") for t in measured):
        raise PgbenchLogError(
            f"no transaction finished in the measured window after the {warmup_s} s warm-up "
            f"({len(transactions)} in the logs, all before it or skipped)"
        )
    window = _window(start_us, end_us)
    return {
        **figures(measured, window["window_seconds"]),
        "skipped_transactions": sum(1 for t in measured if t.outcome == "skipped"),
        "warmup_transactions": len(transactions) - len(measured),
        **window,
        "timeseries": per_second(measured, start_us, end_us),
        "by_script": by_script(measured, scripts or [], window["window_seconds"]),
    }
