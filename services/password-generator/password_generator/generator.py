"""Password composition: exact counts of special characters and digits, letters
for the rest, every character and every position drawn from the OS CSPRNG."""

from __future__ import annotations

import secrets
import string

SPECIAL_CHARACTERS = string.punctuation
DIGITS = string.digits
LETTERS = string.ascii_letters

_WORD_RANGE = 2**32


class _Alphabet:
    """Uniform draws from an alphabet, turning random bytes into characters in C.

    Bytes at or above the largest multiple of the alphabet size are dropped
    (rejection sampling), so the modulo introduces no bias.
    """

    def __init__(self, characters: str) -> None:
        size = len(characters)
        limit = 256 - 256 % size
        self._table = bytes(ord(characters[byte % size]) for byte in range(256))
        self._rejected = bytes(range(limit, 256))
        # The share of bytes kept, to ask for enough in one CSPRNG read most of the time.
        self._kept = limit / 256

    def draw(self, count: int) -> str:
        drawn = ""
        while len(drawn) < count:
            wanted = count - len(drawn)
            batch = secrets.token_bytes(int(wanted / self._kept) + 8)
            drawn += batch.translate(self._table, self._rejected).decode("ascii")
        return drawn[:count]


_SPECIALS, _DIGITS, _LETTERS = _Alphabet(SPECIAL_CHARACTERS), _Alphabet(DIGITS), _Alphabet(LETTERS)


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
    characters = list(
        _SPECIALS.draw(special_chars) + _DIGITS.draw(digits) + _LETTERS.draw(length - special_chars - digits)
    )
    # Without the shuffle every password would start with its special characters.
    _shuffle(characters)
    return "".join(characters)


def generate_passwords(count: int, length: int, special_chars: int, digits: int) -> list[str]:
    return [generate_password(length, special_chars, digits) for _ in range(count)]
