"""Password composition, for every valid input (hypothesis)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from password_generator.config import MAX_COUNT, MAX_LENGTH
from password_generator.generator import (
    _DIGITS,
    _LETTERS,
    DIGITS,
    LETTERS,
    SPECIAL_CHARACTERS,
    _shuffle,
    generate_password,
    generate_passwords,
)


@st.composite
def compositions(draw, max_length: int = MAX_LENGTH):
    length = draw(st.integers(min_value=1, max_value=max_length))
    specials = draw(st.integers(min_value=0, max_value=length))
    digits = draw(st.integers(min_value=0, max_value=length - specials))
    return length, specials, digits


def _count(password: str, alphabet: str) -> int:
    return sum(character in alphabet for character in password)


@settings(max_examples=300, deadline=None)
@given(compositions())
def test_exact_counts_and_letters_for_the_rest(composition):
    length, specials, digits = composition
    password = generate_password(length, specials, digits)
    assert len(password) == length
    assert _count(password, SPECIAL_CHARACTERS) == specials
    assert _count(password, DIGITS) == digits
    assert _count(password, LETTERS) == length - specials - digits


@settings(max_examples=50, deadline=None)
@given(compositions(max_length=64), st.integers(min_value=1, max_value=MAX_COUNT))
def test_count_passwords_each_well_formed(composition, count):
    length, specials, digits = composition
    passwords = generate_passwords(count, length, specials, digits)
    assert len(passwords) == count
    assert all(len(p) == length and _count(p, DIGITS) == digits for p in passwords)


def test_positions_are_shuffled():
    # One digit among 9 letters: without the shuffle it would always be first.
    positions = {next(i for i, c in enumerate(generate_password(10, 0, 1)) if c in DIGITS) for _ in range(200)}
    assert len(positions) >= 8


def test_passwords_differ():
    assert len(set(generate_passwords(100, 16, 2, 2))) == 100


def test_every_character_of_each_alphabet_is_drawn_equally_often():
    # Rejection sampling keeps the draw uniform although 256 is no multiple of 10 or 52:
    # a plain modulo would give the last 4 letters 4/5 of the others' share.
    for alphabet, characters in ((_DIGITS, DIGITS), (_LETTERS, LETTERS)):
        per_character = 4000
        seen = Counter(alphabet.draw(per_character * len(characters)))
        assert set(seen) == set(characters)
        # sd ~63 per character; the modulo bias would put the last letters ~750 below the rest.
        assert all(abs(count - per_character) < 250 for count in seen.values()), seen


def test_shuffle_spreads_every_character_over_every_position():
    # 3 distinct characters, 6 permutations: 6,000 shuffles put each near 1,000 (sd ~29).
    seen = Counter()
    for _ in range(6000):
        items = ["a", "b", "c"]
        _shuffle(items)
        seen["".join(items)] += 1
    assert set(seen) == {"abc", "acb", "bac", "bca", "cab", "cba"}
    assert all(800 < count < 1200 for count in seen.values()), seen
