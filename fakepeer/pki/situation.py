"""Assemble what an endpoint serves: era + chain path + defects -> ``ServedChain``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509

from fakepeer import vocabulary
from fakepeer.errors import PkiError
from fakepeer.pki import mirrors
from fakepeer.pki.chain import ServedChain
from fakepeer.pki.defects import LeafPlan, apply_defects
from fakepeer.pki.hierarchy import IMPOSTOR_PREFIX, Pki
from fakepeer.pki.model import CaRevocation, CertificateId, ChainPath, Era, LeafProfile, dns
from fakepeer.pki.revocation import Revocations, real_revocation
from fakepeer.pki.sha1 import resign_with_sha1
from fakepeer.vocabulary import did_you_mean


@dataclass(frozen=True, slots=True)
class Situation:
    """What to serve, as asked: resolved into certificates by :func:`build_situation`."""

    era: str = vocabulary.DEFAULT_ERA
    path: str | None = None
    defects: tuple[str, ...] = ()
    leaf: LeafProfile | None = None  # overrides the era's leaf profile

    def label(self) -> str:
        era = mirrors.ERAS.get(self.era)
        path = self.path or (era.default_path if era else "?")
        return f"{self.era}/{path}" + (f" +{'+'.join(self.defects)}" if self.defects else "")


def era_by_id(era_id: str) -> Era:
    try:
        return mirrors.ERAS[era_id]
    except KeyError:
        raise PkiError(f"unknown era {era_id!r}{did_you_mean(era_id, mirrors.ERAS)}; known "
                       f"eras: {', '.join(mirrors.ERAS)}") from None


@dataclass(frozen=True, slots=True)
class Route:
    """Which chain path a situation serves: ``era``'s path ``path_name``, or with a
    rotated-root defect the target era's default path (``rotated_from`` the era asked)."""

    era: Era
    path_name: str
    path: ChainPath
    rotated_from: str | None = None

    @property
    def revocations(self) -> tuple[CaRevocation, ...]:
        """The certificates of this path that were revoked in reality (2026-05-15)."""
        found = (real_revocation(c) for c in (*self.path.certificates, self.path.anchor))
        return tuple(fact for fact in found if fact is not None)


def chain_route(era_id: str, path: str | None = None, defects: Iterable[str] = ()) -> Route:
    """The path ``era_id``/``path`` with ``defects`` serves, without building anything."""
    era = era_by_id(era_id)
    try:
        uses = vocabulary.check_defects(defects, era.id)
        route = Route(era, path or era.default_path, era.path(path))
    except vocabulary.DefectError as exc:
        raise PkiError(exc.problem) from None
    except KeyError as exc:
        raise PkiError(str(exc.args[0])) from None
    for use in uses:
        if use.defect.moves_era and use.argument is not None:
            target = era_by_id(use.argument)
            route = Route(target, target.default_path, target.path(), era.id)
    return route


def plan_situation(pki: Pki, situation: Situation) -> LeafPlan:
    route = chain_route(situation.era, situation.path, situation.defects)
    uses = vocabulary.check_defects(situation.defects, situation.era)
    path_name = f"rotated-to-{route.era.id}" if route.rotated_from else route.path_name
    plan = LeafPlan(era=era_by_id(situation.era), path_name=path_name, path=route.path,
                    profile=situation.leaf or era_by_id(situation.era).leaf,
                    now=pki.options.now)
    return apply_defects(plan, uses)


def _leaf_id(plan: LeafPlan) -> str:
    tag = hashlib.sha256(repr((sorted(plan.defects), plan.profile)).encode()).hexdigest()[:10]
    return f"leaf-{plan.era.id}-{plan.path_name}-{tag}"


def _issuing_chain(plan: LeafPlan) -> list[str]:
    chain = list(plan.path.certificates)
    if plan.impostor_root:
        top = CertificateId.parse(chain[-1])
        chain[-1] = str(CertificateId(top.ca, IMPOSTOR_PREFIX + plan.path.anchor))
    if plan.expired_issuer:
        first = CertificateId.parse(chain[0])
        chain[0] = str(CertificateId(first.ca, first.issuer, expired=True))
    return chain


