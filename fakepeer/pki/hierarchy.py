"""Mirrored hierarchies on top of the store: make what is asked, reuse what exists.

``Pki`` resolves certificate ids (``ca``, ``ca@issuer``, ``ca!expired``) to certificates,
taking missing keys from the store's pool or generating them in parallel, and signing each
CA as soon as its key and its issuer are there. It is the one place that decides whether
a stored certificate still fits what was asked.
"""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
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
from fakepeer.pki.keys import (
    KeySpec,
    PrivateKey,
    generate_keys,
    generation_cost,
    usable_cores,
)
from fakepeer.pki.model import DEFAULT_LEAF_KEY, CaSpec, CertificateId, LeafProfile
from fakepeer.pki.store import CertStore

IMPOSTOR_PREFIX = "impostor-"
#: Spare leaf-type keys a cold generation makes on a core that would otherwise wait for the
#: last slow CA key; the leaves that follow take them from the pool instead of waiting.
SPARE_LEAF_KEYS = 4
#: Key generation worth a progress line: about half a second or more (an RSA 3072 key).
_WORTH_TELLING = generation_cost(KeySpec("RSA", 3072))


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
                 cas: dict[str, CaSpec] | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.options = options
        self.cas = dict(cas or mirrors.CAS)
        self._keys: dict[str, PrivateKey] = {}
        self._certs: dict[str, IssuedCertificate] = {}
        self.generated: list[str] = []  # ids made (not reused) by this object, for progress
        self.keys_generated = 0  # keys made by this object (not reused, not from the pool)
        self.keys_from_pool = 0
        #: Told one line before slow work (key generation), so a user is never left waiting.
        self.progress: Callable[[str], None] = progress or (lambda line: None)

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

    def canonical(self, cert_id: CertificateId) -> CertificateId:
        """The one name of a certificate: ``ca@its-first-issuer`` is ``ca`` (and a root's
        ``ca@ca`` is ``ca``). Without it a chain path naming the cross-signed Microsoft TLS
        RSA Root G2 (``@digicert-global-root-g2``) and the caIssuers URL of the CA below it
        (which names the bare id) were two certificates with different serials."""
        spec = self.spec(cert_id.ca)
        return cert_id.canonical(spec.issuers[0] if spec.issuers else None)

    def canonical_id(self, text: str) -> str:
        """:meth:`canonical` of a certificate id text; a malformed one is a PkiError."""
        try:
            return str(self.canonical(CertificateId.parse(text)))
        except ValueError as exc:
            raise PkiError(str(exc)) from None

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
            visit(CertificateId.parse(self.canonical_id(text)))
        return ordered

    # -- keys --------------------------------------------------------------------------
    def ensure_keys(self, wanted: dict[str, KeySpec]) -> dict[str, PrivateKey]:
        """Load or make every key in ``wanted`` (missing ones in parallel)."""
        self._make_keys(wanted)
        return {key_id: self._keys[key_id] for key_id in wanted}

    def _make_keys(self, wanted: Mapping[str, KeySpec],
                   on_ready: Callable[[], None] = lambda: None) -> None:
        """Stored keys first, then spare keys from the pool, then generation; ``on_ready``
        runs each time keys become available, so the caller can use them at once."""
        missing: dict[str, KeySpec] = {}
        for key_id, spec in wanted.items():
            if key_id in self._keys:
                continue
            key = self.store.load_key(key_id)
            if key is None or not spec.matches(key):
                missing[key_id] = spec
            else:
                self._keys[key_id] = key
        if missing:
            self.store.ensure_writable()  # fail before the slow part, not after it
        pooled = 0
        for key_id, spec in list(missing.items()):
            key = self.store.take_from_pool(key_id, spec)
            if key is not None:
                self._keys[key_id] = key
                pooled += 1
                del missing[key_id]
        self.keys_from_pool += pooled
        on_ready()
        if not missing:
            return
        if sum(generation_cost(spec) for spec in missing.values()) >= _WORTH_TELLING:
            self.progress(_describe_generation(missing, pooled))
        spares = 0
        if len(missing) > 1 and not self.store.read_only:
            spares = max(0, SPARE_LEAF_KEYS - self.store.pool_counts()[DEFAULT_LEAF_KEY])

        def arrived(key_id: str, key: PrivateKey) -> None:
            self.store.save_key(key_id, key)
            self._keys[key_id] = key
            self.keys_generated += 1
            on_ready()

        generate_keys(missing, arrived, spare=DEFAULT_LEAF_KEY, spares=spares,
                      on_spare=self.store.add_to_pool)

    def pool_plan(self, cert_ids: Iterable[str],
                  leaf_keys: Iterable[KeySpec] = ()) -> collections.Counter[KeySpec]:
        """The keys a fresh generation of ``cert_ids`` (and leaves of ``leaf_keys``) would
        make: one per CA of their hierarchies, one per leaf key."""
        plan = self.closure(cert_ids)
        specs = collections.Counter(self.spec(ca).key for ca in dict.fromkeys(c.ca for c in plan))
        specs.update(leaf_keys)
        return specs

    def fill_pool(self, wanted: collections.Counter[KeySpec]) -> int:
        """Make spare keys until the pool holds ``wanted``; returns how many were made.

        The store is not locked while keys are generated (only while each is saved), so
        a running ``serve`` is not held up."""
        have = self.store.pool_counts()
        deficit = {f"spare-{spec.algorithm}{spec.size}-{n}": spec
                   for spec, count in wanted.items() for n in range(count - have[spec])}
        if deficit:
            self.store.ensure_writable()
            self.progress(_describe_generation(deficit, 0))
            generate_keys(deficit, lambda _name, key: self.store.add_to_pool(key))
        return len(deficit)

    # -- CA certificates -------------------------------------------------------------------
    def certificates(self, cert_ids: Iterable[str]) -> list[IssuedCertificate]:
        """The certificates for ``cert_ids`` (and everything above them), made if needed:
        each CA is signed as soon as its key and its issuer's are there, while the other
        keys are still being generated."""
        ids = list(cert_ids)
        with self.store.locked():
            plan = self.closure(ids)
            waiting = list(plan)

            def sign_ready() -> None:
                for cid in list(waiting):
                    if self._signable(cid):
                        self._ensure_ca(cid)
                        waiting.remove(cid)

            self._make_keys({cid.ca: self.spec(cid.ca).key for cid in plan}, sign_ready)
            sign_ready()
        return [self._certs[self.canonical_id(i)] for i in ids]

    def _signable(self, cid: CertificateId) -> bool:
        """Are the keys of ``cid`` and of every CA above it available?"""
        if cid.ca not in self._keys:
            return False
        issuer = self.issuer_of(cid)
        return issuer is None or self._signable(CertificateId(issuer))

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
        """A stored certificate by id, without generating anything (for ``certs list``);
        a CA certificate also by a non-canonical id (``ca@its-first-issuer``)."""
        meta = self.store.load_meta(cert_id)
        if meta is None:
            try:
                known = CertificateId.parse(cert_id).ca in self.cas
            except ValueError:
                known = False
            if known:
                cert_id = self.canonical_id(cert_id)
                meta = self.store.load_meta(cert_id)
        if meta is None:
            return None
        key_id = meta.get("key")
        meta_key = self.store.load_key(key_id) if isinstance(key_id, str) else None
        stored = self.store.load_certificate(cert_id, meta_key)
        return stored.certificate if stored else None


def _describe_generation(specs: Mapping[str, KeySpec], from_pool: int) -> str:
    """``generating 11 keys (6 RSA 4096, 5 EC P-384) on 2 cores``: the slow step, named."""
    counts = collections.Counter(specs.values())
    kinds = ", ".join(f"{n} {spec}" for spec, n in sorted(
        counts.items(), key=lambda item: (item[0].algorithm != "RSA", -item[0].size)))
    cores = min(len(specs), usable_cores())
    pooled = f"; {from_pool} taken from the key pool" if from_pool else ""
    return (f"generating {len(specs)} key{'s' if len(specs) > 1 else ''} ({kinds}) "
            f"on {cores} core{'s' if cores > 1 else ''}{pooled}")
