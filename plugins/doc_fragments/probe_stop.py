"""Documentation of the options that end a probe when a play says so (``sre.platform.probe_stop``).

Matches ``plugins/module_utils/probe.py``: ``STOP_FILE_ARGUMENT_SPEC`` and ``StopFile``.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  stop_file:
    description:
      - Path of a file whose appearance ends the probe early, O(stop_delay) seconds later. The play that
        makes the change creates it once the change is done, and O(duration) becomes the upper bound.
      - It is looked for before each attempt, so it is seen within one interval of the schedule.
      - Give a path that does not exist yet, in a fresh temporary directory. A file left by an earlier run
        stops the probe after its first attempt and O(stop_delay).
    type: path
  stop_delay:
    description:
      - Seconds the probe goes on after O(stop_file) appears, for the clients that arrive just after the
        change; never past O(duration).
    type: float
    default: 0
"""
