"""One key, two certificates: a cross-signed CA and its self-signed twin share key, subject
and key identifier, and one (CA, issuer) pair is always one certificate, whatever id
names it, so the chain on the wire and the caIssuers URL above it agree byte for byte."""

from __future__ import annotations

import itertools

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fakepeer.pki import mirrors
from fakepeer.pki.situation import Situation, build_situation
from tests.conftest import make_pki

ERA_PATHS = [(era.id, path) for era in mirrors.ERAS.values() for path in era.paths]
CA_ISSUERS = x509.oid.AuthorityInformationAccessOID.CA_ISSUERS


def _aia_id(certificate: x509.Certificate) -> str | None:
    """The certificate id in a fakepeer caIssuers URL (``.../aia/<id>.crt``), if any."""
    aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    urls = [d.access_location.value for d in aia.value if d.access_method == CA_ISSUERS]
    return urls[0].rsplit("/", 1)[1].removesuffix(".crt") if urls else None


def _ski(certificate: x509.Certificate) -> bytes:
    return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _public_key(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def test_a_cross_certificate_has_one_name_only(pki):
    """The DigiCert G2 cross of Microsoft TLS RSA Root G2 named with and without its
    issuer is one certificate (one serial), in this Pki and in a fresh one."""
    named = pki.certificate("microsoft-tls-rsa-root-g2@digicert-global-root-g2").certificate
    bare = pki.certificate("microsoft-tls-rsa-root-g2").certificate
    again = make_pki(pki.store.root).certificate(
        "microsoft-tls-rsa-root-g2@digicert-global-root-g2").certificate
    assert named.public_bytes(Encoding.DER) == bare.public_bytes(Encoding.DER)
    assert again.serial_number == bare.serial_number


@pytest.mark.parametrize("ca", ["microsoft-tls-rsa-root-g2", "microsoft-tls-ecc-root-g2"])
def test_cross_signed_and_self_signed_share_key_subject_and_ski(pki, ca):
    """Every certificate of a new Microsoft root (each cross and the self-signed one)
    certifies the same key under the same name; only the issuer differs."""
    spec = mirrors.CAS[ca]
    versions = [pki.certificate(f"{ca}@{issuer}").certificate
                for issuer in (*spec.issuers, ca)]
    assert len({c.serial_number for c in versions}) == len(versions)
    assert len({_public_key(c) for c in versions}) == 1
    assert len({_ski(c) for c in versions}) == 1
    assert len({c.subject for c in versions}) == 1
    assert len({c.issuer for c in versions}) == len(versions)
    self_signed = versions[-1]
    assert self_signed.issuer == self_signed.subject
    self_signed.verify_directly_issued_by(self_signed)


@pytest.mark.parametrize(("era_id", "path"), ERA_PATHS)
def test_the_ca_issuers_url_names_the_next_certificate_on_the_wire(pki, era_id, path):
    """Each certificate's caIssuers URL serves (as ``/aia/<id>.crt`` does: the Pki's
    certificate of that id) a certificate of the same name and key as the next one on
    the wire; the same DER where the wire carries the issuer's primary certificate."""
    served = build_situation(pki, Situation(era=era_id, path=path))
    wire = [*served.sent, served.trust_anchors[0]]
    for below, above in itertools.pairwise(wire):
        aia_id = _aia_id(below)
        if below.issuer == below.subject or aia_id is None:  # Baltimore's CAs have none
            continue
        fetched = pki.certificate(aia_id).certificate
        assert fetched.subject == above.subject
        assert _ski(fetched) == _ski(above)
        below.verify_directly_issued_by(fetched)
        if fetched.issuer == above.issuer:
            assert fetched.public_bytes(Encoding.DER) == above.public_bytes(Encoding.DER), (
                f"{era_id}/{path}: the wire and /aia/{aia_id}.crt differ "
                f"(serials {above.serial_number:x} and {fetched.serial_number:x})")
