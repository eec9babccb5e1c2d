"""Mirrored hierarchies on top of the store: make what is asked, reuse what exists.

``Pki`` resolves certificate ids (``ca``, ``ca@issuer``, ``ca!expired``) to certificates,
generating missing keys in parallel first and then signing top-down. It is the one place
that decides whether a stored certificate still fits what was asked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cryptography import x509

from fakepeer.errors import PkiError
from fakepeer.pki import mirrors
from fakepeer.pki.authority import (
    IssueOptions,
    Issuer,
    build_ca_certificate,
    build_leaf_certificate,
    ca_subject,
)
from fakepeer.pki.keys import KeySpec, PrivateKey, generate_many
from fakepeer.pki.model import CaSpec, CertificateId, LeafProfile
from fakepeer.pki.store import CertStore

IMPOSTOR_PREFIX = "impostor-"


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate with the key it certifies and the id it is stored under."""

    id: str
    certificate: x509.Certificate
    key: PrivateKey


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps([repr(p) for p in parts]).encode()).hexdigest()[:32]


def _ski(key: PrivateKey) -> str:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest.hex()


def _holds(state: str, certificate: x509.Certificate, now: datetime) -> bool:
    """Does a stored certificate still show the validity state it was made for?"""
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if state == "valid":
        return start <= now <= end
    if state == "expired":
        return now > end
    if state == "not-yet-valid":
        return now < start
    return True  # "real": real dates are what they are


