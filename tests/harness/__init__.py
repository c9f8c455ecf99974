"""Test harness shared by every test suite of the collection and its services."""