def _cross_signed_twins(pki: Pki, chain: list[str]) -> list[str]:
    twins = []
    for text in chain:
        cid = CertificateId.parse(text)
        used = pki.issuer_of(cid)
        for other in pki.spec(cid.ca).issuers:
            if other != used:
                twins.append(pki.canonical_id(str(CertificateId(cid.ca, other))))
    return twins


def build_situation(pki: Pki, situation: Situation,
                    revocations: Revocations | None = None) -> ServedChain:
    """Issue (or reuse) the leaf and collect what is sent after it, in wire order."""
    plan = plan_situation(pki, situation)
    chain_ids = [] if plan.self_signed else [pki.canonical_id(c) for c in _issuing_chain(plan)]
    anchor_id = pki.canonical_id(plan.path.anchor)
    wanted = [*chain_ids, anchor_id]
    if plan.shape == "with-extra":
        wanted.append("fakepeer-untrusted-root")
    twins = _cross_signed_twins(pki, chain_ids) if plan.shape == "both-cross-signed" else []
    issued = {c.id: c.certificate for c in pki.certificates([*wanted, *twins])}
    leaf = pki.leaf(
        _leaf_id(plan), plan.profile, None if plan.self_signed else chain_ids[0],
        validity=plan.validity, state=plan.state,
        signature_hash="sha256" if plan.sha1 else None,
        sign=resign_with_sha1 if plan.sha1 else None,
    )
    if plan.revoked:
        if plan.self_signed:
            raise PkiError("a self-signed leaf has no issuer to revoke it")
        (revocations or Revocations(pki)).revoke(CertificateId.parse(chain_ids[0]).ca,
                                                 leaf.certificate)
    intermediates = [issued[c] for c in chain_ids]
    anchor = issued[anchor_id]
    extra = _shape(plan.shape, intermediates, anchor, issued, twins)
    return ServedChain(
        leaf=leaf.certificate, key=leaf.key, extra=tuple(extra),
        trust_anchors=(pki.certificate(anchor_id).certificate,),
        names=plan.profile.names, label=situation.label(),
    )


def _shape(shape: str, intermediates: list[x509.Certificate], anchor: x509.Certificate,
           issued: dict[str, x509.Certificate], twins: list[str]) -> list[x509.Certificate]:
    if shape == "full":
        return intermediates
    if shape == "leaf-only":
        return []
    if shape == "reversed":
        # With one intermediate there is nothing to reverse: send root first, then it.
        return intermediates[::-1] if len(intermediates) > 1 else [anchor, *intermediates]
    if shape == "with-root":
        return [*intermediates, anchor]
    if shape == "with-extra":
        return [*intermediates, issued["fakepeer-untrusted-root"]]
    if shape == "both-cross-signed":
        return [*intermediates, *(issued[t] for t in twins)]
    raise PkiError(f"unknown chain shape {shape!r}")


def sbc_chain(pki: Pki, fqdns: tuple[str, ...], issuer: str = "digicert-g2",
              eku: tuple[str, ...] = ("serverAuth", "clientAuth"),
              days: int = 199) -> ServedChain:
    """A lab SBC's certificate for mutual TLS, under a mirrored public CA (or an untrusted
    one), with its chain."""
    if not fqdns:
        raise PkiError("issue-sbc needs at least one FQDN")
    try:
        path: ChainPath = mirrors.SBC_ISSUERS[issuer]
    except KeyError:
        raise PkiError(f"unknown SBC issuer {issuer!r}; choose one of: "
                       f"{', '.join(mirrors.SBC_ISSUERS)}") from None


    profile = LeafProfile(
        id=f"sbc-{fqdns[0]}", subject=(("C", "US"), ("O", "fakepeer lab SBC"), ("CN", fqdns[0])),
        sans=dns(*fqdns), hash="sha256", days=days, eku=eku,
    )
    issued = {c.id: c.certificate for c in pki.certificates([*path.certificates, path.anchor])}
    tag = hashlib.sha256(repr(profile).encode()).hexdigest()[:10]
    leaf = pki.leaf(f"sbc-{fqdns[0]}-{issuer}-{tag}", profile, path.certificates[0],
                    key_id=f"sbc-{fqdns[0]}")
    return ServedChain(
        leaf=leaf.certificate, key=leaf.key,
        extra=tuple(issued[c] for c in path.certificates),
        trust_anchors=(issued[path.anchor],), names=fqdns, label=f"sbc {fqdns[0]} via {issuer}",
    )