class Pki:
    """Every mirrored CA of ``mirrors.CAS`` (plus impostors), materialised in a store."""

    def __init__(self, store: CertStore, options: IssueOptions,
                 cas: dict[str, CaSpec] | None = None) -> None:
        self.store = store
        self.options = options
        self.cas = dict(cas or mirrors.CAS)
        self._keys: dict[str, PrivateKey] = {}
        self._certs: dict[str, IssuedCertificate] = {}
        self.generated: list[str] = []  # ids made (not reused) by this object, for progress

    # -- specs -------------------------------------------------------------------------
    def spec(self, ca_id: str) -> CaSpec:
        if ca_id.startswith(IMPOSTOR_PREFIX):
            real = self.spec(ca_id.removeprefix(IMPOSTOR_PREFIX))
            if not real.is_root:
                raise PkiError(f"{ca_id}: only roots have impostors")
            # Same name, same shape, another key: what an attacker or a wrong bundle shows.
            return replace(real, id=ca_id, system_file=None, source="impostor of " + real.id)
        try:
            return self.cas[ca_id]
        except KeyError:
            raise PkiError(
                f"unknown CA {ca_id!r}; known CAs: {', '.join(sorted(self.cas))}"
            ) from None

    def issuer_of(self, cert_id: CertificateId) -> str | None:
        spec = self.spec(cert_id.ca)
        if cert_id.issuer is None:
            return spec.issuers[0] if spec.issuers else None
        if cert_id.issuer == cert_id.ca:
            return None  # explicitly self-signed
        allowed = (*spec.issuers, *(IMPOSTOR_PREFIX + i for i in spec.issuers))
        if cert_id.issuer not in allowed and not cert_id.issuer.startswith(IMPOSTOR_PREFIX):
            raise PkiError(
                f"{cert_id}: {cert_id.issuer} does not sign {cert_id.ca} "
                f"(its issuers: {', '.join(spec.issuers) or 'none, it is a root'})"
            )
        return cert_id.issuer

    def closure(self, cert_ids: Iterable[str]) -> list[CertificateId]:
        """Every certificate needed to make ``cert_ids``, issuers before subjects."""
        ordered: list[CertificateId] = []
        seen: set[CertificateId] = set()

        def visit(cid: CertificateId) -> None:
            if cid in seen:
                return
            seen.add(cid)
            issuer = self.issuer_of(cid)
            if issuer is not None:
                visit(CertificateId(issuer))
            ordered.append(cid)

        for text in cert_ids:
            try:
                visit(CertificateId.parse(text))
            except ValueError as exc:
                raise PkiError(str(exc)) from None
        return ordered

    # -- keys --------------------------------------------------------------------------
    def ensure_keys(self, wanted: dict[str, KeySpec]) -> dict[str, PrivateKey]:
        """Load or make every key in ``wanted`` (missing ones in parallel)."""
        missing: dict[str, KeySpec] = {}
        for key_id, spec in wanted.items():
            if key_id in self._keys:
                continue
            key = self.store.load_key(key_id)
            if key is not None and spec.matches(key):
                self._keys[key_id] = key
            else:
                missing[key_id] = spec
        if missing:
            self.store.ensure_writable()  # fail before the slow part, not after it
        for key_id, key in generate_many(missing).items():
            self.store.save_key(key_id, key)
            self._keys[key_id] = key
        return {key_id: self._keys[key_id] for key_id in wanted}

    # -- CA certificates -------------------------------------------------------------------
    def certificates(self, cert_ids: Iterable[str]) -> list[IssuedCertificate]:
        """The certificates for ``cert_ids`` (and everything above them), made if needed."""
        ids = list(cert_ids)
        with self.store.locked():
            plan = self.closure(ids)
            self.ensure_keys({cid.ca: self.spec(cid.ca).key for cid in plan})
            for cid in plan:
                self._ensure_ca(cid)
        return [self._certs[str(CertificateId.parse(i))] for i in ids]

    def certificate(self, cert_id: str) -> IssuedCertificate:
        return self.certificates([cert_id])[0]

    def _ensure_ca(self, cid: CertificateId) -> IssuedCertificate:
        name = str(cid)
        if name in self._certs:
            return self._certs[name]
        spec = self.spec(cid.ca)
        key = self._keys[cid.ca]
        issuer_id = self.issuer_of(cid)
        issuer = self._issuer(issuer_id) if issuer_id else None
        validity = None
        if cid.expired:
            now = self.options.now
            validity = (now - timedelta(days=400), now - timedelta(days=1))
            state = "expired"
        else:
            state = "real" if self.options.real_dates else "valid"
        digest = _digest(spec, self.options.variant, self.options.http_base, _ski(key),
                         issuer.certificate_id if issuer else None,
                         _ski(issuer.key) if issuer else None, cid.expired)
        stored = self.store.load_certificate(name, key)
        if stored and stored.meta.get("digest") == digest and _holds(
                state, stored.certificate, self.options.now):
            issued = IssuedCertificate(name, stored.certificate, key)
        else:
            certificate = build_ca_certificate(spec, key, issuer, self.options, validity)
            self.store.save_certificate(name, certificate, {
                "kind": "ca", "key": cid.ca, "issuer": issuer.certificate_id if issuer else None,
                "digest": digest, "state": state,
            })
            self.generated.append(name)
            issued = IssuedCertificate(name, certificate, key)
        self._certs[name] = issued
        return issued

    def _issuer(self, issuer_ca: str) -> Issuer:
        issued = self._ensure_ca(CertificateId(issuer_ca))
        spec = self.spec(issuer_ca)
        return Issuer(name=ca_subject(spec, self.options), key=issued.key,
                      certificate_id=issued.id, ca_id=issuer_ca, hash=spec.hash)

    def issuer_for(self, cert_id: str) -> Issuer:
        """Signing material of a CA certificate, for leaves (made if needed)."""
        issued = self.certificate(cert_id)
        cid = CertificateId.parse(cert_id)
        spec = self.spec(cid.ca)
        return Issuer(name=ca_subject(spec, self.options), key=issued.key,
                      certificate_id=issued.id, ca_id=cid.ca, hash=spec.hash)

    # -- leaves ------------------------------------------------------------------------
    def leaf(self, leaf_id: str, profile: LeafProfile, issuer_cert_id: str | None,
             *, key_id: str | None = None, validity: tuple[datetime, datetime] | None = None,
             state: str = "valid", signature_hash: str | None = None,
             sign: object = None) -> IssuedCertificate:
        """Issue (or reuse) a leaf under ``issuer_cert_id``; None means self-signed.

        ``sign`` is an optional post-processor ``(certificate, issuer_key) -> certificate``
        (the SHA-1 defect re-signs what ``cryptography`` will only sign with SHA-2).
        """
        key_id = key_id or f"leaf-{profile.id}-{str(profile.key).replace(' ', '').lower()}"
        with self.store.locked():
            issuer = self.issuer_for(issuer_cert_id) if issuer_cert_id else None
            key = self.ensure_keys({key_id: profile.key})[key_id]
            digest = _digest(profile, self.options.variant, self.options.http_base, _ski(key),
                             issuer.certificate_id if issuer else None,
                             _ski(issuer.key) if issuer else None, state, signature_hash,
                             getattr(sign, "__name__", None), validity is None)
            stored = self.store.load_certificate(leaf_id, key)
            if stored and stored.meta.get("digest") == digest and _holds(
                    state, stored.certificate, self.options.now):
                return IssuedCertificate(leaf_id, stored.certificate, key)
            certificate = build_leaf_certificate(profile, key, issuer, self.options, validity,
                                                 signature_hash)
            if callable(sign):
                certificate = sign(certificate, issuer.key if issuer else key)
            self.store.save_certificate(leaf_id, certificate, {
                "kind": "leaf", "key": key_id,
                "issuer": issuer.certificate_id if issuer else None,
                "digest": digest, "state": state,
            })
            self.generated.append(leaf_id)
            return IssuedCertificate(leaf_id, certificate, key)

    def load_stored(self, cert_id: str) -> x509.Certificate | None:
        """A stored certificate by id, without generating anything (for ``certs list``)."""
        meta = self.store.load_meta(cert_id)
        if meta is None:
            return None
        key_id = meta.get("key")
        meta_key = self.store.load_key(key_id) if isinstance(key_id, str) else None
        stored = self.store.load_certificate(cert_id, meta_key)
        return stored.certificate if stored else None
