"""The hash the service exists for: hex SHA-1 of the user id followed by the salt."""

import hashlib


def user_hash(user_id: str, salt: str) -> str:
    # SHA-1 is the identifier format clients already store, not a password hash.
    return hashlib.sha1((user_id + salt).encode(), usedforsecurity=False).hexdigest()
