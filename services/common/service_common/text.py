"""Text that may not survive being written out: checks shared by every service."""

from __future__ import annotations


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8.

    JSON's ``\\ud800`` escapes and bytes decoded with ``surrogateescape`` give
    strings with lone surrogates, which UTF-8 cannot encode: writing them to a
    response or to Redis would fail.
    """
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """``text`` itself when it is valid UTF-8, else with its lone surrogates spelled as ``\\udcff``."""
    return text if is_utf8(text) else text.encode("utf-8", "backslashreplace").decode()
