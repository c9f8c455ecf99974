"""The hash itself, against the published check value and hashlib."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st
from user_hasher.hashing import user_hash


def test_published_check_value():
    assert user_hash("TESTUSERID", "TESTSALT") == "9f1021612c2a810d26472a66e4064f6608d52fd3"


@given(st.text(min_size=1), st.text())
def test_sha1_of_id_then_salt(user_id, salt):
    assert user_hash(user_id, salt) == hashlib.sha1(f"{user_id}{salt}".encode(), usedforsecurity=False).hexdigest()
