"""Fixtures for the outbound direction: SBC certificates (good and broken), an
``openssl s_server`` standing in for an SBC, and ``fakepeer probe`` run in-process on the
test's reactor."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fakepeer.cli.environment import Environment
from fakepeer.pki import export, mirrors
from fakepeer.pki.chain import ServedChain
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.keys import private_key_pem
from fakepeer.pki.model import LeafProfile, SanEntry, dns
from fakepeer.pki.situation import Situation, build_situation, sbc_chain
from tests.conftest import make_pki, require
from tests.inprocess import run_command
from tests.peers.kamailio import free_port

SBC = "sbc.lab.example"
#: Long enough for a loopback peer, short enough that "no answer" tests stay quick.
TIMEOUT = "1"


def _lab_leaf(pki: Pki, name: str, profile: LeafProfile,
              validity: tuple[datetime, datetime] | None = None,
              state: str = "valid") -> ServedChain:
    """An SBC leaf under the mirrored DigiCert G2 issuing CA, with that CA as its chain."""
    path = mirrors.SBC_ISSUERS["digicert-g2"]
    issued = {c.id: c.certificate for c in pki.certificates([*path.certificates])}
    leaf = pki.leaf(f"probe-test-{name}", profile, path.certificates[0], key_id="probe-test-sbc",
                    validity=validity, state=state)
    return ServedChain(leaf=leaf.certificate, key=leaf.key,
                       extra=tuple(issued[c] for c in path.certificates), label=name)


def _profile(name: str, subject_cn: str, sans: tuple[SanEntry, ...]) -> LeafProfile:
    return LeafProfile(id=f"probe-{name}", subject=(("C", "US"), ("O", "fakepeer lab SBC"),
                                                    ("CN", subject_cn)),
                       sans=sans, hash="sha256")


@dataclass
class Chains:
    """SBC chains as ``s_server`` or Kamailio serve them, one per SBC-side defect."""

    good: ServedChain
    expired: ServedChain
    wrong_name: ServedChain
    untrusted: ServedChain
    ip_only: ServedChain
    anchors: dict[str, tuple[Any, ...]] = field(default_factory=dict)


@pytest.fixture(scope="session")
def chains(session_store: Path) -> Chains:
    """The lab SBC certificate and its broken variants, made once per session."""
    pki = make_pki(session_store)
    now = datetime.now(UTC)
    anchors = {era: build_situation(pki, Situation(era=era)).trust_anchors
               for era in ("microsoft-2020", "microsoft-2023", "microsoft-2026")}
    return Chains(
        good=sbc_chain(pki, (SBC,)),
        expired=_lab_leaf(pki, "expired", _profile("expired", SBC, dns(SBC)),
                          (now - timedelta(days=120), now - timedelta(days=1)), "expired"),
        wrong_name=sbc_chain(pki, ("other.lab.example",)),
        untrusted=sbc_chain(pki, (SBC,), issuer="untrusted"),
        ip_only=_lab_leaf(pki, "ip-only", _profile("ip-only", "127.0.0.1",
                                                   (SanEntry("ip", "127.0.0.1"),))),
        anchors=anchors,
    )


@dataclass
class SServer:
    """An ``openssl s_server`` on 127.0.0.1 and what it printed (the bytes it received)."""

    port: int
    process: subprocess.Popen[bytes]
    output: bytes = b""

    def finish(self) -> str:
        """Stop the server and return everything it printed."""
        if self.process.poll() is None:
            self.process.kill()
        rest, _ = self.process.communicate(timeout=10)
        self.output += rest or b""
        return self.output.decode(errors="replace")


@contextmanager
def s_server(folder: Path, chain: ServedChain, *, send_chain: bool = True,
             extra: tuple[str, ...] = ()) -> Iterator[SServer]:
    """``openssl s_server`` serving ``chain`` for one connection on an ephemeral port.

    ``send_chain=False`` serves the leaf alone (the missing-intermediate SBC). It speaks
    TLS only: whatever arrives is printed, nothing is answered.
    """
    openssl = require("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaf.pem").write_bytes(export.pem([chain.leaf]))
    (folder / "key.pem").write_bytes(private_key_pem(chain.key))
    argv = [openssl, "s_server", "-accept", f"127.0.0.1:{free_port()}", "-naccept", "1",
            "-cert", str(folder / "leaf.pem"), "-key", str(folder / "key.pem"), *extra]
    if send_chain and chain.extra:
        (folder / "chain.pem").write_bytes(export.pem(chain.extra))
        argv += ["-cert_chain", str(folder / "chain.pem")]
    port = int(argv[argv.index("-accept") + 1].rpartition(":")[2])
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    server = SServer(port, process)
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    deadline = time.monotonic() + 10
    while b"ACCEPT" not in server.output:
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError("s_server did not start: " + server.finish())
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            server.output += process.stdout.read() or b""
    os.set_blocking(process.stdout.fileno(), True)
    try:
        yield server
    finally:
        server.finish()


@dataclass
class ProbeRun:
    """One in-process ``fakepeer probe``: exit status, output, and events if ``--json``."""

    status: int
    out: str
    err: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]

    @property
    def verdict(self) -> dict[str, Any]:
        verdicts = self.of("verdict")
        assert verdicts, self.out + self.err
        return verdicts[-1]["data"]

    @property
    def findings(self) -> set[str]:
        return {f["kind"] for e in self.of("certificate-check") for f in e["data"]["findings"]}


@pytest.fixture
def probe(session_store: Path, tmp_path: Path):
    """Run ``fakepeer probe --json`` in-process against 127.0.0.1 (the only host tests
    dial), on the test's reactor: ``await probe(port, *options)`` in an async test."""

    async def run(port: int, *options: str, json_output: bool = True) -> ProbeRun:
        env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), variables={},
                          cwd=tmp_path)
        argv = ["probe", f"127.0.0.1:{port}", "--certs", str(session_store),
                "--timeout", TIMEOUT, *(["--json"] if json_output else []), *options]
        status = await run_command(argv, env)
        return ProbeRun(int(status), env.stdout.getvalue(), env.stderr.getvalue())

    return run
