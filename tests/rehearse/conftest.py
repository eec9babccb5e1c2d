"""Fixtures for rehearsal tests: the lab SBC's files and trust anchors from the serve
tests, and the shipped scenario catalogue."""

from __future__ import annotations

import pytest

from fakepeer.scenario.load import Catalogue, load_catalogue, scenario_dirs
from tests.serve.conftest import anchors, sbc_files  # noqa: F401 - fixtures shared as is


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The shipped scenario catalogue, loaded once."""
    return load_catalogue(scenario_dirs())
