"""Revocation: which serials each mirrored CA has revoked, its CRL and OCSP answers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

from fakepeer.pki.keys import hash_algorithm

if TYPE_CHECKING:
    from fakepeer.pki.hierarchy import Pki

#: How long a CRL or OCSP answer claims to be current; short, since a lab changes fast.
FRESHNESS = timedelta(days=7)


class Revocations:
    """Revoked serials per CA, kept in the store as ``revoked/<ca-id>.json``."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki

    def _path(self, ca_id: str) -> str:
        return f"revoked/{ca_id}.json"

    def revoked_serials(self, ca_id: str) -> dict[int, str]:
        data = self.pki.store.load_blob(self._path(ca_id))
        return {int(k): v for k, v in json.loads(data).items()} if data is not None else {}

    def revoke(self, ca_id: str, certificate: x509.Certificate) -> None:
        with self.pki.store.locked():
            serials = self.revoked_serials(ca_id)
            if certificate.serial_number in serials:
                return
            serials[certificate.serial_number] = self.pki.options.now.isoformat()
            self.pki.store.save_blob(
                self._path(ca_id), json.dumps({str(k): v for k, v in serials.items()}).encode()
            )

    def crl(self, ca_id: str) -> x509.CertificateRevocationList:
        issuer = self.pki.issuer_for(ca_id)
        now = self.pki.options.now
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.name)
            .last_update(now - timedelta(minutes=5))
            .next_update(now + FRESHNESS)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.key.public_key()), critical=False)
            .add_extension(x509.CRLNumber(len(self.revoked_serials(ca_id)) + 1), critical=False)
        )
        for serial, when in sorted(self.revoked_serials(ca_id).items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(_parse(when)).build()
            )
        return builder.sign(issuer.key, hash_algorithm(issuer.hash))

    def ocsp_response(self, ca_id: str, request: ocsp.OCSPRequest) -> ocsp.OCSPResponse:
        """Answer an OCSP request for a certificate ``ca_id`` issued (good or revoked)."""
        issuer = self.pki.issuer_for(ca_id)
        issuer_cert = self.pki.certificate(ca_id).certificate
        serial = request.serial_number
        revoked = self.revoked_serials(ca_id)
        now = self.pki.options.now
        # Answer by the request's own CertID hashes: fakepeer does not need the subject
        # certificate to say whether a serial it issued is revoked.
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=serial,
            algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if serial in revoked
            else ocsp.OCSPCertStatus.GOOD,
            this_update=now - timedelta(minutes=5),
            next_update=now + FRESHNESS,
            revocation_time=_parse(revoked[serial]) if serial in revoked else None,
            revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer_cert)
        return builder.sign(issuer.key, hashes.SHA256())


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)
