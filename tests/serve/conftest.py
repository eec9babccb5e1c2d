"""Fixtures for ``serve`` tests: a shared store and a lab SBC certificate on disk."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks import loadgen
from fakepeer.pki import export
from fakepeer.pki.keys import private_key_pem
from fakepeer.pki.situation import Situation, build_situation, sbc_chain
from tests.conftest import make_pki, require


@dataclass
class SbcFiles:
    fqdn: str
    cert: Path
    key: Path
    chain: Path


@pytest.fixture(scope="session")
def sbc_files(session_store: Path, tmp_path_factory: pytest.TempPathFactory) -> SbcFiles:
    """A lab SBC certificate (sbc.lab.example, DigiCert G2 mirror) as s_client files."""
    require("openssl")
    folder = tmp_path_factory.mktemp("sbc")
    served = sbc_chain(make_pki(session_store), ("sbc.lab.example",))
    files = SbcFiles("sbc.lab.example", folder / "sbc.pem", folder / "sbc.key.pem",
                     folder / "sbc.chain.pem")
    files.cert.write_bytes(export.pem([served.leaf]))
    files.key.write_bytes(private_key_pem(served.key))
    files.chain.write_bytes(export.pem(served.extra))
    return files


@pytest.fixture(scope="session")
def anchors(session_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each era's trust anchor as a CA file, as an SBC's trust store would hold it."""
    folder = tmp_path_factory.mktemp("anchors")
    pki = make_pki(session_store)
    out = {}
    for era in ("microsoft-2020", "microsoft-2023", "microsoft-2026", "genesys"):
        served = build_situation(pki, Situation(era=era))
        out[era] = folder / f"{era}.pem"
        out[era].write_bytes(export.pem(served.trust_anchors))
    return out


@pytest.fixture(scope="module")
def sbc_context(sbc_files: SbcFiles, tmp_path_factory: pytest.TempPathFactory
                ) -> ssl.SSLContext:
    """Mutual TLS as the lab SBC (sbc.lab.example) for Python clients; the server is not
    verified (these tests are about what serve reports)."""
    bundle = tmp_path_factory.mktemp("bundle") / "sbc-with-chain.pem"
    bundle.write_bytes(sbc_files.cert.read_bytes() + sbc_files.chain.read_bytes())
    return loadgen.client_context(bundle, sbc_files.key)
