"""The revocation turn of 2026-05-15 (DigiCert ALERT60/86 [V]): fakepeer's CRLs and OCSP
answers list the G5 cross-signs and DigiCert Global CA G2 as revoked, with date and
reason, and real openssl reads them so; every other path stays good."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from fakepeer.pki import export, mirrors
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.model import CertificateId
from fakepeer.pki.revocation import Revocations, real_revocation
from fakepeer.pki.situation import Situation, build_situation
from tests.conftest import make_pki
from tests.pki.helpers import openssl, openssl_verify

#: (era, path, the revoked certificate on it, its issuer).
REVOKED_PATHS = [
    ("microsoft-2026", "digicert-g5", "microsoft-tls-rsa-root-g2@digicert-tls-rsa4096-root-g5",
     "digicert-tls-rsa4096-root-g5"),
    ("microsoft-2026", "ecc-digicert-g5",
     "microsoft-tls-ecc-root-g2@digicert-tls-ecc-p384-root-g5", "digicert-tls-ecc-p384-root-g5"),
    ("genesys", "digicert-global-ca-g2", "digicert-global-ca-g2", "digicert-global-root-g2"),
]
GOOD_PATHS = [(era.id, name) for era in mirrors.ERAS.values() for name in era.paths
              if (era.id, name) not in {(e, p) for e, p, _, _ in REVOKED_PATHS}]


def _host(era_id: str) -> str:
    return mirrors.ERAS[era_id].leaf.names[0].replace("*.", "lb01.")


def _crls_of_chain(pki: Pki, era_id: str, path: str, folder: Path) -> Path:
    """One PEM file with the current CRL of every CA that issued a certificate of the
    chain (leaf included), as an SBC checking all of them would fetch them."""
    chain = mirrors.ERAS[era_id].path(path)
    issuers = [CertificateId.parse(chain.certificates[0]).ca]
    issuers += [pki.issuer_of(CertificateId.parse(c)) or c for c in chain.certificates]
    pems = b"".join(Revocations(pki).crl(ca).public_bytes(Encoding.PEM)
                    for ca in dict.fromkeys(issuers))
    target = folder / "crls.pem"
    target.write_bytes(pems)
    return target


@pytest.mark.parametrize(("era_id", "path", "revoked", "issuer"), REVOKED_PATHS)
def test_the_crl_lists_the_revoked_certificate_with_date_and_reason(pki, tmp_path, era_id,
                                                                   path, revoked, issuer):
    """`openssl crl -text` of the issuer's CRL shows the served certificate's serial,
    revoked on 2026-05-15, reason Cessation Of Operation."""
    build_situation(pki, Situation(era=era_id, path=path))
    certificate = pki.certificate(revoked).certificate
    (tmp_path / "crl.pem").write_bytes(Revocations(pki).crl(issuer).public_bytes(Encoding.PEM))
    text = openssl("crl", "-in", str(tmp_path / "crl.pem"), "-noout", "-text").stdout
    serial = f"{certificate.serial_number:X}"
    entry = text.split("Serial Number: " + serial.rjust(len(serial) + len(serial) % 2, "0"))
    assert len(entry) == 2, text
    assert "Revocation Date: May 15 00:00:00 2026 GMT" in entry[1].split("Serial Number")[0]
    assert "Cessation Of Operation" in entry[1].split("Serial Number")[0]


@pytest.mark.parametrize(("era_id", "path", "revoked", "issuer"), REVOKED_PATHS)
def test_openssl_verify_with_crls_refuses_the_chain_at_the_revoked_certificate(
        pki, tmp_path, era_id, path, revoked, issuer):
    """With every CA's CRL (-crl_check_all), openssl verify stops with error 23 at the
    revoked certificate's depth; the same chain passes without revocation checking."""
    served = build_situation(pki, Situation(era=era_id, path=path))
    depth = 1 + mirrors.ERAS[era_id].path(path).certificates.index(revoked)
    crls = _crls_of_chain(pki, era_id, path, tmp_path)
    checked = openssl_verify(served, tmp_path, host=_host(era_id),
                             extra=("-crl_check_all", "-CRLfile", str(crls)))
    assert (checked.error, checked.depth) == (23, depth), checked.output
    assert openssl_verify(served, tmp_path, host=_host(era_id)).ok


def test_openssl_verify_crl_check_names_the_cross_sign_itself(pki, tmp_path):
    """The G5 cross-sign verified alone against its issuer and CRL: error 23."""
    build_situation(pki, Situation(era="microsoft-2026", path="digicert-g5"))
    cross = pki.certificate("microsoft-tls-rsa-root-g2@digicert-tls-rsa4096-root-g5")
    g5 = pki.certificate("digicert-tls-rsa4096-root-g5")
    (tmp_path / "cross.pem").write_bytes(export.pem([cross.certificate]))
    (tmp_path / "g5.pem").write_bytes(export.pem([g5.certificate]))
    crl = Revocations(pki).crl("digicert-tls-rsa4096-root-g5")
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))
    done = openssl("verify", "-crl_check", "-CRLfile", str(tmp_path / "crl.pem"), "-CAfile",
                   str(tmp_path / "g5.pem"), str(tmp_path / "cross.pem"), check=False)
    assert "error 23 at 0 depth lookup: certificate revoked" in done.stdout + done.stderr


