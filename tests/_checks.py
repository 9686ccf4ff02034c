"""Assertion helpers shared by test modules."""

from __future__ import annotations

import pytest

from gancluster.errors import GanclusterError


def raises(*words: str, exc: type[Exception] = GanclusterError, one_line: bool = False):
    """pytest.raises that also checks every key word is in the message (case-insensitive) and, with
    ``one_line``, that the message is a single line (what the CLI prints)."""

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *args):
            handled = self.ctx.__exit__(*args)
            msg = str(self.info.value)
            assert not (one_line and "\n" in msg), f"message is not one line: {msg}"
            missing = [w for w in words if w.lower() not in msg.lower()]
            assert not missing, f"{missing} not in message: {msg}"
            return handled

    return _Check()
