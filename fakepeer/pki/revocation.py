"""Revocation: which serials each mirrored CA has revoked, its CRL and OCSP answers.

Two sources: leaves a scenario revokes (the ``revoked`` defect), kept in the store, and
the CA certificates revoked in reality (:data:`fakepeer.pki.mirrors.REVOCATIONS`: the
G5 cross-signs and DigiCert Global CA G2, 2026-05-15), listed with their date and reason
whenever the certificate exists in the store (one that was never made was never served).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

from fakepeer.pki import mirrors
from fakepeer.pki.keys import hash_algorithm
from fakepeer.pki.model import CaRevocation, CertificateId

if TYPE_CHECKING:
    from fakepeer.pki.hierarchy import Pki

#: How long a CRL or OCSP answer claims to be current; short, since a lab changes fast.
FRESHNESS = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One revoked serial: since when, and why (``None``: no reasonCode, unspecified)."""

    serial: int
    date: datetime
    reason: x509.ReasonFlags | None = None


def _canonical(text: str) -> CertificateId:
    cid = CertificateId.parse(text)
    spec = mirrors.CAS.get(cid.ca)
    return cid.canonical(spec.issuers[0] if spec and spec.issuers else None)


def real_revocation(cert_id: str) -> CaRevocation | None:
    """How a mirrored CA certificate (named by any of its ids) was revoked in reality,
    if it was."""
    wanted = _canonical(cert_id)
    return next((fact for fact in mirrors.REVOCATIONS
                 if _canonical(fact.certificate) == wanted), None)


class Revocations:
    """Revoked serials per CA: the store's ``revoked/<ca-id>.json`` and the real ones."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki

    def _path(self, ca_id: str) -> str:
        return f"revoked/{ca_id}.json"

    def revoked_serials(self, ca_id: str) -> dict[int, str]:
        """The serials a scenario revoked (in the store), with when, as ISO text."""
        data = self.pki.store.load_blob(self._path(ca_id))
        return {int(k): v for k, v in json.loads(data).items()} if data is not None else {}

    def entries(self, ca_id: str) -> dict[int, RevokedEntry]:
        """Every serial ``ca_id`` has revoked: the store's, then the real ones."""
        found = {serial: RevokedEntry(serial, _parse(when))
                 for serial, when in self.revoked_serials(ca_id).items()}
        for fact in mirrors.REVOCATIONS:
            if self.pki.issuer_of(CertificateId.parse(fact.certificate)) != ca_id:
                continue
            certificate = self.pki.load_stored(fact.certificate)
            if certificate is not None:
                serial = certificate.serial_number
                found[serial] = RevokedEntry(serial, datetime.combine(fact.date, time(), UTC),
                                             x509.ReasonFlags[fact.reason])
        return found

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
        entries = self.entries(ca_id)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.name)
            .last_update(now - timedelta(minutes=5))
            .next_update(now + FRESHNESS)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.key.public_key()), critical=False)
            .add_extension(x509.CRLNumber(len(entries) + 1), critical=False)
        )
        for serial, entry in sorted(entries.items()):
            revoked = x509.RevokedCertificateBuilder().serial_number(serial) \
                .revocation_date(entry.date)
            if entry.reason is not None:
                revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
            builder = builder.add_revoked_certificate(revoked.build())
        return builder.sign(issuer.key, hash_algorithm(issuer.hash))

    def ocsp_response(self, ca_id: str, request: ocsp.OCSPRequest) -> ocsp.OCSPResponse:
        """Answer an OCSP request for a certificate ``ca_id`` issued (good or revoked)."""
        issuer = self.pki.issuer_for(ca_id)
        issuer_cert = self.pki.certificate(ca_id).certificate
        serial = request.serial_number
        entry = self.entries(ca_id).get(serial)
        now = self.pki.options.now
        # Answer by the request's own CertID hashes: fakepeer does not need the subject
        # certificate to say whether a serial it issued is revoked.
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=serial,
            algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.GOOD if entry is None
            else ocsp.OCSPCertStatus.REVOKED,
            this_update=now - timedelta(minutes=5),
            next_update=now + FRESHNESS,
            revocation_time=entry.date if entry is not None else None,
            revocation_reason=entry.reason if entry is not None else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer_cert)
        return builder.sign(issuer.key, hashes.SHA256())


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)
