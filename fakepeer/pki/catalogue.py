"""What ``certs generate`` makes: eras' CAs (all paths), the mirrored roots, and a leaf for
every era and defect, with the slow keys generated together so they run in parallel."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fakepeer import vocabulary
from fakepeer.pki import mirrors
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.model import CertificateId
from fakepeer.pki.revocation import Revocations
from fakepeer.pki.situation import Situation, build_situation, era_by_id


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


def defect_situations(era_id: str) -> list[Situation]:
    """One situation per defect for an era (an era argument names the next era)."""
    return [Situation(era=era_id, defects=(vocabulary.defect_example(name, era_id),))
            for name in vocabulary.DEFECTS]


def generate(pki: Pki, era_ids: list[str], *, all_issuers: bool = False,
             with_defects: bool = False,
             progress: Callable[[str], None] = lambda line: None) -> None:
    """Make everything asked for; a second call with the same store makes nothing."""
    ca_ids = era_certificate_ids(era_ids, all_issuers) + [r.id for r in mirrors.ROOTS]
    before = len(pki.generated)
    pki.certificates(list(dict.fromkeys(ca_ids)))  # all CA keys at once: parallel
    progress(f"CAs: {len(set(ca_ids))} certificates ({len(pki.generated) - before} made)")
    revocations = Revocations(pki)
    for era_id in era_ids:
        before = len(pki.generated)
        situations = [Situation(era=era_id, path=p) for p in era_by_id(era_id).paths]
        if with_defects:
            situations += defect_situations(era_id)
        for situation in situations:
            build_situation(pki, situation, revocations)
        progress(f"{era_id}: {len(situations)} served chains "
                 f"({len(pki.generated) - before} certificates made)")
