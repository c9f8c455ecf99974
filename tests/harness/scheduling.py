"""How pytest-xdist shares the suite between workers: whole modules, never single tests.

Module fixtures (servers, the Kubernetes API emulator) then start once per
module, tests that build on the previous test's state (tests/test_release.py)
run in order, and suites sharing session fixtures (one render per inventory)
stay on one worker so those fixtures are built once.
"""

from __future__ import annotations

# Directories whose modules share session fixtures.
SHARED_SESSION_DIRS = ("tests/render/",)


def work_unit(nodeid: str) -> str:
    """What one worker runs as a whole: a test's module, or its shared suite."""
    for directory in SHARED_SESSION_DIRS:
        if nodeid.startswith(directory):
            return directory
    return nodeid.split("::", 1)[0]


def module_scheduler(config, log):
    """A pytest-xdist scheduler that hands out work units (see work_unit)."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ModuleScheduling(config, log)
