"""Kamailio as an SBC with a given trust store, pinging a ``fakepeer serve`` in this
process: what README step 4 asks an engineer to do, as a test (and the matrix script)
can drive it. Each run is one scenario, one trust store: Kamailio starts, pings until
both sides have said how it went, stops, and the first connection's events come back
with Kamailio's log."""

from __future__ import annotations

import shlex
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from fakepeer.cli.main import main
from fakepeer.pki import export
from fakepeer.pki.chain import ServedChain
from fakepeer.pki.keys import private_key_pem
from tests.inprocess import kamailio_running, pause
from tests.serve.harness import Server

#: Kamailio's own words (its log) for each outcome: the dispatcher's destination came up
#: on a 200 OK to its OPTIONS ping (``ping_starts_down``), or OpenSSL refused the chain.
KAMAILIO_GOT_200 = "fakepeer-test: destination up"
KAMAILIO_REFUSED_CHAIN = "certificate verify failed"
#: What fakepeer records first for each: the 200 OK it sent, or the handshake failure.
FAKEPEER_FIRST = {KAMAILIO_GOT_200: "sip-request", KAMAILIO_REFUSED_CHAIN: "tls-failed"}
DEADLINE = 20.0


def fakepeer(store: Path, folder: Path, command: str) -> str:
    """Run a ``fakepeer ...`` command line as the README or `scenarios show` prints it,
    in ``folder`` with the test's store; what it printed (it must exit 0)."""
    argv = shlex.split(command)
    assert argv[0] == "fakepeer", command
    printed = StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(printed):
        patch.chdir(folder)
        status = main([*argv[1:], "--certs", str(store)])
    assert status == 0, (command, printed.getvalue())
    return printed.getvalue()


@dataclass
class Outcome:
    """One Kamailio run against one scenario: what Kamailio logged and what fakepeer
    recorded for the connection."""

    kamailio: str
    events: list[dict[str, Any]]
    kamailio_log: str
    #: The SBC session's first verdict (format 2: decided at the first answered OPTIONS,
    #: or at the failed handshake, while the connection may still be open).
    verdict: dict[str, Any]

    def first(self, kind: str) -> dict[str, Any]:
        """The connection's first record of ``kind``."""
        return next(e for e in self.events if e["kind"] == kind)

    def kinds(self) -> list[str]:
        """The connection's record kinds, in order, each once."""
        return list(dict.fromkeys(e["kind"] for e in self.events))


async def kamailio_outcome(server: Server, sbc: ServedChain, folder: Path,
                           trust: tuple[str, Path]) -> Outcome:
    """Kamailio pings ``server`` (mutual TLS with ``sbc``'s chain, no SNI), verifying its
    chain against ``trust`` (``("ca_list", file)`` or ``("ca_path", folder)``), until its
    log says either outcome and fakepeer has recorded the matching event."""
    since = server.mark()
    async with kamailio_running(folder, export.pem(sbc.sent), private_key_pem(sbc.key),
                                ping=f"127.0.0.1:{server.port}", server_ca_setting=trust,
                                ping_starts_down=True) as running:
        deadline = time.monotonic() + DEADLINE
        said = ""
        while not said and time.monotonic() < deadline:
            log = running.log()
            said = next((m for m in FAKEPEER_FIRST if m in log), "")
            await pause(0.1)
        assert said, f"Kamailio said neither outcome in {DEADLINE}s:\n{running.log()[-3000:]}"
        await server.next_event(FAKEPEER_FIRST[said], since, timeout=DEADLINE)
        verdict = await server.next_event("verdict", since, timeout=DEADLINE)
    return Outcome(said, server.events_of(verdict["connection"]), running.log(), verdict)
