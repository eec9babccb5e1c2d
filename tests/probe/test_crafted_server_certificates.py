"""``fakepeer probe`` against an SBC (``openssl s_server``) serving a crafted certificate.

The outbound side reads the SBC's certificate with the same readers as the inbound side
(issue 12 item 1): each certificate of :func:`tests.crafted.crafted_certificates` that
cryptography can load and a server can present is refused with the part that cannot be
read named in the ``certificate-check``, and the probe ends with its documented status,
never a traceback.
"""

from __future__ import annotations

import warnings

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fakepeer.cli.status import ExitStatus
from fakepeer.pki.chain import ServedChain
from tests.crafted import HOST, crafted_certificates, key
from tests.probe.conftest import s_server

pytestmark = pytest.mark.loopback
SERVABLE = [c for c in crafted_certificates() if c.owns_key and c.loads]


@pytest.mark.parametrize("crafted", SERVABLE, ids=[c.name for c in SERVABLE])
@pytest_twisted.ensureDeferred
async def test_a_crafted_sbc_certificate_is_refused_with_its_problem(crafted, probe, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography's, on the crafted serials and names
        leaf = x509.load_der_x509_certificate(crafted.der)
    assert leaf.public_bytes(serialization.Encoding.DER) == crafted.der  # served as built
    chain = ServedChain(leaf=leaf, key=key(), names=(HOST,), label=crafted.name)
    with s_server(tmp_path / "s_server", chain) as server:
        run = await probe(server.port, "--fqdn", HOST)
        server.finish()
    assert run.status == ExitStatus.PEER_FAILED, run.out + run.err
    assert "Traceback" not in run.err and "Warning" not in run.err, run.err
    [check] = run.of("certificate-check")
    assert not check["data"]["accepted"]
    messages = [f["message"] for f in check["data"]["findings"]]
    assert any(crafted.reported in m for m in messages), messages
