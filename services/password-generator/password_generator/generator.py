"""Password composition: exact counts of special characters and digits, letters
for the rest, every character and every position drawn from the OS CSPRNG."""

from __future__ import annotations

import secrets
import string

SPECIAL_CHARACTERS = string.punctuation
DIGITS = string.digits
LETTERS = string.ascii_letters

_random = secrets.SystemRandom()


def generate_password(length: int, special_chars: int, digits: int) -> str:
    """One password of ``length`` characters; callers have validated the counts."""
    letters = length - special_chars - digits
    characters = (
        [secrets.choice(SPECIAL_CHARACTERS) for _ in range(special_chars)]
        + [secrets.choice(DIGITS) for _ in range(digits)]
        + [secrets.choice(LETTERS) for _ in range(letters)]
    )
    # Without the shuffle every password would start with its special characters.
    _random.shuffle(characters)
    return "".join(characters)


def generate_passwords(count: int, length: int, special_chars: int, digits: int) -> list[str]:
    return [generate_password(length, special_chars, digits) for _ in range(count)]
