"""Times as every module and play of the collection writes them: ISO 8601 UTC with six fraction digits and a Z.

One format everywhere, so a drill's timeline, a benchmark's window and a probe's gaps line up as text:

- ``iso_utc(epoch)``: a Unix time in seconds, rounded to the microsecond (probes, alerts, the plays' own times);
- ``iso_utc_us(epoch_us)``: a Unix time in whole microseconds (pgbench's per-transaction logs).
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc_us(epoch_us: int) -> str:
    """``2025-01-31T12:00:00.123456Z`` for a Unix time in microseconds; a whole second keeps its six digits."""
    seconds, micros = divmod(epoch_us, 1_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def iso_utc(epoch: float) -> str:
    """``2025-01-31T12:00:00.123456Z`` for a Unix time in seconds."""
    return iso_utc_us(round(epoch * 1_000_000))
