"""The CAs ``certs generate`` makes first: every era's (all paths), the mirrored roots,
their slow keys generated together so that they run in parallel. The served chains come
after, from realised scenarios (:mod:`fakepeer.generation`)."""

from __future__ import annotations

from collections.abc import Iterable

from fakepeer.pki import mirrors
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.model import CertificateId
from fakepeer.pki.situation import era_by_id


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
