"""What a real ``fakepeer serve`` sends and what its HTTP side serves at the caIssuers
URLs are the same certificates: an SBC (or Windows) that completes a chain by AIA gets
the certificate it was sent, not a second one with another serial."""

from __future__ import annotations

import itertools
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.serve.chains import served_chain
from tests.serve.harness import serving_process

CA_ISSUERS = x509.oid.AuthorityInformationAccessOID.CA_ISSUERS


def _ca_issuers_path(certificate: x509.Certificate) -> str:
    aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    url = next(d.access_location.value for d in aia.value if d.access_method == CA_ISSUERS)
    return "/" + url.split("/", 3)[3]


def test_every_ca_issuers_url_serves_the_next_certificate_of_the_chain(session_store, sbc_files):
    """The 2026 chain, 4 deep: the leaf's and the issuing CA's caIssuers URLs serve
    exactly (same DER) the next certificate the TLS handshake carried."""
    client = ["-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
              "-cert_chain", str(sbc_files.chain), "-servername", "sip.pstnhub.microsoft.com"]
    with serving_process(session_store, "--scenario", "baseline-microsoft-2026") as server:
        sent = served_chain(server.port, *client)
        assert len(sent) == 3, "leaf, issuing CA, cross-signed root"
        for below, above in itertools.pairwise(sent):
            path = _ca_issuers_path(below)
            with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}{path}",
                                        timeout=10) as reply:
                fetched = reply.read()
            assert fetched == above.public_bytes(Encoding.DER), (
                f"{path} serves serial {x509.load_der_x509_certificate(fetched).serial_number:x}"
                f", the handshake sent {above.serial_number:x}")
