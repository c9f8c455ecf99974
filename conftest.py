"""Root conftest: every suite (tests/, services/*/tests) gets the server harness."""

pytest_plugins = ["tests.harness.fixtures"]
