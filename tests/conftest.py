"""Test-wide settings: tests train tiny models, for which one thread is fastest and most repeatable."""

import torch

torch.set_num_threads(1)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The number of cases each hypothesis property tried (tests/test_hostile_input.py), for the CI log."""
    summary = getattr(config, "hypothesis_case_summary", None)
    if summary:
        terminalreporter.write_line(summary)
