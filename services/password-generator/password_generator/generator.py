"""Password composition: exact counts of special characters and digits, letters
for the rest, every character and every position drawn from the OS CSPRNG."""

from __future__ import annotations

import secrets
import string

SPECIAL_CHARACTERS = string.punctuation
DIGITS = string.digits
LETTERS = string.ascii_letters

_WORD_RANGE = 2**32


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


def _shuffle(items: list[str]) -> None:
    """Fisher-Yates with one CSPRNG read (SystemRandom.shuffle reads once per item).

    Each position takes a 32-bit word modulo its range; a word past the largest
    multiple of the range (a chance below 1 in 4 million) is replaced by
    ``secrets.randbelow``, so every permutation stays equally likely.
    """
    words = memoryview(secrets.token_bytes(4 * len(items))).cast("I")
    for i in range(len(items) - 1, 0, -1):
        bound = i + 1
        word = words[i]
        j = word % bound if word < _WORD_RANGE - _WORD_RANGE % bound else secrets.randbelow(bound)
        items[i], items[j] = items[j], items[i]


def generate_password(length: int, special_chars: int, digits: int) -> str:
    """One password of ``length`` characters; callers have validated the counts."""
    characters = (
        _draw(SPECIAL_CHARACTERS, special_chars)
        + _draw(DIGITS, digits)
        + _draw(LETTERS, length - special_chars - digits)
    )
    # Without the shuffle every password would start with its special characters.
    _shuffle(characters)
    return "".join(characters)


def generate_passwords(count: int, length: int, special_chars: int, digits: int) -> list[str]:
    return [generate_password(length, special_chars, digits) for _ in range(count)]
