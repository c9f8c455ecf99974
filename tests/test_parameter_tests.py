"""The sre.platform.integer, number and boolean tests: what a play accepts as a number or a switch."""

from __future__ import annotations

import pytest
from ansible_collections.sre.platform.plugins.test.parameters import boolean, integer, number


@pytest.mark.parametrize(
    ("value", "bounds", "expected"),
    [
        ("30", {}, True),
        (30, {"minimum": 30}, True),
        ("-5", {}, True),
        ("29", {"minimum": 30}, False),
        ("9223372036854775807", {"maximum": 2**63 - 1}, True),
        (2**63, {"maximum": 2**63 - 1}, False),
        ("30s", {}, False),
        ("1e6", {}, False),
        ("2.5", {}, False),
        (2.0, {}, False),
        ("1000\n", {}, False),
        (" 7", {}, False),
        ("", {}, False),
        (True, {}, False),
        (None, {}, False),
    ],
)
def test_integer(value, bounds, expected):
    assert integer(value, **bounds) is expected


@pytest.mark.parametrize(
    ("value", "bounds", "expected"),
    [
        ("0.5", {"greater_than": 0}, True),
        (0.5, {"greater_than": 0}, True),
        ("0", {"greater_than": 0}, False),
        (0, {"minimum": 0}, True),
        ("10", {"minimum": 0}, True),
        ("-0.1", {"minimum": 0}, False),
        ("5s", {}, False),
        ("1e3", {}, False),
        ("nan", {}, False),
        (float("nan"), {}, False),
        (float("inf"), {}, False),
        (".5", {}, False),
        (False, {}, False),
    ],
)
def test_number(value, bounds, expected):
    assert number(value, **bounds) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, True),
        ("true", True),
        ("False", True),
        ("YES", True),
        ("off", True),
        ("y", True),
        ("t", True),
        ("1", True),
        ("0", True),
        (1, True),
        (0, True),
        ("ture", False),
        ("maybe", False),
        ("", False),
        ("yes ", False),
        (2, False),
        (None, False),
        (["yes"], False),
    ],
)
def test_boolean(value, expected):
    assert boolean(value) is expected
