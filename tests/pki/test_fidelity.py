"""Each mirrored root is the real one, field by field, but for the deliberate differences
(key material, serial, signature value, lab marker, dates, key identifiers, URLs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from fakepeer.pki import mirrors
from fakepeer.pki.export import subject_hash
from fakepeer.pki.keys import key_spec_of
from tests.conftest import make_pki

SYSTEM_CERTS = Path("/etc/ssl/certs")
ROOTS = [r for r in mirrors.ROOTS if r.system_file]


def _real(spec: mirrors.CaSpec) -> x509.Certificate:
    path = SYSTEM_CERTS / spec.system_file
    if not path.exists():
        pytest.fail(f"{path} missing: Debian's ca-certificates is needed (scripts/setup.sh)")
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture(scope="module")
def real_names_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("real") / "certs", real_names=True)


def _ext_shape(certificate: x509.Certificate) -> list[tuple[str, bool]]:
    return [(e.oid.dotted_string, e.critical) for e in certificate.extensions]


@pytest.mark.parametrize("spec", ROOTS, ids=[r.id for r in ROOTS])
def test_mirror_matches_real_root(real_names_pki, spec):
    """Name (and its string types), key, hash, extensions in order, their values."""
    real = _real(spec)
    mirror = real_names_pki.certificate(spec.id).certificate
    assert mirror.subject == real.subject
    assert [a._type for a in mirror.subject] == [a._type for a in real.subject]
    assert mirror.issuer == mirror.subject
    assert key_spec_of(mirror.public_key()) == key_spec_of(real.public_key())
    real_hash = real.signature_hash_algorithm.name
    if real_hash == "sha1":  # deliberate: cryptography will not self-sign with SHA-1
        assert spec.real_hash == "sha1" and mirror.signature_hash_algorithm.name == "sha256"
    else:
        assert mirror.signature_hash_algorithm.name == real_hash
    assert _ext_shape(mirror) == _ext_shape(real)
    for ext in real.extensions:
        ours = mirror.extensions.get_extension_for_oid(ext.oid).value
        if isinstance(ext.value, x509.SubjectKeyIdentifier | x509.AuthorityKeyIdentifier):
            assert ours != ext.value  # deliberate: every fake CA has its own identifiers
        else:
            assert ours == ext.value, ext.oid


@pytest.mark.parametrize("spec", ROOTS, ids=[r.id for r in ROOTS])
def test_real_names_share_the_openssl_subject_hash(real_names_pki, spec):
    """With exact names a mirror collides with the real root in a hashed folder."""
    assert subject_hash(real_names_pki.certificate(spec.id).certificate.subject) == \
        subject_hash(_real(spec).subject)


def test_lab_marker_is_visible_by_default(pki):
    """Without --real-names every CA's common name carries the lab marker."""
    for spec in mirrors.ROOTS:
        cn = pki.certificate(spec.id).certificate.subject.get_attributes_for_oid(
            x509.oid.NameOID.COMMON_NAME)[0].value
        assert cn.endswith("(fakepeer lab)")


def test_real_dates_copy_the_real_validity(tmp_path):
    """--real-dates gives Azure RSA TLS Issuing CA 03 its real expiry, 2026-08-25."""
    pki = make_pki(tmp_path / "certs", real_dates=True)
    azure = pki.certificate("azure-rsa-tls-issuing-ca-03").certificate
    assert azure.not_valid_after_utc.date().isoformat() == "2026-08-25"
    baltimore = _real(mirrors.CAS["baltimore-cybertrust-root"])
    mirror = pki.certificate("baltimore-cybertrust-root").certificate
    assert mirror.not_valid_after_utc.date() == baltimore.not_valid_after_utc.date()


def test_intermediates_follow_the_real_extension_facts(pki):
    """Spot checks of intermediates against facts read from the real certificates."""
    ocsp02 = pki.certificate("microsoft-tls-g2-rsa-ca-ocsp-02").certificate
    oids = [e.oid.dotted_string for e in ocsp02.extensions]
    assert oids == ["2.5.29.15", "1.3.6.1.4.1.311.21.1", "2.5.29.14", "2.5.29.32", "2.5.29.37",
                    "1.3.6.1.4.1.311.20.2", "2.5.29.19", "2.5.29.35", "2.5.29.31",
                    "1.3.6.1.5.5.7.1.1"]
    assert ocsp02.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    ca01 = pki.certificate("microsoft-rsa-tls-ca-01").certificate
    aia = ca01.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_method for d in aia] == [x509.oid.AuthorityInformationAccessOID.OCSP]
    urls = [d.access_location.value for d in aia]
    assert all(u.startswith("http://127.0.0.1:8080/") for u in urls)
