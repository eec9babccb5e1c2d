"""The soak's fixtures (the lab SBC certificate is the serve tests' own) and its line
in pytest's terminal summary."""

from __future__ import annotations

import pytest

from tests.serve.conftest import sbc_files as sbc_files  # the fixture, shared
from tests.soak.figures import SOAK_FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for figures in terminalreporter.config.stash.get(SOAK_FIGURES, []):
        terminalreporter.write_line(figures.line())
        terminalreporter.write_line(figures.detail())
