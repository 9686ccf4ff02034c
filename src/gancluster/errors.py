"""User-facing errors.

Every problem a user can fix (bad input, missing data, a foreign checkpoint) raises a subclass of
:class:`GanclusterError` whose message names the problem and the fix. The CLI turns these into a
one-line message and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class GanclusterError(ValueError):
    """A problem with the user's input, data, config or files that the user can fix."""


class DataNotFoundError(GanclusterError, FileNotFoundError):
    """A dataset could not be found where it was looked for."""


class CheckpointError(GanclusterError):
    """A checkpoint is missing, corrupt, foreign, or from an incompatible version."""


class InputTypeError(GanclusterError, TypeError):
    """Input of the wrong type (e.g. text where numbers belong); a TypeError too, as scikit-learn expects."""


class ConfigError(GanclusterError):
    """A config has an unknown key, a wrong type or an invalid value."""


class DivergenceError(GanclusterError, RuntimeError):
    """Training produced non-finite losses or weights."""


class OutputError(GanclusterError):
    """A file could not be written (disk full, read-only or missing folder); the previous file is kept."""
