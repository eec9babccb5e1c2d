"""Every mirrored chain verifies with real verifiers, and every defect fails as it should."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from fakepeer.pki import mirrors
from fakepeer.pki.model import CertificateId
from fakepeer.pki.revocation import Revocations
from fakepeer.pki.situation import Situation, build_situation
from fakepeer.vocabulary import DEFECTS
from tests.pki.helpers import openssl_verify

ERA_PATHS = [(era.id, path) for era in mirrors.ERAS.values() for path in era.paths]


def _host(era_id: str) -> str:
    return mirrors.ERAS[era_id].leaf.names[0].replace("*.", "lb01.")


@pytest.mark.parametrize(("era_id", "path"), ERA_PATHS)
def test_good_chain_passes_openssl_verify(pki, tmp_path, era_id, path):
    """Each era's chain verifies strictly, for its host name and the TLS server purpose."""
    served = build_situation(pki, Situation(era=era_id, path=path))
    result = openssl_verify(served, tmp_path, host=_host(era_id))
    assert result.ok, result.output


@pytest.mark.parametrize(("era_id", "path"), ERA_PATHS)
def test_good_chain_passes_cryptography_verifier(pki, era_id, path):
    """cryptography's RFC 5280 verifier builds the same path to the era's anchor."""
    served = build_situation(pki, Situation(era=era_id, path=path))
    verifier = (
        PolicyBuilder().store(Store(list(served.trust_anchors))).time(datetime.now(UTC))
        .build_server_verifier(x509.DNSName(_host(era_id)))
    )
    built = verifier.verify(served.leaf, list(served.extra))
    assert built[-1] == served.trust_anchors[0]


def test_good_chain_fails_against_another_eras_root(pki, tmp_path):
    """The harness can fail: the 2026 chain is refused by a verifier trusting only 2020."""
    served = build_situation(pki, Situation(era="microsoft-2026"))
    old_root = pki.certificate("baltimore-cybertrust-root").certificate
    result = openssl_verify(served, tmp_path, host="sip.pstnhub.microsoft.com",
                            anchors=(old_root,))
    assert result.error == 20


def test_2026_chain_is_four_deep_and_server_auth_only(pki):
    """The 2026 chain is leaf, issuing CA, cross-signed root, anchor; EKU serverAuth only."""
    served = build_situation(pki, Situation(era="microsoft-2026"))
    assert len(served.sent) == 3
    for certificate in served.sent:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]


def test_2026_chain_fails_a_tls_client_purpose_check(pki, tmp_path):
    """An SBC checking the TLS client purpose on Microsoft's 2026 chain refuses it (26)."""
    served = build_situation(pki, Situation(era="microsoft-2026"))
    result = openssl_verify(served, tmp_path, host=None, purpose="sslclient")
    assert result.error == 26


def test_2026_chain_fails_a_short_verify_depth(pki, tmp_path):
    """A verifier limited to depth 1 cannot reach the 2026 anchor."""
    served = build_situation(pki, Situation(era="microsoft-2026"))
    result = openssl_verify(served, tmp_path, host=None, extra=("-verify_depth", "1"))
    assert not result.ok
    assert result.error in (20, 22)


DEFECT_CASES = [
    (name, info) for name, info in DEFECTS.items()
    if info.verify_error is not None
]


def _defect_text(name: str) -> str:
    return "rotated-root=microsoft-2020" if name == "rotated-root" else name


@pytest.mark.parametrize("era_id", ["microsoft-2023", "microsoft-2026", "genesys"])
@pytest.mark.parametrize(("name", "info"), DEFECT_CASES, ids=[n for n, _ in DEFECT_CASES])
def test_defect_fails_with_its_verify_error(pki, tmp_path, era_id, name, info):
    """Each defect makes openssl verify fail with the error the catalogue promises."""
    served = build_situation(pki, Situation(era=era_id, defects=(_defect_text(name),)))
    good = build_situation(pki, Situation(era=era_id))
    extra: tuple[str, ...] = ()
    if info.auth_level is not None:
        extra += ("-auth_level", str(info.auth_level))
    if name == "revoked":
        issuer = CertificateId.parse(mirrors.ERAS[era_id].path().certificates[0]).ca
        crl = Revocations(pki).crl(issuer)
        (tmp_path / "crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))
        extra += ("-crl_check", "-CRLfile", str(tmp_path / "crl.pem"))
    if name == "rotated-root":
        served = replace(served, trust_anchors=good.trust_anchors)
    purpose = "sslclient" if name == "no-client-auth" else "sslserver"
    result = openssl_verify(served, tmp_path, host=_host(era_id), purpose=purpose, extra=extra)
    assert result.error == info.verify_error, result.output


@pytest.mark.parametrize("name", ["reversed", "with-root", "with-extra", "both-cross-signed"])
def test_chain_shapes_change_what_is_sent(pki, name):
    """Chain shapes send the certificates in the promised order."""
    served = build_situation(pki, Situation(era="microsoft-2026", defects=(name,)))
    good = build_situation(pki, Situation(era="microsoft-2026"))
    anchor = good.trust_anchors[0]
    if name == "reversed":
        assert served.extra == good.extra[::-1]
    elif name == "with-root":
        assert served.extra == (*good.extra, anchor)
    elif name == "with-extra":
        assert served.extra[:2] == good.extra
        assert served.extra[2].subject != anchor.subject
    else:
        subjects = [c.subject for c in served.extra]
        assert len(served.extra) > len(good.extra)
        assert subjects.count(good.extra[1].subject) >= 2


def test_cn_only_is_matched_by_openssl_but_refused_by_strict_verifier(pki, tmp_path):
    """OpenSSL falls back to the CN; cryptography's verifier insists on a SAN."""
    served = build_situation(pki, Situation(era="microsoft-2023", defects=("cn-only",)))
    assert openssl_verify(served, tmp_path, host="sip.pstnhub.microsoft.com").ok
    verifier = (PolicyBuilder().store(Store(list(served.trust_anchors)))
                .build_server_verifier(x509.DNSName("sip.pstnhub.microsoft.com")))
    with pytest.raises(VerificationError):
        verifier.verify(served.leaf, list(served.extra))


def test_sha1_leaf_really_carries_a_sha1_signature(pki, tmp_path):
    """The SHA-1 defect is a real sha1WithRSAEncryption signature that verifies."""
    served = build_situation(pki, Situation(era="microsoft-2026", defects=("sha1-signature",)))
    assert served.leaf.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA1
    issuer_key = served.extra[0].public_key()
    issuer_key.verify(served.leaf.signature, served.leaf.tbs_certificate_bytes,
                      PKCS1v15(), SHA1())
    assert openssl_verify(served, tmp_path, host="sip.pstnhub.microsoft.com",
                          extra=("-auth_level", "0")).ok


def test_impostor_root_has_the_real_name_and_another_key(pki):
    """The untrusted-root defect's anchor shares the mirror's name but not its key."""
    real = pki.certificate("digicert-global-root-g2").certificate
    impostor = pki.certificate("impostor-digicert-global-root-g2").certificate
    assert impostor.subject == real.subject
    assert impostor.public_key() != real.public_key()
