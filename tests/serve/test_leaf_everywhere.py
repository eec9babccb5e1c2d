"""A scenario's ``[leaf]`` changes reach everything that shows or presents the leaf: what
``serve`` serves (a real handshake), what ``scenarios show`` prints, and the client
certificate serve's dial-back presents to the SBC (a real ``openssl s_server`` that
records it). They were realised in separate places, and only serve applied ``[leaf]``."""

from __future__ import annotations

import io
import re

import pytest
import pytest_twisted
from cryptography import x509

from fakepeer.cli.commands.healthcheck import client_context, ping
from fakepeer.cli.environment import Environment
from fakepeer.cli.main import main
from fakepeer.cli.status import ExitStatus
from fakepeer.pki.situation import sbc_chain
from tests.conftest import make_pki
from tests.inprocess import in_thread
from tests.probe.conftest import s_server
from tests.serve.harness import serving

pytestmark = pytest.mark.loopback

LAB_NAME = "sip.lab.example"
SBC_FQDN = "sbc.lab.example"
SCENARIO = f"""description = "The proxy leaf renamed for a lab DNS zone"
[leaf]
dns_names = ["{LAB_NAME}"]
[sip]
dialback = true
"""


def _dns_names(certificate: x509.Certificate) -> list[str]:
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return san.value.get_values_for_type(x509.DNSName)


@pytest.fixture
def scenarios(tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "lab-leaf.toml").write_text(SCENARIO)
    return folder


def test_scenarios_show_prints_the_leaf_serve_serves(session_store, scenarios, tmp_path):
    """`scenarios show` builds the chain with the [leaf] changes and names them."""
    out, err = io.StringIO(), io.StringIO()
    status = main(["scenarios", "show", "lab-leaf", "--scenarios", str(scenarios),
                   "--certs", str(session_store)],
                  Environment(stdout=out, stderr=err, variables={}, cwd=tmp_path))
    assert status == ExitStatus.SUCCESS, err.getvalue()
    assert re.findall(r"^  leaf names: (.*)$", out.getvalue(), re.MULTILINE) == [LAB_NAME]


@pytest_twisted.ensureDeferred
async def test_serve_and_its_dial_back_present_the_same_leaf(session_store, scenarios, tmp_path):
    """The leaf served to an SBC and the client certificate of the dial-back to that
    SBC both carry exactly the [leaf] names."""
    pki = make_pki(session_store)
    sbc = sbc_chain(pki, (SBC_FQDN,))
    with s_server(tmp_path / "sbc", sbc, extra=("-verify", "9")) as dialled:
        async with serving(session_store, "--scenario", "lab-leaf", "--scenarios",
                           str(scenarios), "--sbc", f"{SBC_FQDN}=127.0.0.1:{dialled.port}",
                           "--dialback-timeout", "1") as server:
            answer = await in_thread(ping, "127.0.0.1", server.port, client_context(sbc),
                                     fqdn=SBC_FQDN)
            assert answer.ok, answer
            await server.next_event("dialback", 0, timeout=20)
            printed = dialled.finish()
    served = x509.load_der_x509_certificate(answer.peer_chain_der[0])
    assert _dns_names(served) == [LAB_NAME]
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", printed,
                    re.DOTALL)
    assert pem, printed
    presented = x509.load_pem_x509_certificate(pem.group(0).encode())
    assert _dns_names(presented) == [LAB_NAME]
    assert presented == served