@pytest.mark.parametrize(("era_id", "path"), GOOD_PATHS)
def test_every_other_path_passes_with_all_crls_checked(pki, tmp_path, era_id, path):
    """The untouched paths verify with -crl_check_all and the very same CRLs."""
    served = build_situation(pki, Situation(era=era_id, path=path))
    crls = _crls_of_chain(pki, era_id, path, tmp_path)
    result = openssl_verify(served, tmp_path, host=_host(era_id),
                            extra=("-crl_check_all", "-CRLfile", str(crls)))
    assert result.ok, result.output


def _ocsp_status(pki: Pki, certificate: x509.Certificate, issuer_id: str,
                 folder: Path) -> str:
    """`openssl ocsp` makes the request and reads fakepeer's answer (as the HTTP side
    gives it), verifying it against the issuer: its status lines."""
    issuer = pki.certificate(issuer_id).certificate
    (folder / "cert.pem").write_bytes(export.pem([certificate]))
    (folder / "issuer.pem").write_bytes(export.pem([issuer]))
    openssl("ocsp", "-issuer", str(folder / "issuer.pem"), "-cert", str(folder / "cert.pem"),
            "-no_nonce", "-reqout", str(folder / "request.der"))
    request = ocsp.load_der_ocsp_request((folder / "request.der").read_bytes())
    answer = Revocations(pki).ocsp_response(issuer_id, request)
    (folder / "response.der").write_bytes(answer.public_bytes(Encoding.DER))
    done = openssl("ocsp", "-respin", str(folder / "response.der"), "-issuer",
                   str(folder / "issuer.pem"), "-cert", str(folder / "cert.pem"),
                   "-VAfile", str(folder / "issuer.pem"), "-no_nonce", check=False)
    assert "Response verify OK" in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize(("era_id", "path", "revoked", "issuer"), REVOKED_PATHS)
def test_openssl_ocsp_reports_the_revocation_with_reason_and_time(pki, tmp_path, era_id,
                                                                 path, revoked, issuer):
    """openssl ocsp: revoked, Reason: cessationOfOperation, Revocation Time 2026-05-15."""
    build_situation(pki, Situation(era=era_id, path=path))
    status = _ocsp_status(pki, pki.certificate(revoked).certificate, issuer, tmp_path)
    assert f"{tmp_path / 'cert.pem'}: revoked" in status
    assert "Reason: cessationOfOperation" in status
    assert "Revocation Time: May 15 00:00:00 2026 GMT" in status


def test_openssl_ocsp_says_good_for_the_cross_signs_nobody_revoked(pki, tmp_path):
    """The DigiCert G2 and G3 crosses of the new Microsoft roots stay good."""
    for cross, issuer in (("microsoft-tls-rsa-root-g2", "digicert-global-root-g2"),
                          ("microsoft-tls-ecc-root-g2", "digicert-global-root-g3")):
        certificate = pki.certificate(f"{cross}@{issuer}").certificate
        assert f"{tmp_path / 'cert.pem'}: good" in _ocsp_status(pki, certificate, issuer,
                                                                tmp_path)


def test_a_certificate_never_made_is_not_listed(tmp_path):
    """A fresh store's G5 CRL lists nothing until the cross-sign exists (nobody can have
    been served it), and then lists exactly it."""
    pki = make_pki(tmp_path / "certs")
    assert list(Revocations(pki).crl("digicert-tls-ecc-p384-root-g5")) == []
    cross = pki.certificate("microsoft-tls-ecc-root-g2@digicert-tls-ecc-p384-root-g5")
    listed = list(Revocations(pki).crl("digicert-tls-ecc-p384-root-g5"))
    assert [entry.serial_number for entry in listed] == [cross.certificate.serial_number]


def test_every_real_revocation_names_a_mirrored_certificate():
    """Each fact names a certificate some chain path serves, found under any of its ids."""
    served = {c for era in mirrors.ERAS.values() for p in era.paths.values()
              for c in p.certificates}
    for fact in mirrors.REVOCATIONS:
        assert fact.certificate in served
        assert real_revocation(fact.certificate) is fact
    assert real_revocation("digicert-global-ca-g2@digicert-global-root-g2") is \
        real_revocation("digicert-global-ca-g2")
    assert real_revocation("microsoft-tls-rsa-root-g2@digicert-global-root-g2") is None
