"""SHA-1 signatures, which ``cryptography`` refuses to create in a certificate builder.

Where the tooling allows it: for an RSA issuer, a sha256WithRSAEncryption certificate is
turned into a sha1WithRSAEncryption one by rewriting the two AlgorithmIdentifiers (the OIDs
differ only in their last byte, so every DER length stays the same) and replacing the
signature with a PKCS#1 v1.5 SHA-1 signature over the rewritten TBSCertificate (same
length: the modulus size). ``cryptography`` does sign raw data with SHA-1; it only refuses
to build certificates that way. ECDSA issuers are refused: their signatures vary in length
and the SHA-1 defect is about RSA chains in practice.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fakepeer.errors import PkiError
from fakepeer.pki.keys import PrivateKey

_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")  # OID 1.2.840.113549.1.1.11
_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")  # OID 1.2.840.113549.1.1.5


def resign_with_sha1(certificate: x509.Certificate, issuer_key: PrivateKey) -> x509.Certificate:
    """Return ``certificate`` signed by ``issuer_key`` with sha1WithRSAEncryption."""
    if not isinstance(issuer_key, rsa.RSAPrivateKey):
        raise PkiError("a SHA-1 signature can be made only with an RSA issuer here "
                       "(ECDSA signatures change length); choose an RSA chain")
    if certificate.signature_algorithm_oid != x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA256:
        raise PkiError("resign_with_sha1 expects a sha256WithRSAEncryption certificate")
    der = certificate.public_bytes(serialization.Encoding.DER)
    tbs = certificate.tbs_certificate_bytes
    if der.count(_SHA256_RSA) != 2 or tbs.count(_SHA256_RSA) != 1:
        raise PkiError("unexpected certificate layout: the signature OID must occur twice")
    new_tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    signature = issuer_key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    if len(signature) != len(certificate.signature):
        raise PkiError("SHA-1 signature length differs from the original")
    start = der.index(tbs)
    rest = der[start + len(tbs):].replace(_SHA256_RSA, _SHA1_RSA)
    if not rest.endswith(certificate.signature):
        raise PkiError("unexpected certificate layout: signature is not last")
    rest = rest[: -len(signature)] + signature
    return x509.load_der_x509_certificate(der[:start] + new_tbs + rest)
