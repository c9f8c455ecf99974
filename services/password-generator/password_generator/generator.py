"""Password composition: exact counts of special characters and digits, letters
for the rest, every character and every position drawn from the OS CSPRNG."""

from __future__ import annotations

import secrets
import string

SPECIAL_CHARACTERS = string.punctuation
DIGITS = string.digits
LETTERS = string.ascii_letters

_random = secrets.SystemRandom()


def _draw(alphabet: str, count: int) -> list[str]:
    """``count`` characters drawn uniformly from ``alphabet`` with one CSPRNG read.

    Bytes at or above the largest multiple of the alphabet size are dropped,
    so the modulo introduces no bias.
    """
    size = len(alphabet)
    limit = 256 - 256 % size
    drawn: list[str] = []
    while len(drawn) < count:
        batch = secrets.token_bytes(2 * (count - len(drawn)) + 8)
        drawn.extend(alphabet[byte % size] for byte in batch if byte < limit)
    return drawn[:count]


def generate_password(length: int, special_chars: int, digits: int) -> str:
    """One password of ``length`` characters; callers have validated the counts."""
    characters = (
        _draw(SPECIAL_CHARACTERS, special_chars)
        + _draw(DIGITS, digits)
        + _draw(LETTERS, length - special_chars - digits)
    )
    # Without the shuffle every password would start with its special characters.
    _random.shuffle(characters)
    return "".join(characters)


def generate_passwords(count: int, length: int, special_chars: int, digits: int) -> list[str]:
    return [generate_password(length, special_chars, digits) for _ in range(count)]
