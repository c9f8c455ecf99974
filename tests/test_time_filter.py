"""The iso_utc filter: the play's own times in the form the modules return theirs."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.sre.platform.plugins.filter.platform import iso_utc


@pytest.mark.parametrize(
    ("epoch", "iso"),
    [
        (1767225630.5, "2026-01-01T00:00:30.500000Z"),
        ("1767225600", "2026-01-01T00:00:00.000000Z"),  # now().timestamp() comes back from a fact as a string
        (1767225600.9999996, "2026-01-01T00:00:01.000000Z"),  # rounds to the microsecond, carrying into the second
    ],
)
def test_iso_utc_writes_microseconds_and_z(epoch, iso):
    assert iso_utc(epoch) == iso


def test_iso_utc_names_a_value_that_is_not_a_time():
    with pytest.raises(AnsibleFilterError, match="iso_utc: not a Unix time in seconds: 'yesterday'"):
        iso_utc("yesterday")
