"""The sre.platform parameter tests: what a play accepts as a number, a switch, an identifier or a time."""

from __future__ import annotations

import pytest
from ansible_collections.sre.platform.plugins.module_utils.postgres import is_plain_identifier
from ansible_collections.sre.platform.plugins.test.parameters import (
    boolean,
    dns_name,
    integer,
    number,
    source_range,
    timestamp,
)


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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("shop", True),
        ("_shop_2", True),
        ("s" * 63, True),
        ("s" * 64, False),
        ("Shop", False),
        ("2shop", False),
        ("shop-2", False),
        ("shop; drop schema shop", False),
        ("shop\n", False),
        ("", False),
        (5, False),
    ],
)
def test_identifier(value, expected):
    assert is_plain_identifier(value) is expected


@pytest.mark.parametrize(
    ("value", "past", "expected"),
    [
        ("2026-11-21T23:40:00Z", False, True),
        ("2026-11-21T23:40:00.123456789+01:00", False, True),
        ("2020-01-01T00:00:00-05:00", True, True),
        ("2999-01-01T00:00:00Z", False, True),
        ("2999-01-01T00:00:00Z", True, False),
        ("2026-11-21 23:40:00Z", False, False),
        ("2026-11-21T23:40:00", False, False),
        ("2026-11-21", False, False),
        ("2026-02-30T00:00:00Z", False, False),
        ("2026-11-21T24:00:00Z", False, False),
        ("yesterday", False, False),
        (None, False, False),
    ],
)
def test_timestamp(value, past, expected):
    assert timestamp(value, past=past) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("172.16.0.0/12", True),
        ("127.0.0.1/32", True),
        ("2001:db8::/32", True),
        ("0.0.0.0/1", True),
        ("0.0.0.0/0", False),
        ("::/0", False),
        ("10.0.0.1", False),
        ("10.0.0.1/8", False),
        ("10.0.0.0/33", False),
        ("10.0.0.0/", False),
        ("everyone", False),
        (["10.0.0.0/8"], False),
        (None, False),
    ],
)
def test_source_range(value, expected):
    assert source_range(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hasher.example.com", True),
        ("kv-store.eu-west-1.example.com", True),
        ("localhost", True),
        ("a" * 63 + ".example.com", True),
        ("a" * 64 + ".example.com", False),
        (".".join(["a" * 63] * 4), False),  # 255 characters, above the 253 of a DNS name
        ("Hasher.example.com", False),
        ("hasher_1.example.com", False),
        ("-hasher.example.com", False),
        ("hasher-.example.com", False),
        ("hasher..example.com", False),
        ("hasher.example.com.", False),
        ("*.example.com", False),
        ("https://hasher.example.com", False),
        ("hasher.example.com/api", False),
        ("192.0.2.10", False),
        ("", False),
        (None, False),
        (["hasher.example.com"], False),
    ],
)
def test_dns_name(value, expected):
    assert dns_name(value) is expected
