"""Tests for playbook parameters: numbers given with -e arrive as text, and ``| int`` turns a typo into 0.

``value is sre.platform.integer(minimum=1)`` and ``value is sre.platform.number(greater_than=0)`` accept a
number or the text of one, and nothing else: no ``30s``, no trailing newline, no ``1e6``, no booleans.
``value is sre.platform.boolean`` accepts what ``| bool`` reads as true or false, where ``| bool`` would read
a typo such as ``ture`` as false. ``value is sre.platform.identifier`` accepts a name that goes into SQL and a
shell as it is, and ``value is sre.platform.timestamp(past=true)`` an RFC 3339 time with its zone.
``value is sre.platform.source_range`` accepts a client network for a load balancer or a NetworkPolicy: a
network in CIDR notation that is not the whole address space. ``value is sre.platform.dns_name`` accepts a
host name an Ingress can answer for.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import UTC, datetime

from ansible.module_utils.parsing.convert_bool import BOOLEANS
from ansible_collections.sre.platform.plugins.module_utils.postgres import is_plain_identifier

INTEGER_TEXT = re.compile(r"-?[0-9]+")
NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# A DNS label: lowercase letters, digits and '-' inside, at most 63 characters (RFC 1123).
DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_NAME = re.compile(rf"{DNS_LABEL}(\.{DNS_LABEL})*")
DNS_NAME_MAX_LENGTH = 253
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")


def _as_number(value, text_form: re.Pattern, kinds: tuple[type, ...]):
    """The value as a number when it is one of ``kinds`` or text in ``text_form``; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, kinds):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and text_form.fullmatch(value):
        return float(value) if "." in value else int(value)
    return None


def integer(value, minimum: int | None = None, maximum: int | None = None) -> bool:
    """A whole number, or its text, within [minimum, maximum] (either bound may be left out)."""
    number = _as_number(value, INTEGER_TEXT, (int,))
    return number is not None and (minimum is None or number >= minimum) and (maximum is None or number <= maximum)


def number(value, minimum: float | None = None, greater_than: float | None = None) -> bool:
    """A finite number, or its text (digits, an optional fraction), at least ``minimum``, above ``greater_than``."""
    found = _as_number(value, NUMBER_TEXT, (int, float))
    return (
        found is not None and (minimum is None or found >= minimum) and (greater_than is None or found > greater_than)
    )


def boolean(value) -> bool:
    """A boolean, or one of the spellings Ansible reads as one (yes, no, on, off, 1, 0, t, f...), any case."""
    if isinstance(value, str):
        value = value.lower()
    return isinstance(value, (bool, int, float, str)) and value in BOOLEANS


def timestamp(value, past: bool = False) -> bool:
    """An RFC 3339 time with its zone (2026-11-21T23:40:00Z) that exists in the calendar; not later than now
    when ``past``."""
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        return False
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # a month 13, a February 30th, an hour 24
        return False
    return not past or moment <= datetime.now(UTC)


def source_range(value) -> bool:
    """A network in CIDR notation (10.0.0.0/8, 2001:db8::/32) without host bits and with a prefix longer
    than 0: 0.0.0.0/0 and ::/0 let everyone in, which a source range is there to prevent."""
    if not isinstance(value, str) or "/" not in value:
        return False
    try:
        return ipaddress.ip_network(value, strict=True).prefixlen > 0
    except ValueError:  # not an address, a prefix out of range, host bits set (10.0.0.1/8)
        return False


def dns_name(value) -> bool:
    """A lowercase DNS name (RFC 1123 subdomain, as Kubernetes checks an Ingress host): dot-separated labels of
    letters, digits and '-', at most 253 characters; no wildcard, no trailing dot, not an IP address."""
    if not isinstance(value, str) or len(value) > DNS_NAME_MAX_LENGTH or not DNS_NAME.fullmatch(value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return True
    return False  # an Ingress host must be a name: the API server refuses an address


class TestModule:
    """sre.platform tests."""

    def tests(self) -> dict:
        return {
            "boolean": boolean,
            "dns_name": dns_name,
            "identifier": is_plain_identifier,
            "integer": integer,
            "number": number,
            "source_range": source_range,
            "timestamp": timestamp,
        }
