"""The CAs ``certs generate`` makes first: every era's (all paths), the mirrored roots,
their slow keys generated together so that they run in parallel. The served chains come
after, from realised scenarios (:mod:`fakepeer.generation`). And the root sets
``certs export --roots`` writes: which certificates an SBC may need to trust."""

from __future__ import annotations

from collections.abc import Iterable

from fakepeer.errors import PkiError
from fakepeer.pki import mirrors
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.model import CertificateId
from fakepeer.pki.situation import era_by_id
from fakepeer.vocabulary import did_you_mean


def era_certificate_ids(era_ids: Iterable[str], all_issuers: bool = False) -> list[str]:
    """Every CA certificate the eras' paths use (and their sibling issuing CAs if asked)."""
    ids: list[str] = []
    for era_id in era_ids:
        era = era_by_id(era_id)
        for path in era.paths.values():
            ids += [*path.certificates, path.anchor]
        ids += list(era.recommended_roots)
        if all_issuers:
            for sibling in era.sibling_issuers:
                spec = mirrors.CAS[sibling]
                ids += [str(CertificateId(sibling, issuer)) for issuer in spec.issuers]
    return list(dict.fromkeys(ids))


def generate_cas(pki: Pki, era_ids: Iterable[str], *, all_issuers: bool = False) -> list[str]:
    """Every CA certificate the eras use, and the mirrored roots, made (or reused) at once
    so that their slow keys are generated in parallel; returns their ids."""
    ids = list(dict.fromkeys([*era_certificate_ids(era_ids, all_issuers),
                              *(r.id for r in mirrors.ROOTS)]))
    pki.certificates(ids)
    return ids


#: The root set of every certificate any chain path can anchor at.
ALL_ROOTS = "all"


def _anchors() -> tuple[str, ...]:
    """Every mirrored root, then every other certificate a chain path anchors at (the
    self-signed Microsoft TLS RSA/ECC Root G2, which are not in the public bundles)."""
    ids = [root.id for root in mirrors.ROOTS]
    ids += [path.anchor for era in mirrors.ERAS.values() for path in era.paths.values()]
    return tuple(dict.fromkeys(ids))


def root_set(name: str) -> tuple[str, ...]:
    """The certificates ``certs export --roots NAME`` writes: for an era, its default
    anchor and the roots recommended for it (the seven for 2026); for ``all``, every
    certificate a chain can anchor at; a single anchor's certificate id names itself."""
    if name == ALL_ROOTS:
        return _anchors()
    era = mirrors.ERAS.get(name)
    if era is not None:
        return tuple(dict.fromkeys([era.path().anchor, *era.recommended_roots]))
    if name in _anchors():
        return (name,)
    hint = did_you_mean(name, [*mirrors.ERAS, ALL_ROOTS, *_anchors()])
    raise PkiError(f"unknown root set {name!r}{hint}; give an era ({', '.join(mirrors.ERAS)}), "
                   f"{ALL_ROOTS}, or the id of a root: {', '.join(_anchors())}")


def root_ids(names: Iterable[str]) -> list[str]:
    """The certificates of several root sets, each once, in order."""
    return list(dict.fromkeys(root for name in names for root in root_set(name)))
