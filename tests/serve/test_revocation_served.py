"""The revoked G5 cross-sign through a real ``fakepeer serve``: the certificate the
handshake carries, the CRL at its CDP URL and the OCSP responder at its AIA URL, read by
openssl verify and openssl ocsp as an SBC would."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from fakepeer.pki import export
from tests.serve.chains import served_chain
from tests.serve.harness import serving_process

OCSP = x509.oid.AuthorityInformationAccessOID.OCSP


def _local(url: str, http_port: int) -> str:
    """A URL of the certificates (http://127.0.0.1:8080/...) on this server's port."""
    return f"http://127.0.0.1:{http_port}/" + url.split("/", 3)[3]


def _ocsp(url: str, certificate: Path, issuer: Path) -> str:
    done = subprocess.run(["openssl", "ocsp", "-issuer", str(issuer), "-cert", str(certificate),
                           "-url", url, "-VAfile", str(issuer), "-no_nonce"],
                          capture_output=True, text=True, timeout=30)
    assert "Response verify OK" in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout


def test_the_served_cross_sign_is_revoked_in_the_served_crl_and_ocsp(session_store, sbc_files,
                                                                    tmp_path):
    """openssl verify -crl_check with the CRL from the cross-sign's CDP URL: error 23;
    openssl ocsp at its AIA URL: revoked, cessationOfOperation, 2026-05-15. The issuing
    CA below it, under the unrevoked Microsoft TLS RSA Root G2 key, is good."""
    client = ["-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
              "-cert_chain", str(sbc_files.chain), "-servername", "sip.pstnhub.microsoft.com"]
    with serving_process(session_store, "--scenario", "revoked-g5-cross-sign-rsa") as server:
        leaf, issuing, cross = served_chain(server.port, *client)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/ca/"
                                    "digicert-tls-rsa4096-root-g5.pem", timeout=10) as reply:
            (tmp_path / "g5.pem").write_bytes(reply.read())
        cdp = cross.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        with urllib.request.urlopen(_local(cdp[0].full_name[0].value, server.http_port),
                                    timeout=10) as reply:
            crl = x509.load_der_x509_crl(reply.read())
        (tmp_path / "crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))
        (tmp_path / "cross.pem").write_bytes(export.pem([cross]))
        (tmp_path / "issuing.pem").write_bytes(export.pem([issuing]))
        verified = subprocess.run(
            ["openssl", "verify", "-crl_check", "-CRLfile", str(tmp_path / "crl.pem"),
             "-CAfile", str(tmp_path / "g5.pem"), str(tmp_path / "cross.pem")],
            capture_output=True, text=True, timeout=30)
        aia = cross.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        url = _local(next(d.access_location.value for d in aia if d.access_method == OCSP),
                     server.http_port)
        revoked = _ocsp(url, tmp_path / "cross.pem", tmp_path / "g5.pem")
        aia = issuing.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        good = _ocsp(_local(next(d.access_location.value for d in aia
                                 if d.access_method == OCSP), server.http_port),
                     tmp_path / "issuing.pem", tmp_path / "cross.pem")
    assert "error 23 at 0 depth lookup: certificate revoked" in verified.stdout + verified.stderr
    assert f"{tmp_path / 'cross.pem'}: revoked" in revoked
    assert "Reason: cessationOfOperation" in revoked
    assert "Revocation Time: May 15 00:00:00 2026 GMT" in revoked
    assert f"{tmp_path / 'issuing.pem'}: good" in good
    assert leaf.issuer == issuing.subject
