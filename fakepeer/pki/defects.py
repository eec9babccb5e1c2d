"""Named, composable certificate defects that scenarios ask for by name.

A defect transforms a ``LeafPlan`` (what to issue and send) before anything is signed, so
defects compose: ``expired-leaf`` + ``leaf-only`` is an expired leaf sent without its
intermediate. ``DEFECTS`` documents each one with what an OpenSSL-family verifier reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from fakepeer.errors import PkiError
from fakepeer.pki.keys import KeySpec
from fakepeer.pki.model import ChainPath, Era, LeafProfile, SanEntry, dns

CHAIN_SHAPES = ("full", "leaf-only", "reversed", "with-root", "with-extra", "both-cross-signed")


@dataclass
class LeafPlan:
    """Everything needed to issue one leaf and assemble what is sent with it."""

    era: Era
    path_name: str
    path: ChainPath
    profile: LeafProfile
    now: datetime
    validity: tuple[datetime, datetime] | None = None
    state: str = "valid"
    self_signed: bool = False
    sha1: bool = False
    expired_issuer: bool = False
    impostor_root: bool = False
    revoked: bool = False
    shape: str = "full"
    defects: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DefectInfo:
    name: str
    summary: str
    #: The OpenSSL verify error a verifier reports (``openssl verify`` numbering), if any.
    verify_error: int | None
    apply: Callable[[LeafPlan, str | None], None]
    takes_argument: bool = False
    argument_help: str = ""
    #: ``openssl verify -auth_level N`` needed to see ``verify_error`` (None: the default).
    auth_level: int | None = None


def _expired_leaf(plan: LeafPlan, _: str | None) -> None:
    plan.validity = (plan.now - timedelta(days=120), plan.now - timedelta(days=1))
    plan.state = "expired"


def _not_yet_valid(plan: LeafPlan, _: str | None) -> None:
    plan.validity = (plan.now + timedelta(days=30), plan.now + timedelta(days=200))
    plan.state = "not-yet-valid"


def _expired_intermediate(plan: LeafPlan, _: str | None) -> None:
    plan.expired_issuer = True


def _wrong_san(plan: LeafPlan, name: str | None) -> None:
    name = name or "wrong.host.fakepeer.invalid"
    plan.profile = plan.profile.but(sans=dns(name), subject=_with_cn(plan.profile, name))


def _cn_only(plan: LeafPlan, _: str | None) -> None:
    plan.profile = plan.profile.but(sans=())


def _ip_only(plan: LeafPlan, address: str | None) -> None:
    address = address or "127.0.0.1"
    plan.profile = plan.profile.but(sans=(SanEntry("ip", address),),
                                    subject=_with_cn(plan.profile, address))


def _wildcard_too_deep(plan: LeafPlan, _: str | None) -> None:
    # One label of wildcard may stand for one label only: *.microsoft.com does not cover
    # sip.pstnhub.microsoft.com. Built from the first DNS name's parent's parent.
    first = next((s.value for s in plan.profile.sans if s.kind == "dns"), "sip.example.com")
    labels = first.lstrip("*.").split(".")
    wildcard = "*." + ".".join(labels[2:] if len(labels) > 3 else labels[1:])
    plan.profile = plan.profile.but(sans=dns(wildcard), subject=_with_cn(plan.profile, wildcard))


def _self_signed(plan: LeafPlan, _: str | None) -> None:
    plan.self_signed = True


def _untrusted_root(plan: LeafPlan, _: str | None) -> None:
    plan.impostor_root = True


def _sha1(plan: LeafPlan, _: str | None) -> None:
    plan.sha1 = True


def _weak_key(plan: LeafPlan, _: str | None) -> None:
    plan.profile = plan.profile.but(key=KeySpec("RSA", 1024))


def _no_server_auth(plan: LeafPlan, _: str | None) -> None:
    plan.profile = plan.profile.but(eku=tuple(e for e in plan.profile.eku if e != "serverAuth")
                                    or ("clientAuth",))


def _no_client_auth(plan: LeafPlan, _: str | None) -> None:
    plan.profile = plan.profile.but(eku=tuple(e for e in plan.profile.eku if e != "clientAuth")
                                    or ("serverAuth",))


def _revoked(plan: LeafPlan, _: str | None) -> None:
    plan.revoked = True


def _shape(shape: str) -> Callable[[LeafPlan, str | None], None]:
    def apply(plan: LeafPlan, _: str | None) -> None:
        plan.shape = shape
    return apply


def _with_cn(profile: LeafProfile, value: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, value if k == "CN" else v) for k, v in profile.subject)


_ALL = (
    DefectInfo("expired-leaf", "the leaf expired yesterday", 10, _expired_leaf),
    DefectInfo("not-yet-valid", "the leaf becomes valid in 30 days", 9, _not_yet_valid),
    DefectInfo("expired-intermediate", "the issuing CA re-issued with dates in the past "
               "(as Azure RSA TLS Issuing CA 03 on 2026-08-25)", 10, _expired_intermediate),
    DefectInfo("wrong-san", "the leaf names another host", 62, _wrong_san, True,
               "the DNS name to put in the leaf (default wrong.host.fakepeer.invalid)"),
    DefectInfo("cn-only", "the leaf has no subjectAltName, only a CN (OpenSSL still matches "
               "the CN; strict verifiers do not)", None, _cn_only),
    DefectInfo("ip-only-san", "the leaf names only an IP address", 62, _ip_only, True,
               "the IP address (default 127.0.0.1)"),
    DefectInfo("wildcard-too-deep", "the leaf's only name is a wildcard one label too "
               "high (*.microsoft.com)", 62, _wildcard_too_deep),
    DefectInfo("self-signed-leaf", "the leaf signs itself and comes alone", 18, _self_signed),
    DefectInfo("untrusted-root", "an impostor root with the real name and another key signs "
               "the chain", 20, _untrusted_root),
    DefectInfo("rotated-root", "the leaf re-issued under another era's chain", 20,
               lambda plan, era: None, True, "the era to rotate to (e.g. microsoft-2026)"),
    DefectInfo("sha1-signature", "the leaf is signed with sha1WithRSAEncryption (RSA issuers "
               "only; cryptography cannot build it, fakepeer re-signs it)", 68, _sha1,
               auth_level=1),
    DefectInfo("weak-key", "the leaf has an RSA 1024 key", 66, _weak_key, auth_level=2),
    DefectInfo("no-server-auth", "the leaf's EKU lacks serverAuth", 26, _no_server_auth),
    DefectInfo("no-client-auth", "the leaf's EKU lacks clientAuth", 26, _no_client_auth),
    DefectInfo("revoked", "the leaf is listed in its issuer's CRL and OCSP", 23, _revoked),
    DefectInfo("leaf-only", "only the leaf is sent: the missing-intermediate case", 20,
               _shape("leaf-only")),
    DefectInfo("missing-intermediate", "alias of leaf-only", 20, _shape("leaf-only")),
    DefectInfo("reversed", "the chain is sent root-side first", None, _shape("reversed")),
    DefectInfo("with-root", "the root is sent too", None, _shape("with-root")),
    DefectInfo("with-extra", "an unrelated certificate is sent after the chain", None,
               _shape("with-extra")),
    DefectInfo("both-cross-signed", "both cross-signed versions of each intermediate are sent",
               None, _shape("both-cross-signed")),
)
DEFECTS: dict[str, DefectInfo] = {d.name: d for d in _ALL}


def parse_defect(text: str) -> tuple[DefectInfo, str | None]:
    """``name`` or ``name=argument`` -> (info, argument); errors list the known names."""
    name, eq, argument = text.partition("=")
    info = DEFECTS.get(name.strip())
    if info is None:
        raise PkiError(f"unknown defect {name!r}; known defects: {', '.join(DEFECTS)}")
    if eq and not info.takes_argument:
        raise PkiError(f"defect {name} takes no argument (got {argument!r})")
    if info.name == "rotated-root" and not argument:
        raise PkiError("defect rotated-root needs the era to rotate to: rotated-root=ERA")
    return info, (argument.strip() or None) if eq else None


def apply_defects(plan: LeafPlan, defects: list[str]) -> LeafPlan:
    plan = replace(plan, defects=list(plan.defects))
    for text in defects:
        info, argument = parse_defect(text)
        info.apply(plan, argument)
        plan.defects.append(text)
    return plan
