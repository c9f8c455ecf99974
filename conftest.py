"""Root conftest: every suite (tests/, services/*/tests) gets the server harness."""

from tests.harness.scheduling import module_scheduler

pytest_plugins = ["tests.harness.fixtures"]


def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist, workers take whole modules (tests/harness/scheduling.py)."""
    return module_scheduler(config, log)
