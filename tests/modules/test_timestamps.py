"""The one time format of modules and plays: ISO 8601 UTC, six fraction digits, a trailing Z."""

from __future__ import annotations

import pytest
from ansible_collections.sre.platform.plugins.module_utils.timestamps import iso_utc, iso_utc_us

EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z


def test_iso_utc_us_keeps_every_microsecond():
    assert iso_utc_us(EPOCH * 1_000_000 + 7) == "2023-11-14T22:13:20.000007Z"
    # A whole second keeps its six digits: the format never changes with the value.
    assert iso_utc_us(EPOCH * 1_000_000) == "2023-11-14T22:13:20.000000Z"


@pytest.mark.parametrize(
    ("epoch", "iso"),
    [
        (EPOCH + 0.25, "2023-11-14T22:13:20.250000Z"),
        (EPOCH, "2023-11-14T22:13:20.000000Z"),
        (EPOCH + 0.9999996, "2023-11-14T22:13:21.000000Z"),  # rounds to the microsecond, carrying into the second
        (0, "1970-01-01T00:00:00.000000Z"),
    ],
)
def test_iso_utc_rounds_seconds_to_the_microsecond(epoch, iso):
    assert iso_utc(epoch) == iso
