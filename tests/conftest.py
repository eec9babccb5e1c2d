"""Shared fixtures: a generated store (made once per session) and small helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fakepeer import generation
from fakepeer.pki import mirrors
from fakepeer.pki.authority import IssueOptions
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.store import CertStore


def make_pki(root: Path, **options: object) -> Pki:
    issue = IssueOptions(**options)  # type: ignore[arg-type]
    return Pki(CertStore(root, issue.variant), issue)


@pytest.fixture(scope="session")
def session_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with every era and defect, generated once for the whole test session."""
    root = tmp_path_factory.mktemp("store") / "certs"
    pki = make_pki(root)
    generation.generate(pki, list(mirrors.ERAS), with_defects=True)
    pki.certificates(sorted(pki.cas))  # every CA, as serve's HTTP side makes them at start
    return root


@pytest.fixture
def pki(session_store: Path) -> Pki:
    """A fresh Pki object over the shared store (nothing cached between tests)."""
    return make_pki(session_store)


@pytest.fixture
def store_copy(session_store: Path, tmp_path: Path) -> Path:
    """A private copy of the shared store, for tests that damage files."""
    target = tmp_path / "certs"
    shutil.copytree(session_store, target, symlinks=True)
    return target


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed; scripts/setup.sh --test installs it")
    return path
