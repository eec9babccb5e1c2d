"""Every shipped scenario, end to end: a real ``fakepeer serve --scenario NAME`` and a
real client (openssl s_client) configured as a correct SBC — all mirrored roots
trusted, strict verification with the peer's name, TLS 1.2 or later with the Microsoft
suites, the lab SBC certificate, OPTIONS with its FQDN in Contact — judged PASS (or CHECK
where only the SBC can show the result). Scenarios whose setup asks for a different SBC get it."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from fakepeer.pki import export, mirrors
from fakepeer.pki.keys import private_key_pem
from fakepeer.pki.situation import sbc_chain
from fakepeer.scenario.load import load_catalogue, shipped_scenarios_dir
from tests.conftest import make_pki
from tests.inprocess import in_thread
from tests.serve.chains import served_chain
from tests.serve.harness import Server, s_client_exchange, serving

CATALOGUE = load_catalogue([shipped_scenarios_dir()])
MICROSOFT_SUITES = ("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
                    "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256")


def options(contact_host: str = "sbc.lab.example", target: str = "sip.pstnhub.microsoft.com"
            ) -> bytes:
    return (
        f"OPTIONS sip:{target}:5061;transport=tls SIP/2.0\r\n"
        "Via: SIP/2.0/TLS sbc.lab.example:5061;branch=z9hG4bKe2e\r\n"
        "From: <sip:sbc.lab.example:5061;transport=tls>;tag=e2e\r\n"
        f"To: <sip:{target}>\r\nCall-ID: e2e@sbc.lab.example\r\nCSeq: 1 OPTIONS\r\n"
        f"Contact: <sip:{contact_host}:5061;transport=tls>\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


@pytest.fixture(scope="module")
def sbc(session_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A correct SBC's files: every mirrored root as its trust store, a trusted client
    certificate, and an untrusted one for the scenario that needs it."""
    folder = tmp_path_factory.mktemp("e2e-sbc")
    pki = make_pki(session_store)
    roots = [pki.certificate(root.id).certificate for root in mirrors.ROOTS]
    (folder / "roots.pem").write_bytes(export.pem(roots))
    files = {"roots": folder / "roots.pem"}
    for name, issuer in (("trusted", "digicert-g2"), ("untrusted", "untrusted")):
        chain = sbc_chain(pki, ("sbc.lab.example",), issuer=issuer)
        files[f"{name}-cert"] = folder / f"{name}.pem"
        files[f"{name}-cert"].write_bytes(export.pem([chain.leaf]))
        files[f"{name}-key"] = folder / f"{name}.key.pem"
        files[f"{name}-key"].write_bytes(private_key_pem(chain.key))
        files[f"{name}-chain"] = folder / f"{name}.chain.pem"
        files[f"{name}-chain"].write_bytes(export.pem(chain.extra))
    return files


def _crls_for_served_chain(server: Server, client: list[str]) -> bytes:
    """What an SBC that checks revocation for the whole chain does: fetch the CRL at
    each served certificate's CDP URL (here from fakepeer's HTTP side, whose port the
    test knows), as PEM. Blocking: run it with in_thread."""
    crls = []
    for certificate in served_chain(server.port, *client):
        cdp = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        path = cdp[0].full_name[0].value.split("/", 3)[3]
        with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/{path}",
                                    timeout=10) as reply:
            crls.append(x509.load_der_x509_crl(reply.read()).public_bytes(Encoding.PEM))
    return b"".join(crls)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@pytest_twisted.ensureDeferred
async def test_scenario_end_to_end(name, session_store, sbc, tmp_path):
    """A correct SBC (as the scenario's setup says) is judged PASS, or CHECK for a
    mark-down that only the SBC's own state can confirm."""
    scenario = CATALOGUE[name]
    genesys = scenario.profile == "genesys"
    host = "lb01.byoc.usw2.pure.cloud" if genesys else "sip.pstnhub.microsoft.com"
    kind = "untrusted" if name == "client-certificate-untrusted" else "trusted"
    client = ["-CAfile", str(sbc["roots"]), "-verify_return_error", "-verify_hostname", host,
              "-servername", host, "-auth_level", "2", "-cipher", MICROSOFT_SUITES,
              "-min_protocol", "TLSv1.2"]
    if name != "client-certificate-missing":
        client += ["-cert", str(sbc[f"{kind}-cert"]), "-key", str(sbc[f"{kind}-key"]),
                   "-cert_chain", str(sbc[f"{kind}-chain"])]
    contact = "127.0.0.1" if name == "contact-ip" else "sbc.lab.example"
    wait = 3.0 if scenario.expectation.sip_status == 408 else 10.0
    async with serving(session_store, "--scenario", name) as server:
        if scenario.expectation.alert == "certificate_revoked":
            # The setup these scenarios ask for: revocation checked for every certificate
            # (s_client reads CRLs from its CA file; its -CRL takes a single one).
            bundle = tmp_path / "roots-and-crls.pem"
            crls = await in_thread(_crls_for_served_chain, server, client)
            bundle.write_bytes(sbc["roots"].read_bytes() + crls)
            client[client.index("-CAfile") + 1] = str(bundle)
            client.append("-crl_check_all")
        mark = server.mark()
        await s_client_exchange(server.port, *client, request=options(contact, host), timeout=wait)
        verdict = await server.next_event("verdict", mark, timeout=20)
    wanted = "CHECK" if scenario.expectation.reaction == "mark-down" else "PASS"
    if scenario.sip.dialback:  # nothing here answers the dial-back: never a PASS for it
        assert verdict["outcome"] == "INCOMPLETE", verdict
        assert verdict["inbound"] == wanted, verdict
        assert "no dial-back was tried" in verdict["cause"], verdict
        return
    assert verdict["outcome"] == wanted, verdict
