"""README step 4 as an engineer lives it, with Kamailio 5.6 as the SBC: trusting only
DigiCert Global Root G2 (as most 2023 SBCs did) it works against the 2023 chain, refuses
the 2026 chain anchored at DigiCert TLS RSA4096 Root G5, and works again with the roots
written by the export command that `scenarios show` prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytest_twisted

from fakepeer.pki.chain import ServedChain
from fakepeer.pki.situation import sbc_chain
from tests.conftest import make_pki, require
from tests.peers.sbc_rehearsal import (
    KAMAILIO_GOT_200,
    KAMAILIO_REFUSED_CHAIN,
    Outcome,
    fakepeer,
    kamailio_outcome,
)
from tests.serve.harness import serving

#: README step 4's 2026 scenario. It anchors at G5 on every name, so Kamailio, whose
#: dispatcher sends no SNI, meets the failure as an SBC sending SNI would.
SCENARIO_2026 = "path-2026-rsa-g5"
G2_ONLY = "fakepeer certs export --roots digicert-global-root-g2 --out g2-only.pem"
ACTIVE = ["tcp-accepted", "tls-established", "sip-request", "verdict"]
REFUSED = ["tcp-accepted", "tls-failed", "verdict"]


@pytest.fixture(scope="module")
def sbc(session_store: Path) -> ServedChain:
    return sbc_chain(make_pki(session_store), ("sbc.lab.example",))


def assert_active(outcome: Outcome, scenario: str) -> None:
    assert outcome.kamailio == KAMAILIO_GOT_200
    assert KAMAILIO_REFUSED_CHAIN not in outcome.kamailio_log
    assert outcome.kinds()[:4] == ACTIVE  # the verdict while the connection is open
    established, answered = outcome.first("tls-established"), outcome.first("sip-request")
    assert "CN=sbc.lab.example" in established["certificate"]["subject"]
    assert (answered["method"], answered["status"]) == ("OPTIONS", 200)
    assert (outcome.verdict["tls"], outcome.verdict["options"], outcome.verdict["outcome"],
            outcome.verdict["label"]) == ("Active", "Active", "PASS", scenario)


@pytest_twisted.ensureDeferred
async def test_a_g2_only_sbc_fails_on_2026_and_passes_after_importing_the_export(
        session_store: Path, sbc: ServedChain, tmp_path: Path) -> None:
    """Step 4 row by row: 2023 PASS, 2026 FAIL (unknown_ca, from Kamailio's refusal),
    the printed export imported as Kamailio's ca_path, 2026 PASS."""
    require("kamailio")
    fakepeer(session_store, tmp_path, G2_ONLY)
    g2_only = ("ca_list", tmp_path / "g2-only.pem")

    async with serving(session_store, "--scenario", "baseline-microsoft-2023") as server:
        assert_active(await kamailio_outcome(server, sbc, tmp_path / "k-2023", g2_only),
                      "baseline-microsoft-2023")

    shown = fakepeer(session_store, tmp_path, f"fakepeer scenarios show {SCENARIO_2026}")
    assert re.search(r"g2-only +SBC rejects \(unknown_ca\)", shown)
    command = re.search(r"^  export:  (fakepeer certs export .*)$", shown, re.M)
    assert command is not None
    async with serving(session_store, "--scenario", SCENARIO_2026) as server:
        assert f"export them: {command.group(1)}" in "\n".join(server.stderr)
        refused = await kamailio_outcome(server, sbc, tmp_path / "k-2026-g2", g2_only)
    assert refused.kamailio == KAMAILIO_REFUSED_CHAIN
    assert KAMAILIO_GOT_200 not in refused.kamailio_log
    assert refused.kinds()[:3] == REFUSED
    failed = refused.first("tls-failed")
    assert (failed["failed_by"], failed["alert"]) == ("sbc", "unknown_ca")
    assert (refused.verdict["tls"], refused.verdict["outcome"], refused.verdict["alert"]
            ) == ("Failed", "FAIL", "unknown_ca")

    fakepeer(session_store, tmp_path, command.group(1))
    async with serving(session_store, "--scenario", SCENARIO_2026) as server:
        assert_active(await kamailio_outcome(server, sbc, tmp_path / "k-2026-seven",
                                             ("ca_path", tmp_path / "roots")), SCENARIO_2026)
